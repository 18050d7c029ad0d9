"""Training jobs: one run of the pipeline for one model, with its progress, timings and outcome.

Status moves forward only: ``pending → collecting_data → preprocessing → queued → training →
completed``, or to ``failed`` / ``cancelled`` from any running status. A job admitted while the
concurrency limits are reached first waits ``queued`` in the training queue (``queue`` set, no
execution yet) and becomes ``pending`` when a slot frees. Every write made by a
pipeline step is conditional on the job still running, so a cancelled job is never revived by a
step that was already in flight.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.evaluation import (
    DataQuality,
    GateDecision,
    ServingChoice,
    TrainingMetrics,
    TrainingRunSummary,
)
from chronos_core.domain.forecasting import LastForecast, PredictionConfig
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ServingSummary, epoch_ms, from_epoch_ms, utcnow
from chronos_core.domain.retraining import HoldoutComparison, PromotionVerdict, QueueEntry, Trigger, WarmStart


class TrainingStatus(StrEnum):
    PENDING = "pending"
    COLLECTING_DATA = "collecting_data"
    PREPROCESSING = "preprocessing"
    QUEUED = "queued"
    TRAINING = "training"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def running(self) -> bool:
        return self in RUNNING_STATUSES

    @property
    def finished(self) -> bool:
        return not self.running


RUNNING_STATUSES = frozenset(
    {
        TrainingStatus.PENDING,
        TrainingStatus.COLLECTING_DATA,
        TrainingStatus.PREPROCESSING,
        TrainingStatus.QUEUED,
        TrainingStatus.TRAINING,
    }
)


class Phase(StrEnum):
    """Pipeline phases, in order. Timings are recorded per phase."""

    PLAN = "plan"
    COLLECT = "collect"
    PREPARE = "prepare"
    TRAIN = "train"
    FINALIZE = "finalize"


class PhaseTiming(BaseModel):
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class EpochRecord(BaseModel):
    epoch: int
    loss: float | None
    val_loss: float | None


class EpochProgress(BaseModel):
    """One finished epoch as the trainer reports it. ``epoch`` is 1-based; losses are MSE in
    scaled units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epoch: int
    epochs: int
    loss: float | None
    val_loss: float | None
    learning_rate: float | None
    elapsed_seconds: float

    def record(self) -> EpochRecord:
        return EpochRecord(epoch=self.epoch, loss=self.loss, val_loss=self.val_loss)


class Progress(BaseModel):
    """Counters the pipeline updates as it works."""

    chunks_total: int = 0
    chunks_done: int = 0
    points_expected: int = 0
    points_collected: int = 0
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    val_loss: float | None = None
    training_phase: str | None = None


class JobError(BaseModel):
    """Why a job failed: the phase it was in, the error class and a cause safe to show users."""

    phase: str | None
    error: str
    cause: str


class ExecutionRef(BaseModel):
    """The state-machine execution currently (or last) driving the job."""

    name: str
    arn: str | None = None
    attempt: int = 1
    started_at: datetime | None = None


class ChunkSpec(BaseModel):
    """One Map item: points ``offset .. offset+count-1`` of the series (oldest first), or, when
    ``date_from`` is set, every point received in ``[date_from, date_to)`` (``date_to`` None: no
    upper bound). ``offset`` names the chunk (its checkpoint) either way; ``count`` is the number
    of points expected, exact by offset, about right by time."""

    model_config = ConfigDict(frozen=True)

    offset: int = Field(ge=0)
    count: int = Field(gt=0)
    date_from: datetime | None = None
    date_to: datetime | None = None

    @property
    def by_time(self) -> bool:
        return self.date_from is not None


class TimeWindow(BaseModel):
    """The reception times of the first and the last point of a job's window (both included)."""

    model_config = ConfigDict(frozen=True)

    first: datetime
    last: datetime


class CollectionPlan(BaseModel):
    """How the job's window is collected: chunks of ``chunk_points`` (kept across retries, so
    checkpoints stay valid), ``chunks_total`` Map items, ``points_expected`` in all; with a
    ``time_window`` the chunks are equal slices of it in time (:func:`slice_by_time`)."""

    model_config = ConfigDict(frozen=True)

    chunk_points: int = Field(gt=0)
    chunks_total: int = Field(ge=0)
    points_expected: int = Field(ge=0)
    time_window: TimeWindow | None = None


class DatasetSummary(BaseModel):
    """What the preparation step found: the data-quality report and the sampling interval."""

    model_config = ConfigDict(frozen=True)

    data_quality: DataQuality
    sampling_interval_seconds: float = Field(gt=0)


