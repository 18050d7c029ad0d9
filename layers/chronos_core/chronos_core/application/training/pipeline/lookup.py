"""The job (and model) a step works on."""

from __future__ import annotations

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.training_jobs import JobLookup
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob


def require_job(jobs: JobLookup, job_id: JobId) -> TrainingJob:
    job = jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"Training job {job_id} not found")
    return job


def require_model(deps: ModelsDeps, job: TrainingJob) -> Model:
    model = deps.models.get(job.model_id)
    if model is None:
        raise NotFoundError(f"Model {job.model_id} of training job {job.id} not found")
    return model
