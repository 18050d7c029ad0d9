"""The training pipeline's steps, one per state of ``statemachines/training.asl.json``.

Every step takes ids (and S3 keys), never bulk data, and may run twice with the same input:
checkpoints are written once per chunk and skipped when present, counters are idempotent, and
every job update is conditional on the job still running (a cancelled job stays cancelled).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from chronos_core.application.ports import ModelRepository, ObjectStore, SeriesSource, TrainingJobRepository
from chronos_core.application.ports_ml import ArtifactStore, EpochProgress
from chronos_core.application.training import training_config
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.model import Model
from chronos_core.domain.training import (
    RUNNING_STATUSES,
    ChunkSpec,
    EpochRecord,
    JobError,
    Phase,
    TrainingJob,
    TrainingStatus,
    choose_chunk_points,
    plan_chunks,
)
from chronos_core.ml.config import JobIdentity
from chronos_core.ml.errors import TrainingCancelledError
from chronos_core.ml.preprocessing import prepare_dataset
from chronos_core.observability import logger

MAX_CAUSE_LENGTH = 1000


def chunk_key(job_id: str, offset: int) -> str:
    return f"jobs/{job_id}/chunks/{offset:012d}.json"


def dataset_key(job_id: str) -> str:
    return f"jobs/{job_id}/dataset.json"


class JobEvent(BaseModel):
    """Input of the plan, prepare and finalize steps."""

    job_id: str = Field(min_length=1, max_length=64)


class ChunkEvent(JobEvent):
    """One Map item."""

    offset: int = Field(ge=0)
    count: int = Field(gt=0)


class TrainEvent(JobEvent):
    dataset_key: str = Field(min_length=1)


class FailureEvent(JobEvent):
    """The Catch payload: Step Functions' ``Error`` and ``Cause``."""

    failure: dict[str, Any] = Field(default_factory=dict)

    @property
    def error(self) -> str:
        return str(self.failure.get("Error") or "Error")

    @property
    def cause(self) -> str:
        return str(self.failure.get("Cause") or "")


class PlanResult(BaseModel):
    job_id: str
    chunks: list[ChunkSpec]
    running: bool


class ChunkResult(BaseModel):
    job_id: str
    offset: int
    points: int
    skipped: bool


class PrepareResult(BaseModel):
    job_id: str
    dataset_key: str
    points: int


def _job(jobs: TrainingJobRepository, job_id: str) -> TrainingJob:
    job = jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"Training job {job_id} not found")
    return job


def _job_and_model(
    jobs: TrainingJobRepository, models: ModelRepository, job_id: str
) -> tuple[TrainingJob, Model]:
    job = _job(jobs, job_id)
    model = models.get(job.model_id)
    if model is None:
        raise NotFoundError(f"Model {job.model_id} of training job {job_id} not found")
    return job, model


def plan(jobs: TrainingJobRepository, job_id: str, concurrency: int, max_chunk_points: int) -> PlanResult:
    """Split the job's window of points into Map items and start the collection phase. A retried
    job keeps the chunking of its first plan, so its checkpoints stay valid."""
    job = _job(jobs, job_id)
    chunk_points = job.chunk_points or choose_chunk_points(job.last_n, concurrency, max_chunk_points)
    chunks = plan_chunks(job.window_offset, job.last_n, chunk_points)
    updated = jobs.enter_phase(
        job_id,
        Phase.COLLECT,
        TrainingStatus.COLLECTING_DATA,
        **{
            "progress.chunks_total": len(chunks),
            "progress.points_expected": job.last_n,
            "chunk_points": chunk_points,
        },
    )
    logger.info("Planned collection", extra={"job_id": job_id, "chunks": len(chunks)})
    return PlanResult(job_id=job_id, chunks=chunks if updated else [], running=updated is not None)


