"""Training jobs: one run of the pipeline for one model, with its progress, timings and outcome.

Status moves forward only: ``pending → collecting_data → preprocessing → queued → training →
completed``, or to ``failed`` / ``cancelled`` from any running status. Every write made by a
pipeline step is conditional on the job still running, so a cancelled job is never revived by a
step that was already in flight.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.model import utcnow


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
    """One Map item: points ``offset .. offset+count-1`` of the series (oldest first)."""

    model_config = ConfigDict(frozen=True)

    offset: int = Field(ge=0)
    count: int = Field(gt=0)


class TrainingJob(BaseModel):
    """A training job as stored in ``training_jobs`` (ids are UUID strings, datetimes UTC)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    model_id: str
    fiware_service: str
    status: TrainingStatus = TrainingStatus.PENDING
    phase: Phase | None = None
    last_n: int
    points_available: int
    window_offset: int
    chunk_points: int | None = None
    progress: Progress = Field(default_factory=Progress)
    history: list[EpochRecord] = Field(default_factory=list)
    phases: dict[str, PhaseTiming] = Field(default_factory=dict)
    data_quality: dict[str, Any] | None = None
    sampling_interval_seconds: float | None = None
    metrics: dict[str, Any] | None = None
    serving: str | None = None
    selection: dict[str, Any] | None = None
    artifacts: dict[str, str] | None = None
    result: dict[str, Any] | None = None
    error: JobError | None = None
    execution: ExecutionRef | None = None
    batch_job_id: str | None = None
    prediction_config: dict[str, Any] | None = None
    next_prediction_at: datetime | None = None
    last_forecast: dict[str, Any] | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None


def plan_chunks(window_offset: int, count: int, chunk_points: int) -> list[ChunkSpec]:
    """Split ``count`` points starting at ``window_offset`` into Map items of ``chunk_points``."""
    if count <= 0:
        return []
    return [
        ChunkSpec(offset=start, count=min(chunk_points, window_offset + count - start))
        for start in range(window_offset, window_offset + count, chunk_points)
    ]


MIN_CHUNK_POINTS = 1000


def choose_chunk_points(count: int, concurrency: int, max_points: int) -> int:
    """Chunk size for ``count`` points: about two chunks per concurrent collector, so the Map
    stays busy, but never below :data:`MIN_CHUNK_POINTS` (per-chunk overhead) nor above
    ``max_points`` (one chunk must fit a Lambda run and an S3 object comfortably)."""
    wanted = math.ceil(count / max(1, 2 * concurrency)) if count > 0 else MIN_CHUNK_POINTS
    return max(min(wanted, max_points), min(MIN_CHUNK_POINTS, max_points))


def execution_name(job_id: str, attempt: int) -> str:
    """The first execution is named after the job (so a repeated start is refused by Step
    Functions); retries add ``-r<attempt>``."""
    return job_id if attempt <= 1 else f"{job_id}-r{attempt}"
