"""Training jobs as the API shows them, and the body that starts one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from chronos_core.application.ports.pipeline import Workflow
from chronos_core.application.training.admission import MAX_TRAINING_POINTS
from chronos_core.application.training.queue import QueuedJob
from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.evaluation import DataQuality, GateDecision, TrainingMetrics
from chronos_core.domain.forecasting import LastForecast, PredictionConfig
from chronos_core.domain.model import iso_z
from chronos_core.domain.retraining import HoldoutComparison, PromotionVerdict, Trigger, WarmStart
from chronos_core.domain.training_job import EpochRecord, JobError, Progress, TrainingJob, TrainingStatus


class TrainingRequest(BaseModel):
    """Body of ``POST /models/{id}/training-jobs``."""

    model_config = ConfigDict(extra="forbid")

    last_n: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_TRAINING_POINTS,
        description="Train on the most recent N points; omitted means every stored point.",
    )


class PhaseTimingResponse(BaseModel):
    started_at: datetime | None
    ended_at: datetime | None
    seconds: float | None

    @field_serializer("started_at", "ended_at")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_z(value) if value else None


class ProgressResponse(Progress):
    percent: float


class ExecutionResponse(BaseModel):
    """The state-machine execution behind the job (and the AWS Batch job that trains it)."""

    name: str
    arn: str | None
    attempt: int
    console_url: str | None
    batch_job_id: str | None = Field(
        default=None, description="The Batch job of the Train step (a local id on the local stack)."
    )


class TrainingJobResponse(BaseModel):
    """A training job: status, phase, progress, timings, outcome."""

    id: str
    model_id: str
    status: TrainingStatus
    phase: str | None
    last_n: int
    points_available: int
    progress: ProgressResponse
    phases: dict[str, PhaseTimingResponse]
    data_quality: DataQuality | None
    sampling_interval_seconds: float | None
    metrics: TrainingMetrics | None
    serving: str | None = None
    selection: GateDecision | None = None
    artifacts: ArtifactRefs | None
    error: JobError | None
    execution: ExecutionResponse | None
    history: list[EpochRecord] | None = None
    prediction_config: PredictionConfig | None = None
    next_prediction_at: datetime | None = Field(
        default=None,
        description="The first slot of the forecast grid not yet forecast; in the past while that "
        "slot's forecast is queued or being retried.",
    )
    last_forecast: LastForecast | None = None
    triggers: list[Trigger] = Field(
        default_factory=list,
        description="Why the job runs: every trigger (cron fire time, monitoring rule, user) that asked "
        "for it; triggers that arrived while it ran or waited were attached to it.",
    )
    queue: QueuedJob | None = Field(
        default=None,
        description="While the job waits in the training queue (status queued, phase null): its position, "
        "the limit that holds it and the estimated wait.",
    )
    comparison: HoldoutComparison | None = Field(
        default=None, description="The champion scored next to this job on the same holdout (a retraining)."
    )
    promotion: PromotionVerdict | None = Field(
        default=None, description="Whether this job became the model's champion, and why."
    )
    warm_start: WarmStart | None = None
    model_version: int | None = Field(
        default=None, description="The model version this job became (1, 2, ...)."
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None

    @field_serializer("created_at", "updated_at", "started_at", "ended_at", "next_prediction_at")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_z(value) if value else None

    @classmethod
    def of(
        cls,
        job: TrainingJob,
        workflow: Workflow | None = None,
        *,
        with_history: bool = False,
        queue: QueuedJob | None = None,
    ) -> TrainingJobResponse:
        p = job.progress
        if job.status == TrainingStatus.COMPLETED:
            percent = 100.0
        elif p.epochs:
            percent = 50.0 + 50.0 * p.epoch / p.epochs
        elif p.points_expected:
            percent = 50.0 * min(p.points_collected, p.points_expected) / p.points_expected
        else:
            percent = 0.0
        execution = None
        if job.execution is not None:
            console = workflow.console_url(job.execution.arn) if workflow and job.execution.arn else None
            execution = ExecutionResponse(
                name=job.execution.name,
                arn=job.execution.arn,
                attempt=job.execution.attempt,
                console_url=console,
                batch_job_id=job.batch_job_id,
            )
        end = job.ended_at
        return cls(
            id=job.id,
            model_id=job.model_id,
            status=job.status,
            phase=job.phase.value if job.phase else None,
            last_n=job.last_n,
            points_available=job.points_available,
            progress=ProgressResponse(**p.model_dump(), percent=round(percent, 1)),
            phases={
                name: PhaseTimingResponse(started_at=t.started_at, ended_at=t.ended_at, seconds=t.seconds)
                for name, t in job.phases.items()
            },
            data_quality=job.data_quality,
            sampling_interval_seconds=job.sampling_interval_seconds,
            metrics=job.metrics,
            serving=job.serving,
            selection=job.selection,
            artifacts=job.artifacts,
            error=job.error,
            execution=execution,
            history=job.history if with_history else None,
            prediction_config=job.prediction_config,
            next_prediction_at=job.next_prediction_at,
            last_forecast=job.last_forecast,
            triggers=job.triggers,
            queue=queue,
            comparison=job.comparison,
            promotion=job.promotion,
            warm_start=job.warm_start,
            model_version=job.model_version,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            ended_at=job.ended_at,
            duration_seconds=(end - job.started_at).total_seconds() if end and job.started_at else None,
        )


class TrainingJobPage(BaseModel):
    items: list[TrainingJobResponse]
    total: int
    skip: int
    limit: int