def collect_chunk(
    jobs: TrainingJobRepository,
    models: ModelRepository,
    series: SeriesSource,
    objects: ObjectStore,
    job_id: str,
    chunk: ChunkSpec,
) -> ChunkResult:
    """Page one chunk out of STH-Comet into its S3 checkpoint; skip it when the checkpoint exists."""
    job, model = _job_and_model(jobs, models, job_id)
    key = chunk_key(job_id, chunk.offset)
    if job.status not in RUNNING_STATUSES:
        return ChunkResult(job_id=job_id, offset=chunk.offset, points=0, skipped=True)
    if objects.exists(key):
        done = jobs.completed_chunks(job_id)
        points = done.get(chunk.offset)
        if points is None:
            points = len(objects.get_json(key)["points"])
            jobs.record_chunk(job_id, chunk.offset, points)
        logger.info("Chunk already collected", extra={"job_id": job_id, "offset": chunk.offset})
        return ChunkResult(job_id=job_id, offset=chunk.offset, points=points, skipped=True)
    fetched = series.fetch_range(model.source, chunk.offset, chunk.count)
    objects.put_json(
        key,
        {
            "offset": chunk.offset,
            "requested": chunk.count,
            "points": [[_epoch_ms(t), v] for t, v in fetched],
        },
    )
    jobs.record_chunk(job_id, chunk.offset, len(fetched))
    logger.info("Chunk collected", extra={"job_id": job_id, "offset": chunk.offset, "points": len(fetched)})
    return ChunkResult(job_id=job_id, offset=chunk.offset, points=len(fetched), skipped=False)


def prepare(
    jobs: TrainingJobRepository, models: ModelRepository, objects: ObjectStore, job_id: str
) -> PrepareResult:
    """Merge the checkpoints in offset order, check the data (quality report, enough points) and
    write the dataset; the job then waits in ``queued`` for the trainer."""
    job, model = _job_and_model(jobs, models, job_id)
    jobs.leave_phase(job_id, Phase.COLLECT)
    jobs.enter_phase(job_id, Phase.PREPARE, TrainingStatus.PREPROCESSING)
    if job.chunk_points is None:
        raise NotFoundError(f"Training job {job_id} was never planned")
    points: list[list[Any]] = []
    for chunk in plan_chunks(job.window_offset, job.last_n, job.chunk_points):
        points.extend(objects.get_json(chunk_key(job_id, chunk.offset))["points"])
    prepared = prepare_dataset(
        [(ms / 1000.0, value) for ms, value in points], training_config(model), feature=model.source.feature
    )
    key = dataset_key(job_id)
    objects.put_json(key, {"job_id": job_id, "feature": model.source.feature, "points": points})
    quality = prepared.quality.model_dump(mode="json")
    jobs.leave_phase(
        job_id,
        Phase.PREPARE,
        status=TrainingStatus.QUEUED.value,
        data_quality=quality,
        sampling_interval_seconds=float(prepared.series.interval),
    )
    logger.info("Dataset prepared", extra={"job_id": job_id, "points": len(points), **quality})
    return PrepareResult(job_id=job_id, dataset_key=key, points=len(points))


class JobProgress:
    """Progress reporter that writes epochs to the job and stops the fit once it is cancelled."""

    def __init__(self, jobs: TrainingJobRepository, job_id: str) -> None:
        self._jobs = jobs
        self._job_id = job_id

    def phase(self, name: str) -> None:
        self._jobs.record_training_phase(self._job_id, name)

    def epoch(self, progress: EpochProgress) -> None:
        self._jobs.record_epoch(
            self._job_id,
            EpochRecord(epoch=progress.epoch, loss=progress.loss, val_loss=progress.val_loss),
            progress.epochs,
        )

    def should_stop(self) -> bool:
        status = self._jobs.status_of(self._job_id)
        return status is None or status not in RUNNING_STATUSES


