"""Use cases for training jobs as the API sees them: start, read, cancel, retry and delete.

The pipeline itself (plan, collect, prepare, train, finalize) lives in
:mod:`chronos_core.application.training_pipeline`; these functions admit work, start or stop
state-machine executions and clean up.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.application.models import get_model
from chronos_core.application.ports import (
    ModelRepository,
    ObjectStore,
    Page,
    SeriesSource,
    TrainingJobRepository,
    Workflow,
)
from chronos_core.application.ports_ml import ArtifactStore
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import (
    ChronosError,
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    ValidationError,
)
from chronos_core.domain.model import Model, ModelStatus, utcnow
from chronos_core.domain.training import (
    ExecutionRef,
    JobError,
    TrainingJob,
    TrainingStatus,
    execution_name,
)
from chronos_core.ml.config import DenseLayerConfig, RnnLayerConfig, TrainingConfig
from chronos_core.ml.preprocessing import minimum_points
from chronos_core.observability import logger

MAX_TRAINING_POINTS = 1_000_000

#: Called before a job is deleted to remove what it provisioned outside Chronos (FIWARE).
JobResourceCleaner = Callable[[TrainingJob], None]


class TrainingRequest(BaseModel):
    """Body of ``POST /models/{id}/training-jobs``."""

    model_config = ConfigDict(extra="forbid")

    last_n: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TRAINING_POINTS,
        description="Train on the most recent N points; omitted means every stored point.",
    )


def training_config(model: Model) -> TrainingConfig:
    """The forecasting core's configuration for ``model``."""
    hp = model.hyperparameters
    return TrainingConfig(
        model_type=model.model_type.value,
        rnn_layers=[RnnLayerConfig(**layer.model_dump()) for layer in hp.rnn_layers],
        dense_layers=[DenseLayerConfig(**layer.model_dump()) for layer in hp.dense_layers],
        lookback_window=hp.lookback_window,
        forecast_horizon=hp.forecast_horizon,
        batch_size=hp.batch_size,
        epochs=hp.epochs,
        learning_rate=hp.learning_rate,
        validation_ratio=hp.validation_ratio,
        test_ratio=hp.test_ratio,
        early_stopping_patience=hp.early_stopping_patience,
    )


def start_training(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    series: SeriesSource,
    workflow: Workflow,
    principal: Principal,
    model_id: str,
    request: TrainingRequest,
) -> TrainingJob:
    """Admit a training run and start its state-machine execution (named after the job).

    Checks, in order: the model exists (for this caller) and is not training; STH-Comet answers;
    it holds data; enough points for one window in every split; ``last_n`` within what exists.

    Raises:
        NotFoundError, ConflictError (already training), ValidationError (data checks, naming
        the field), UpstreamError / DependencyUnavailableError (STH-Comet or Step Functions).
    """
    model = get_model(models, principal, model_id)
    if model.status == ModelStatus.TRAINING or jobs.running_for_model(model_id) is not None:
        raise ConflictError(f"Model {model_id} already has a running training job")
    config = training_config(model)
    required = minimum_points(config)
    total = series.count(model.source)
    if total <= 0:
        raise ValidationError(
            "STH-Comet holds no data for this model's entity attribute",
            details=[{"field": "feature", "message": f"no points stored for {model.source.entity_id}"}],
        )
    last_n = request.last_n if request.last_n is not None else min(total, MAX_TRAINING_POINTS)
    if last_n > total:
        raise ValidationError(
            f"Requested {last_n} points but only {total} are stored",
            details=[{"field": "last_n", "message": f"at most {total}"}],
        )
    if last_n < required:
        raise ValidationError(
            f"Training needs at least {required} points for lookback {config.lookback_window}, "
            f"horizon {config.forecast_horizon} and the split ratios; {last_n} would be used",
            details=[{"field": "last_n", "message": f"at least {required}", "available": total}],
        )
    if not models.claim_for_training(model_id):
        raise ConflictError(f"Model {model_id} already has a running training job")
    job = TrainingJob(
        model_id=model_id,
        fiware_service=model.source.fiware_service,
        last_n=last_n,
        points_available=total,
        window_offset=total - last_n,
    )
    job.execution = ExecutionRef(name=execution_name(job.id, 1), attempt=1)
    try:
        jobs.add(job)
    except Exception:
        models.release_after_training(model_id, succeeded=False)
        raise
    return _start_execution(jobs, models, workflow, job)


def _start_execution(
    jobs: TrainingJobRepository, models: ModelRepository, workflow: Workflow, job: TrainingJob
) -> TrainingJob:
    """Start the job's execution. If it cannot start, the model is released and then the job
    recorded ``failed`` (the order :func:`~training_pipeline.record_failure` keeps too)."""
    assert job.execution is not None
    try:
        arn = workflow.start(job.execution.name, {"job_id": job.id})
    except Exception as exc:
        models.release_after_training(job.model_id, succeeded=False)
        cause = exc.message if isinstance(exc, ChronosError) else "The training workflow could not be started"
        jobs.finish(
            job.id, TrainingStatus.FAILED, error=JobError(phase=None, error=type(exc).__name__, cause=cause)
        )
        if isinstance(exc, ChronosError):
            raise
        raise DependencyUnavailableError("The training workflow could not be started; retry later") from exc
    started = jobs.update_running(job.id, {"execution.arn": arn, "execution.started_at": utcnow()})
    logger.info("Training started", extra={"job_id": job.id, "model_id": job.model_id, "execution": arn})
    return started or job


