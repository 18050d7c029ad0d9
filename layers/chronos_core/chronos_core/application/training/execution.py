"""Starting and stopping the state-machine execution behind a job."""

from __future__ import annotations

from chronos_core.application.training.deps import ExecutionDeps
from chronos_core.domain.errors import ChronosError, DependencyUnavailableError
from chronos_core.domain.model import utcnow
from chronos_core.domain.training_job import JobError, TrainingJob, TrainingStatus
from chronos_core.observability import logger


def start_execution(deps: ExecutionDeps, job: TrainingJob) -> TrainingJob:
    """Start the job's execution. If it cannot start, the model is released and then the job
    recorded ``failed`` (the order the pipeline's failure step keeps too), and the error raised
    (DependencyUnavailableError for anything that is not a ChronosError)."""
    assert job.execution is not None
    try:
        arn = deps.workflow.start(job.execution.name, {"job_id": job.id})
    except Exception as exc:
        deps.models.release_after_training(job.model_id, succeeded=False)
        cause = exc.message if isinstance(exc, ChronosError) else "The training workflow could not be started"
        deps.jobs.finish(
            job.id, TrainingStatus.FAILED, error=JobError(phase=None, error=type(exc).__name__, cause=cause)
        )
        if isinstance(exc, ChronosError):
            raise
        raise DependencyUnavailableError("The training workflow could not be started; retry later") from exc
    started = deps.jobs.attach_execution(job.id, arn, utcnow())
    logger.info("Training started", extra={"job_id": job.id, "model_id": job.model_id, "execution": arn})
    return started or job