def train(
    jobs: TrainingJobRepository,
    models: ModelRepository,
    objects: ObjectStore,
    artifacts: ArtifactStore,
    job_id: str,
    dataset: str,
    batch_job_id: str | None = None,
) -> dict[str, Any]:
    """Train on the prepared dataset and store artifacts and metrics on the job.

    The same function runs in the AWS Batch container and, locally, in a Lambda. A job cancelled
    while training stops at the end of the current epoch and writes nothing.
    """
    from chronos_core.ml.pipeline import run_training_job  # heavy: numpy + TensorFlow

    job, model = _job_and_model(jobs, models, job_id)
    started = jobs.enter_phase(
        job_id,
        Phase.TRAIN,
        TrainingStatus.TRAINING,
        **({"batch_job_id": batch_job_id} if batch_job_id else {}),
    )
    if started is None:
        return {"job_id": job_id, "trained": False, "reason": "job is not running"}
    document = objects.get_json(dataset)
    points = [(ms / 1000.0, value) for ms, value in document["points"]]
    identity = JobIdentity(model_id=model.id, training_job_id=job_id, feature=model.source.feature)
    try:
        outcome = run_training_job(
            points, training_config(model), identity, artifacts, JobProgress(jobs, job_id)
        )
    except TrainingCancelledError:
        logger.info("Training stopped: the job was cancelled", extra={"job_id": job_id})
        return {"job_id": job_id, "trained": False, "reason": "cancelled"}
    summary = json.loads(outcome.model_dump_json())
    # The interval half-widths (a matrix) stay in the metadata artifact: the job keeps the
    # decision, its scores and the coverage (nested arrays are not portable across MongoDB
    # implementations, FerretDB v1 rejects them).
    selection = {k: v for k, v in summary["selection"].items() if k != "intervals"}
    jobs.leave_phase(
        job_id,
        Phase.TRAIN,
        artifacts=summary["artifacts"],
        serving=summary["serving"],
        selection=selection,
        metrics={
            "test": summary["test_metrics"],
            "served": selection.get("test_metrics"),
            "test_coverage": selection.get("test_coverage"),
            "baselines": summary["baselines"],
        },
        result={
            "parity_max_abs_diff": summary["parity_max_abs_diff"],
            "durations": summary["durations"],
            "lookback_window": summary["lookback_window"],
            "forecast_horizon": summary["forecast_horizon"],
        },
        sampling_interval_seconds=summary["sampling_interval_seconds"],
        data_quality=summary["data_quality"],
    )
    return {"job_id": job_id, "trained": True}


def finalize(jobs: TrainingJobRepository, models: ModelRepository, job_id: str) -> dict[str, Any]:
    """Mark the job ``completed`` (it must have its artifacts) and the model ``trained``."""
    job = _job(jobs, job_id)
    if job.status == TrainingStatus.COMPLETED:
        return {"job_id": job_id, "status": job.status.value}
    if not job.artifacts:
        raise NotFoundError(f"Training job {job_id} has no artifacts; training did not finish")
    if job.status.running:
        jobs.enter_phase(job_id, Phase.FINALIZE)
        # The model is released before the job turns terminal: whoever sees a completed job also
        # sees a trained model. A second start meanwhile is refused (the job is still running).
        models.release_after_training(job.model_id, succeeded=True, serving=serving_summary(job))
        if jobs.finish(job_id, TrainingStatus.COMPLETED) is not None:
            logger.info("Training completed", extra={"job_id": job_id, "model_id": job.model_id})
    current = jobs.get(job_id)
    return {"job_id": job_id, "status": current.status.value if current else "deleted"}


def serving_summary(job: TrainingJob) -> dict[str, Any] | None:
    """What the model shows about its latest trained job: which forecast is served and why."""
    if job.serving is None:
        return None
    selection = job.selection or {}
    return {
        "training_job_id": job.id,
        "serving": job.serving,
        "rule": selection.get("rule"),
        "validation_scores": selection.get("validation_scores"),
        "test_coverage": selection.get("test_coverage"),
    }


def record_failure(
    jobs: TrainingJobRepository, models: ModelRepository, job_id: str, error: str, cause: str
) -> dict[str, Any]:
    """The Catch target of every state: record phase, error and cause, and restore the model."""
    job = jobs.get(job_id)
    if job is None or not job.status.running:
        return {"job_id": job_id, "recorded": False}
    # Released before the job turns terminal: whoever sees a failed job also sees the model back
    # in draft (or trained). A second start meanwhile is refused (the job is still running).
    models.release_after_training(job.model_id, succeeded=False)
    failed = jobs.finish(
        job_id,
        TrainingStatus.FAILED,
        error=JobError(
            phase=job.phase.value if job.phase else None, error=error or "Error", cause=readable_cause(cause)
        ),
    )
    if failed is not None:
        logger.warning(
            "Training failed",
            extra={"job_id": job_id, "error": error, "phase": failed.error and failed.error.phase},
        )
    return {"job_id": job_id, "recorded": failed is not None}


def readable_cause(cause: str) -> str:
    """Step Functions passes a Lambda error as a JSON ``Cause``; keep its message only."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage") or parsed.get("StatusReason") or parsed.get("message")
        if isinstance(message, str):
            cause = message
    return (cause or "").strip()[:MAX_CAUSE_LENGTH]


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)
