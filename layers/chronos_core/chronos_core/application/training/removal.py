"""Deleting training jobs with everything they left behind."""

from __future__ import annotations

from chronos_core.application.training.commands import JobCommand
from chronos_core.application.training.deps import JobRemovalDeps
from chronos_core.application.training.pipeline.keys import job_prefix
from chronos_core.application.training.queries import get_job
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger


def delete_job(deps: JobRemovalDeps, command: JobCommand) -> None:
    """Delete a finished job with its artifacts, checkpoints and FIWARE resources.
    Raises ConflictError while the job runs."""
    job = get_job(deps, command)
    if job.status.running:
        raise ConflictError(f"Training job {job.id} is still running; cancel it first")
    purge_job(deps, job)
    deps.models.reset_training_state(job.model_id, has_success=deps.jobs.has_completed(job.model_id))


def purge_model_jobs(deps: JobRemovalDeps, model_id: ModelId) -> None:
    """:func:`purge_job` for every job of the model. Raises ConflictError while one runs."""
    if deps.jobs.running_for_model(model_id) is not None:
        raise ConflictError(f"Model {model_id} has a running training job; cancel it first")
    for job_id in deps.jobs.ids_for_model(model_id):
        job = deps.jobs.get(job_id)
        if job is not None:
            purge_job(deps, job)


def purge_job(deps: JobRemovalDeps, job: TrainingJob) -> None:
    """Remove everything a job left behind, then the job itself (safe to repeat)."""
    for clean in deps.job_cleaners:
        clean(job)
    removed = deps.artifacts.delete_job(job.id)
    deps.objects.delete_prefix(job_prefix(job.id))
    deps.jobs.delete(job.id)
    logger.info("Training job deleted", extra={"job_id": job.id, "artifacts_removed": removed})
