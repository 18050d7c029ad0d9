"""Step Train: fit, export, evaluate and store one run (on AWS Batch, or the local trainer)."""

from __future__ import annotations

from chronos_core.application.ports.pipeline import ChampionRef, TrainOptions
from chronos_core.application.training.pipeline.deps import TrainStepDeps
from chronos_core.application.training.pipeline.events import TrainEvent, TrainResult
from chronos_core.application.training.pipeline.lookup import require_job, require_model
from chronos_core.application.training.pipeline.progress import JobProgress
from chronos_core.domain.errors import TrainingCancelledError
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob, TrainingStatus
from chronos_core.observability import logger


def train(deps: TrainStepDeps, event: TrainEvent) -> TrainResult:
    """Train on the prepared dataset and record artifacts and metrics on the job; a model that
    has a champion gets it scored next to the new run (:func:`train_options`).

    A job that is no longer running is not trained; one cancelled while training stops at the
    end of the current epoch and records nothing (``trained: false`` with the reason).
    """
    job = require_job(deps.jobs, event.job_id)
    model = require_model(deps, job)
    if deps.jobs.start_training(job.id, event.batch_job_id) is None:
        return TrainResult(job_id=job.id, trained=False, reason="job is not running")
    document = deps.objects.get_json(event.dataset_key)
    points = [(ms / 1000.0, value) for ms, value in document["points"]]
    options = train_options(deps, job, model)
    try:
        result = deps.trainer.train(points, model, job.id, JobProgress(deps.jobs, job.id), options)
    except TrainingCancelledError:
        logger.info("Training stopped: the job was cancelled", extra={"job_id": job.id})
        return TrainResult(job_id=job.id, trained=False, reason="cancelled")
    deps.jobs.record_result(job.id, result)
    return TrainResult(job_id=job.id, trained=True)


def train_options(deps: TrainStepDeps, job: TrainingJob, model: Model) -> TrainOptions:
    """The champion a challenger is scored against (and may start from): the model's serving
    job, when it is another completed job with artifacts."""
    champion_id = model.champion_job_id
    if champion_id is None or champion_id == job.id:
        return TrainOptions(warm_start=False)
    champion = deps.jobs.get(JobId(champion_id))
    if champion is None or champion.status != TrainingStatus.COMPLETED or champion.artifacts is None:
        return TrainOptions(warm_start=False)
    return TrainOptions(
        champion=ChampionRef(job_id=champion.id, artifacts=champion.artifacts),
        warm_start=job.warm_start_requested,
    )
