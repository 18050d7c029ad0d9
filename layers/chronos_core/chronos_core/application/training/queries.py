"""Reading training jobs as the caller may see them."""

from __future__ import annotations

from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.ports.models import Page
from chronos_core.application.training.commands import JobCommand, ListJobs
from chronos_core.application.training.deps import JobQueryDeps
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob


def job_and_model(deps: JobQueryDeps, command: JobCommand) -> tuple[TrainingJob, Model]:
    """The job and its model. Raises NotFoundError (also for another tenant's)."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    job = deps.jobs.get(command.job_id)
    if job is None or job.model_id != command.model_id:
        raise NotFoundError(f"Training job {command.job_id} not found for model {command.model_id}")
    return job, model


def get_job(deps: JobQueryDeps, command: JobCommand) -> TrainingJob:
    """The job. Raises NotFoundError (also for another tenant's)."""
    return job_and_model(deps, command)[0]


def list_jobs(deps: JobQueryDeps, command: ListJobs) -> Page[TrainingJob]:
    """The model's jobs, newest first."""
    get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    return deps.jobs.list_for_model(command.model_id, command.skip, command.limit)
