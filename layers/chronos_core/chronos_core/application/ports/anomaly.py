"""What anomaly scans need: their persistence (the scans, their chunk records and their
findings), a scorer built from a trained job's artifacts, and FIWARE to publish to.

One repository adapter implements the scan ports (it owns the documents); every write it makes
for the pipeline is conditional on the scan still running, so a cancelled scan is never revived by
a step that was already in flight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from chronos_core.application.ports.models import Page
from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.domain.anomaly import (
    AnomalyEvent,
    AnomalyScan,
    AnomalyTarget,
    ChunkRecord,
    ChunkScores,
    QualityIssue,
    ScanPhase,
    ScanPlan,
    ScanSettings,
    ScanStatus,
    ScanSummary,
)
from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.ids import ModelId, ScanId
from chronos_core.domain.training_job import ExecutionRef, JobError


class ScanLookup(Protocol):
    def get(self, scan_id: ScanId) -> AnomalyScan | None:
        """The scan with its progress (derived from its chunk records), or None."""

    def status_of(self, scan_id: ScanId) -> ScanStatus | None:
        """The scan's status alone, or None when it does not exist."""


class AnomalyScans(ScanLookup, Protocol):
    """Scans as the API's use cases (and the reconciler) see them."""

    def add(self, scan: AnomalyScan) -> None:
        """Insert a new scan. Raises ConflictError if the id exists."""

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[AnomalyScan]:
        """The model's scans, newest first."""

    def running_scans(self, limit: int) -> list[AnomalyScan]:
        """Scans in a running status, least recently changed first, at most ``limit``."""

    def attach_execution(self, scan_id: ScanId, arn: str, started_at: datetime) -> AnomalyScan | None:
        """Record the execution that drives the scan; a ``pending`` scan becomes ``queued``.
        None if it finished meanwhile."""

    def reopen_for_retry(self, scan_id: ScanId, execution: ExecutionRef) -> AnomalyScan | None:
        """A failed scan (or one completed with failures) becomes ``pending`` under ``execution``:
        error, summary and failed chunk records cleared; scored chunks and the plan kept. None
        unless it was retryable."""

    def finish(
        self, scan_id: ScanId, status: ScanStatus, *, error: JobError | None = None
    ) -> AnomalyScan | None:
        """Move a running scan to a final status (open phase timings closed); None if it had
        finished already."""


class ScanJournal(ScanLookup, Protocol):
    """What the scan's pipeline steps record on a running scan."""

    def start_scoring(self, scan_id: ScanId, plan: ScanPlan) -> AnomalyScan | None:
        """Close the plan phase with ``plan`` (a retried scan keeps its first one: pass the same)
        and enter ``score``; the scan is ``running``. None if it is not running."""

    def enter_phase(self, scan_id: ScanId, phase: ScanPhase) -> AnomalyScan | None:
        """Enter ``phase`` (the previous phase is closed; the first start is kept on a retry)."""

    def record_chunk(self, scan_id: ScanId, record: ChunkRecord) -> bool:
        """Record a chunk's state while the scan runs (replacing its earlier record)."""

    def chunk_records(self, scan_id: ScanId) -> dict[int, ChunkRecord]:
        """The scan's chunk records by offset."""

    def record_summary(self, scan_id: ScanId, summary: ScanSummary) -> AnomalyScan | None:
        """Store what the combine step found, while the scan runs."""

    def finish(
        self, scan_id: ScanId, status: ScanStatus, *, error: JobError | None = None
    ) -> AnomalyScan | None:
        """As :meth:`AnomalyScans.finish`."""


FindingCategory = Literal["value", "data_quality"]


class AnomalyFindings(Protocol):
    """A scan's value-anomaly events and data-quality issues."""

    def replace(
        self, scan_id: ScanId, events: Sequence[AnomalyEvent], issues: Sequence[QualityIssue]
    ) -> None:
        """Store the scan's findings, replacing any earlier ones (a retried combine)."""

    def events(self, scan_id: ScanId, skip: int, limit: int) -> Page[AnomalyEvent]:
        """Value-anomaly events, oldest first."""

    def issues(self, scan_id: ScanId, skip: int, limit: int) -> Page[QualityIssue]:
        """Data-quality issues, oldest first."""


class ScanScorer(Protocol):
    """A trained job's served forecaster and its calibration, ready to score chunks."""

    @property
    def interval_seconds(self) -> float:
        """The training grid's step (nominal for calendar grids)."""

    @property
    def context_slots(self) -> int:
        """Grid slots a chunk must read before its first scored reading."""

    @property
    def calibration_source(self) -> str:
        """``residuals`` or ``interval_widths`` (older artifacts)."""

    def score(
        self, points: Sequence[TimedPoint], *, score_from: datetime, settings: ScanSettings
    ) -> ChunkScores:
        """Score the readings received at or after ``score_from`` (the earlier ones are context):
        their candidates (p-value at most the settings' false-discovery rate) and the
        data-quality issues."""

    def half_width(self, step: int, p_value: float) -> float:
        """The half-width of the band around a forecast at ``step`` that a reading must leave to
        have at most ``p_value``."""


class ScorerLoader(Protocol):
    def load(self, refs: ArtifactRefs, steps: int) -> ScanScorer:
        """The scorer of a job's artifacts combining ``steps`` horizon steps (cached per warm
        container). Raises ArtifactNotFoundError, ArtifactIntegrityError, ValidationError (no
        calibration in the artifacts)."""


class AnomalyPublisher(Protocol):
    def publish(self, target: AnomalyTarget, events: Sequence[AnomalyEvent]) -> int:
        """Upsert each event as a Smart Data Models ``Anomaly`` entity in the target's tenant;
        return how many were written."""