class TrainingJob(BaseModel):
    """A training job as stored (ids are UUID strings, datetimes UTC)."""

    model_config = ConfigDict(extra="ignore")

    id: JobId = Field(default_factory=lambda: JobId(str(uuid.uuid4())))
    model_id: ModelId
    fiware_service: str
    status: TrainingStatus = TrainingStatus.PENDING
    phase: Phase | None = None
    last_n: int
    points_available: int
    window_offset: int
    chunk_points: int | None = None
    time_window: TimeWindow | None = None
    progress: Progress = Field(default_factory=Progress)
    history: list[EpochRecord] = Field(default_factory=list)
    phases: dict[str, PhaseTiming] = Field(default_factory=dict)
    data_quality: DataQuality | None = None
    sampling_interval_seconds: float | None = None
    metrics: TrainingMetrics | None = None
    serving: ServingChoice | None = None
    selection: GateDecision | None = None
    artifacts: ArtifactRefs | None = None
    result: TrainingRunSummary | None = None
    error: JobError | None = None
    execution: ExecutionRef | None = None
    batch_job_id: str | None = None
    prediction_config: PredictionConfig | None = None
    next_prediction_at: datetime | None = None
    last_forecast: LastForecast | None = None
    #: Why the job runs: every trigger (cron, rule, manual) that asked for it, the first first.
    triggers: list[Trigger] = Field(default_factory=list)
    #: Its place in the training queue while it waits for a slot (``queued`` before ``pending``).
    queue: QueueEntry | None = None
    #: Retraining: the training window by time, when the policy names one (seconds).
    window_seconds: float | None = None
    #: Retraining: start from the champion's weights.
    warm_start_requested: bool = False
    #: The champion scored next to this job on the same holdout, and whether it was promoted.
    comparison: HoldoutComparison | None = None
    promotion: PromotionVerdict | None = None
    warm_start: WarmStart | None = None
    #: The model's version this job became when it completed (1, 2, ...).
    model_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def trained_artifacts(self) -> ArtifactRefs:
        """The artifacts of a completed job. Raises ConflictError when it has no trained model."""
        if self.status != TrainingStatus.COMPLETED or self.artifacts is None:
            raise ConflictError(
                f"Training job {self.id} has no trained model (status {self.status.value})",
                details=[{"field": "status", "message": "the job must be completed with its artifacts"}],
            )
        return self.artifacts

    def chunks(self) -> list[ChunkSpec]:
        """The Map items of the job's window (empty until the collection is planned)."""
        if self.chunk_points is None:
            return []
        chunks = plan_chunks(self.window_offset, self.last_n, self.chunk_points)
        return chunks if self.time_window is None else slice_by_time(chunks, self.time_window)

    def serving_summary(self) -> ServingSummary | None:
        """What the model shows about this job once it is its latest success."""
        if self.serving is None:
            return None
        return ServingSummary(
            training_job_id=self.id,
            serving=self.serving,
            rule=self.selection.rule if self.selection else None,
            validation_scores=(
                {k: v.model_dump() for k, v in self.selection.validation_scores.items()}
                if self.selection
                else None
            ),
            test_coverage=self.selection.test_coverage if self.selection else None,
        )

    @property
    def waiting_in_queue(self) -> bool:
        """Queued for a training slot (not yet admitted; no execution started)."""
        return self.status == TrainingStatus.QUEUED and self.queue is not None and self.queue.waiting

    @property
    def forecasts_enabled(self) -> bool:
        return self.prediction_config is not None and self.prediction_config.enabled


def plan_chunks(window_offset: int, count: int, chunk_points: int) -> list[ChunkSpec]:
    """Split ``count`` points starting at ``window_offset`` into Map items of ``chunk_points``."""
    if count <= 0:
        return []
    return [
        ChunkSpec(offset=start, count=min(chunk_points, window_offset + count - start))
        for start in range(window_offset, window_offset + count, chunk_points)
    ]


def slice_by_time(chunks: list[ChunkSpec], window: TimeWindow) -> list[ChunkSpec]:
    """The same chunks as equal, adjacent slices in time of ``window``, whole milliseconds (the
    resolution of reception times): together they hold every point of the window exactly once,
    including points that share a time. A window shorter than the chunks leaves the later slices
    empty."""
    if not chunks:
        return []
    first = epoch_ms(window.first)
    span = max(0, epoch_ms(window.last) - first) + 1
    bounds = [first + (i * span) // len(chunks) for i in range(len(chunks) + 1)]
    return [
        chunk.model_copy(
            update={"date_from": from_epoch_ms(bounds[i]), "date_to": from_epoch_ms(bounds[i + 1])}
        )
        for i, chunk in enumerate(chunks)
    ]


def pages_in_flight_per_chunk(ceiling: int, chunks: int, concurrency: int) -> int:
    """Each chunk's share of the endpoint's ``ceiling`` of pages in flight when up to
    ``concurrency`` chunks collect at once (at least one)."""
    running = max(1, min(chunks, concurrency))
    return max(1, ceiling // running)


MIN_CHUNK_POINTS = 1000


def choose_chunk_points(count: int, concurrency: int, max_points: int) -> int:
    """Chunk size for ``count`` points: about two chunks per concurrent collector, so the Map
    stays busy, but never below :data:`MIN_CHUNK_POINTS` (per-chunk overhead) nor above
    ``max_points`` (one chunk must fit a Lambda run and an S3 object comfortably)."""
    wanted = math.ceil(count / max(1, 2 * concurrency)) if count > 0 else MIN_CHUNK_POINTS
    return max(min(wanted, max_points), min(MIN_CHUNK_POINTS, max_points))


def execution_name(run_id: str, attempt: int) -> str:
    """The first execution is named after the job (or scan: ``run_id``), so a repeated start is
    refused by Step Functions; retries add ``-r<attempt>``."""
    return run_id if attempt <= 1 else f"{run_id}-r{attempt}"
