"""Anomaly scans as the API shows them, and the body that starts one."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from chronos_core.api.schemas.training_jobs import ExecutionResponse, PhaseTimingResponse
from chronos_core.application.ports.pipeline import Workflow
from chronos_core.domain.anomaly import (
    MAX_SCAN_POINTS,
    AnomalyEvent,
    AnomalyScan,
    ChunkFailure,
    QualityIssue,
    ScanOptions,
    ScanProgress,
    ScanRequest,
    ScanSettings,
    ScanStatus,
    ScanSummary,
)
from chronos_core.domain.model import iso_z, utcnow
from chronos_core.domain.training_job import JobError, TimeWindow


class AnomalyScanRequest(ScanOptions):
    """Body of ``POST /models/{id}/anomaly-scans``: the window (``last_n``, or ``date_from`` and
    an optional ``date_to``), the job whose forecaster scores (default: the model's serving job)
    and the scan's settings (``sensitivity`` or ``false_discovery_rate``, ``min_event_points``,
    ``merge_gap``, ``horizon_steps``, data-quality thresholds, ``tolerated_failure_percent``,
    ``publish``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str | None = Field(default=None, min_length=1, max_length=64)
    last_n: int | None = Field(default=None, strict=True, ge=1, le=MAX_SCAN_POINTS)
    date_from: datetime | None = None
    date_to: datetime | None = None

    def options(self) -> ScanOptions:
        return ScanOptions(**self.model_dump(include=set(ScanOptions.model_fields), exclude_none=True))


class ScanProgressResponse(BaseModel):
    """Per-chunk progress: chunks done and failed of the total, points read and scored, the
    anomalies the chunks flagged so far (each chunk alone; the final figure is the summary's),
    and the time left at the pace so far."""

    chunks_total: int
    chunks_done: int
    chunks_failed: int
    points_expected: int
    points_read: int
    points_scored: int
    anomalies_so_far: int
    percent: float
    eta_seconds: float | None = Field(description="Seconds until every chunk is scored, at the pace so far.")

    @classmethod
    def of(cls, progress: ScanProgress, percent: float, eta_seconds: float | None) -> ScanProgressResponse:
        return cls(**progress.model_dump(), percent=percent, eta_seconds=eta_seconds)


class AnomalyScanResponse(BaseModel):
    """A scan: status, phase, per-chunk progress with an ETA, timings, settings and outcome."""

    id: str
    model_id: str
    job_id: str
    status: ScanStatus
    phase: str | None
    request: ScanRequest
    settings: ScanSettings
    window: TimeWindow | None
    interval_seconds: float | None
    progress: ScanProgressResponse
    phases: dict[str, PhaseTimingResponse]
    summary: ScanSummary | None
    failed_chunks: list[ChunkFailure]
    error: JobError | None
    execution: ExecutionResponse | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None

    @field_serializer("created_at", "updated_at", "started_at", "ended_at")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_z(value) if value else None

    @classmethod
    def of(cls, scan: AnomalyScan, workflow: Workflow | None = None) -> AnomalyScanResponse:
        p = scan.progress
        if scan.status in (ScanStatus.COMPLETED, ScanStatus.COMPLETED_WITH_FAILURES):
            percent = 100.0
        elif p.chunks_total:
            percent = 95.0 * (p.chunks_done + p.chunks_failed) / p.chunks_total
        else:
            percent = 0.0
        scoring = scan.phases.get("score")
        eta = (
            p.eta_seconds(scoring.started_at if scoring else None, utcnow()) if scan.status.running else None
        )
        execution = None
        if scan.execution is not None:
            console = workflow.console_url(scan.execution.arn) if workflow and scan.execution.arn else None
            execution = ExecutionResponse(
                name=scan.execution.name,
                arn=scan.execution.arn,
                attempt=scan.execution.attempt,
                console_url=console,
            )
        end = scan.ended_at
        return cls(
            id=scan.id,
            model_id=scan.model_id,
            job_id=scan.job_id,
            status=scan.status,
            phase=scan.phase.value if scan.phase else None,
            request=scan.request,
            settings=scan.settings,
            window=scan.window,
            interval_seconds=scan.interval_seconds,
            progress=ScanProgressResponse.of(p, round(percent, 1), eta),
            phases={
                name: PhaseTimingResponse(started_at=t.started_at, ended_at=t.ended_at, seconds=t.seconds)
                for name, t in scan.phases.items()
            },
            summary=scan.summary,
            failed_chunks=scan.failed_chunks,
            error=scan.error,
            execution=execution,
            created_at=scan.created_at,
            updated_at=scan.updated_at,
            started_at=scan.started_at,
            ended_at=end,
            duration_seconds=(end - scan.started_at).total_seconds() if end and scan.started_at else None,
        )


class AnomalyScanPage(BaseModel):
    items: list[AnomalyScanResponse]
    total: int
    skip: int
    limit: int


class AnomalyEventPage(BaseModel):
    """A page of a scan's value-anomaly events, oldest first."""

    scan_id: str
    items: list[AnomalyEvent]
    total: int
    skip: int
    limit: int


class QualityIssuePage(BaseModel):
    """A page of a scan's data-quality issues, oldest first."""

    scan_id: str
    items: list[QualityIssue]
    total: int
    skip: int
    limit: int
