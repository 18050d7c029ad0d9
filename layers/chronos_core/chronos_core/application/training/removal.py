"""Deleting training jobs with everything they left behind."""

from __future__ import annotations

from chronos_core.application.training.commands import JobCommand
from chronos_core.application.training.deps import JobRemovalDeps
from chronos_core.application.training.pipeline.keys import job_prefix
from chronos_core.application.training.queries import get_job
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.ids import JobId, ModelId
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
    replace_removed_champion(deps, job)


def replace_removed_champion(deps: JobRemovalDeps, removed: TrainingJob) -> None:
    """When the deleted job was the champion, the previous champion that still exists serves
    again, else the latest completed job (else none: the model has no completed job left)."""
    model = deps.models.get(removed.model_id)
    if model is None or model.champion_job_id != removed.id:
        return
    previous = [p for p in model.previous_champions if p != removed.id]
    while previous:
        candidate = deps.jobs.get(JobId(previous.pop()))
        if candidate is not None and candidate.serving_summary() is not None:
            break
    else:
        candidate = deps.jobs.latest_completed(model.id)
    summary = candidate.serving_summary() if candidate else None
    deps.models.set_champion(
        model.id, summary, previous_champions=previous, pinned=False, expected=removed.id
    )
    logger.info(
        "Champion removed; replaced",
        extra={"job_id": removed.id, "champion": candidate.id if candidate else None},
    )


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