def job_and_model(
    models: ModelRepository, jobs: TrainingJobRepository, principal: Principal, model_id: str, job_id: str
) -> tuple[TrainingJob, Model]:
    """The job ``job_id`` of model ``model_id`` and the model, as the caller may see them.
    Raises NotFoundError (also for other tenants)."""
    model = get_model(models, principal, model_id)
    job = jobs.get(job_id)
    if job is None or job.model_id != model_id:
        raise NotFoundError(f"Training job {job_id} not found for model {model_id}")
    return job, model


def get_job(
    models: ModelRepository, jobs: TrainingJobRepository, principal: Principal, model_id: str, job_id: str
) -> TrainingJob:
    """The job ``job_id`` of model ``model_id``. Raises NotFoundError (also for other tenants)."""
    return job_and_model(models, jobs, principal, model_id, job_id)[0]


def list_jobs(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    principal: Principal,
    model_id: str,
    skip: int,
    limit: int,
) -> Page[TrainingJob]:
    """The model's jobs, newest first."""
    get_model(models, principal, model_id)
    return jobs.list_for_model(model_id, skip, limit)


def cancel_job(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    workflow: Workflow,
    principal: Principal,
    model_id: str,
    job_id: str,
) -> TrainingJob:
    """Stop the job's execution (which terminates a running Batch job), mark it ``cancelled`` and
    restore the model's status. Raises ConflictError when the job has already finished."""
    job = get_job(models, jobs, principal, model_id, job_id)
    if job.status.finished:
        raise ConflictError(f"Training job {job_id} is already {job.status.value}")
    if job.execution is not None and job.execution.arn:
        workflow.stop(job.execution.arn, "Cancelled by user request")
    cancelled = jobs.finish(
        job_id,
        TrainingStatus.CANCELLED,
        error=JobError(
            phase=job.phase.value if job.phase else None, error="Cancelled", cause="Cancelled by user request"
        ),
    )
    if cancelled is None:  # it finished in the meantime
        current = jobs.get(job_id)
        raise ConflictError(f"Training job {job_id} is already {current.status.value if current else 'gone'}")
    models.release_after_training(model_id, succeeded=False)
    logger.info("Training cancelled", extra={"job_id": job_id, "model_id": model_id})
    return cancelled


def retry_job(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    workflow: Workflow,
    principal: Principal,
    model_id: str,
    job_id: str,
) -> TrainingJob:
    """Resume a failed job from its checkpoints with a new execution (chunks already collected
    are skipped by the collection step). Raises ConflictError unless the job failed."""
    job = get_job(models, jobs, principal, model_id, job_id)
    if job.status != TrainingStatus.FAILED:
        raise ConflictError(f"Only failed jobs can be retried; {job_id} is {job.status.value}")
    if not models.claim_for_training(model_id):
        raise ConflictError(f"Model {model_id} already has a running training job")
    attempt = (job.execution.attempt if job.execution else 1) + 1
    execution = ExecutionRef(name=execution_name(job_id, attempt), attempt=attempt)
    reopened = jobs.reopen_for_retry(job_id, execution.model_dump())
    if reopened is None:
        models.release_after_training(model_id, succeeded=False)
        raise ConflictError(f"Training job {job_id} changed state; reload it")
    return _start_execution(jobs, models, workflow, reopened)


def delete_job(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    artifacts: ArtifactStore,
    objects: ObjectStore,
    cleaners: list[JobResourceCleaner],
    principal: Principal,
    model_id: str,
    job_id: str,
) -> None:
    """Delete a finished job with its artifacts, checkpoints and FIWARE resources.
    Raises ConflictError while the job runs."""
    job = get_job(models, jobs, principal, model_id, job_id)
    if job.status.running:
        raise ConflictError(f"Training job {job_id} is still running; cancel it first")
    purge_job(jobs, artifacts, objects, cleaners, job)
    models.reset_training_state(model_id, has_success=jobs.has_completed(model_id))


def purge_model_jobs(
    jobs: TrainingJobRepository,
    artifacts: ArtifactStore,
    objects: ObjectStore,
    cleaners: list[JobResourceCleaner],
    model_id: str,
) -> None:
    """:func:`purge_job` for every job of the model. Raises ConflictError while one runs."""
    if jobs.running_for_model(model_id) is not None:
        raise ConflictError(f"Model {model_id} has a running training job; cancel it first")
    for job_id in jobs.ids_for_model(model_id):
        job = jobs.get(job_id)
        if job is not None:
            purge_job(jobs, artifacts, objects, cleaners, job)


def purge_job(
    jobs: TrainingJobRepository,
    artifacts: ArtifactStore,
    objects: ObjectStore,
    cleaners: list[JobResourceCleaner],
    job: TrainingJob,
) -> None:
    """Remove everything a job left behind, then the job itself (safe to repeat)."""
    for clean in cleaners:
        clean(job)
    removed = artifacts.delete_job(job.id)
    objects.delete_prefix(f"jobs/{job.id}/")
    jobs.delete(job.id)
    logger.info("Training job deleted", extra={"job_id": job.id, "artifacts_removed": removed})
