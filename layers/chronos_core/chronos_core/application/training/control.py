"""Cancelling and retrying a training job."""

from __future__ import annotations

from chronos_core.application.training.commands import JobCommand
from chronos_core.application.training.deps import TrainingControlDeps
from chronos_core.application.training.execution import start_execution
from chronos_core.application.training.queries import get_job
from chronos_core.application.training.queue import dispatch_queue
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.training_job import (
    ExecutionRef,
    JobError,
    TrainingJob,
    TrainingStatus,
    execution_name,
)
from chronos_core.observability import logger


def cancel_job(deps: TrainingControlDeps, command: JobCommand) -> TrainingJob:
    """Stop the job's execution (which terminates a running Batch job), mark it ``cancelled`` and
    restore the model's status; a job waiting in the training queue leaves it, and a running
    one frees its slot for the next waiting job. Raises ConflictError once finished."""
    job = get_job(deps, command)
    if job.status.finished:
        raise ConflictError(f"Training job {job.id} is already {job.status.value}")
    if job.execution is not None and job.execution.arn:
        deps.workflow.stop(job.execution.arn, "Cancelled by user request")
    error = JobError(
        phase=job.phase.value if job.phase else None, error="Cancelled", cause="Cancelled by user request"
    )
    cancelled = deps.jobs.finish(job.id, TrainingStatus.CANCELLED, error=error)
    if cancelled is None:  # it finished in the meantime
        status = deps.jobs.status_of(job.id)
        raise ConflictError(f"Training job {job.id} is already {status.value if status else 'gone'}")
    deps.models.release_after_training(job.model_id, succeeded=False)
    logger.info("Training cancelled", extra={"job_id": job.id, "model_id": job.model_id})
    if not job.waiting_in_queue:
        dispatch_queue(deps)  # its slot is free
    return cancelled


def retry_job(deps: TrainingControlDeps, command: JobCommand) -> TrainingJob:
    """Resume a failed job from its checkpoints with a new execution (chunks already collected
    are skipped by the collection step). Raises ConflictError unless the job failed."""
    job = get_job(deps, command)
    if job.status != TrainingStatus.FAILED:
        raise ConflictError(f"Only failed jobs can be retried; {job.id} is {job.status.value}")
    if not deps.models.claim_for_training(job.model_id):
        raise ConflictError(f"Model {job.model_id} already has a running training job")
    attempt = (job.execution.attempt if job.execution else 1) + 1
    reopened = deps.jobs.reopen_for_retry(
        job.id, ExecutionRef(name=execution_name(job.id, attempt), attempt=attempt)
    )
    if reopened is None:
        deps.models.release_after_training(job.model_id, succeeded=False)
        raise ConflictError(f"Training job {job.id} changed state; reload it")
    return start_execution(deps, reopened)
