"""Steps Finalize and RecordFailure: the job turns terminal and the model is released.

In both, the model is released *before* the job turns terminal: whoever sees a finished job also
sees the model out of ``training``. A second start meanwhile is refused (the job still runs).
"""

from __future__ import annotations

from chronos_core.application.retraining.promotion import settle_challenger
from chronos_core.application.training.pipeline.deps import CompletionDeps
from chronos_core.application.training.pipeline.events import (
    FailureEvent,
    FailureResult,
    FinalizeResult,
    JobEvent,
)
from chronos_core.application.training.pipeline.lookup import require_job
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.training_job import JobError, TrainingStatus
from chronos_core.observability import logger


def finalize(deps: CompletionDeps, event: JobEvent) -> FinalizeResult:
    """Decide champion or challenger (``retraining.promotion.settle_challenger``), then mark the
    job ``completed`` (it must have its artifacts) and the model ``trained``."""
    job = require_job(deps.jobs, event.job_id)
    if job.status == TrainingStatus.COMPLETED:
        return FinalizeResult(job_id=job.id, status=job.status.value)
    if job.artifacts is None:
        raise NotFoundError(f"Training job {job.id} has no artifacts; training did not finish")
    if job.status.running:
        deps.jobs.start_finalizing(job.id)
        if job.promotion is None:  # a repeated Finalize keeps the first decision
            settle_challenger(deps, job)
        deps.models.release_after_training(job.model_id, succeeded=True)
        if deps.jobs.finish(job.id, TrainingStatus.COMPLETED) is not None:
            logger.info("Training completed", extra={"job_id": job.id, "model_id": job.model_id})
    status = deps.jobs.status_of(job.id)
    return FinalizeResult(job_id=job.id, status=status.value if status else "deleted")


def record_failure(deps: CompletionDeps, event: FailureEvent) -> FailureResult:
    """The Catch target of every state (and the trainer's own last word): record phase, error
    and cause, and restore the model. A job that is no longer running is left as it is."""
    job = deps.jobs.get(event.job_id)
    if job is None or job.status.finished:
        return FailureResult(job_id=event.job_id, recorded=False)
    deps.models.release_after_training(job.model_id, succeeded=False)
    error = JobError(phase=job.phase.value if job.phase else None, error=event.error, cause=event.cause)
    failed = deps.jobs.finish(job.id, TrainingStatus.FAILED, error=error)
    if failed is not None:
        logger.warning(
            "Training failed", extra={"job_id": job.id, "error": event.error, "phase": error.phase}
        )
    return FailureResult(job_id=job.id, recorded=failed is not None)
