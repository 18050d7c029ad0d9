"""Anomaly scans: one batch job that scores a window of a model's history with a trained job's
served forecaster and reports value anomalies and data-quality issues.

Lifecycle: ``pending`` (admitted, its execution not yet attached) → ``queued`` (the execution
runs, the plan not yet made) → ``running`` (chunks being scored, then combined and published) →
``completed``, ``completed_with_failures`` (some chunks failed, within the scan's tolerance; they
are listed), ``failed`` or ``cancelled``. A failed scan (or one completed with failures) can be
retried: its scored chunks are kept in their checkpoints and not scored again.

The rules that turn scores into findings live here, as pure functions:

* :func:`fdr_threshold`: the Benjamini-Hochberg step-up procedure over every point of the scan;
* :func:`merge_events`: flagged points into events (``merge_gap`` unflagged slots may separate two
  flagged points of one event; events of fewer than ``min_event_points`` flagged points dropped);
* :func:`severity_of` / :func:`severity_level`: a p-value to 0-100 and to the Smart Data Models
  severity enumeration;
* :func:`join_quality_issues` and :func:`boundary_gaps`: data-quality issues found chunk by chunk
  made whole across chunk boundaries.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.errors import ChronosError, ValidationError
from chronos_core.domain.ids import JobId, ModelId, ScanId
from chronos_core.domain.model import UtcDateTime, epoch_ms, from_epoch_ms, utcnow
from chronos_core.domain.training_job import (
    ChunkSpec,
    ExecutionRef,
    JobError,
    PhaseTiming,
    TimeWindow,
    plan_chunks,
    slice_by_time,
)


class TooManyFailedChunksError(ChronosError):
    """More chunks failed than the scan tolerates."""

    code = "too_many_failed_chunks"


#: The most points one scan may cover.
MAX_SCAN_POINTS: Final = 2_000_000
#: Horizon steps a point's p-value may combine (the metadata keeps this many steps' residuals).
MAX_HORIZON_STEPS: Final = 24
#: Threshold breaches an event carries (the most surprising of its flagged points).
MAX_BREACHES_PER_EVENT: Final = 50


class ScanStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def running(self) -> bool:
        return self in RUNNING_SCAN_STATUSES

    @property
    def finished(self) -> bool:
        return not self.running

    @property
    def retryable(self) -> bool:
        """A retry resumes a failed scan, or fills the failed chunks of a partial one."""
        return self in (ScanStatus.FAILED, ScanStatus.COMPLETED_WITH_FAILURES)


RUNNING_SCAN_STATUSES: Final = frozenset({ScanStatus.PENDING, ScanStatus.QUEUED, ScanStatus.RUNNING})


class ScanPhase(StrEnum):
    """The scan state machine's phases, in order; timings are kept per phase."""

    PLAN = "plan"
    SCORE = "score"
    COMBINE = "combine"
    PUBLISH = "publish"


Sensitivity = Literal["low", "medium", "high"]
#: The false-discovery rate each sensitivity stands for.
SENSITIVITY_RATES: Final[dict[str, float]] = {"low": 0.01, "medium": 0.05, "high": 0.10}


class ScanSettings(BaseModel):
    """How a scan decides (validated at admission, kept on the scan so a retry decides alike).

    * ``false_discovery_rate``: the expected share of false anomalies among the flagged points,
      controlled over the whole scan (Benjamini-Hochberg).
    * ``horizon_steps``: a point is flagged only when surprising to the forecasts issued for it
      from each of the ``k`` previous origins (see :mod:`chronos_core.ml.anomaly`).
    * ``min_event_points``, ``merge_gap``: flagged points become events; up to ``merge_gap``
      unflagged grid slots may separate two flagged points of one event.
    * ``gap_intervals``: a data gap is reported when two consecutive readings are more than this
      many grid intervals apart; ``flat_line_points``: a flat line (stuck sensor) is at least this
      many identical consecutive readings.
    * ``tolerated_failure_percent``: the share of chunks that may fail for the scan to complete
      (``completed_with_failures``); beyond it the scan fails at once.
    * ``publish``: upsert each value-anomaly event into Orion as an ``Anomaly`` entity.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    false_discovery_rate: float = Field(default=0.05, gt=0.0, le=0.5)
    horizon_steps: int = Field(default=1, ge=1, le=MAX_HORIZON_STEPS)
    min_event_points: int = Field(default=1, ge=1, le=10_000)
    merge_gap: int = Field(default=2, ge=0, le=10_000)
    gap_intervals: float = Field(default=4.0, ge=1.0, le=1_000_000.0)
    flat_line_points: int = Field(default=12, ge=3, le=1_000_000)
    tolerated_failure_percent: float = Field(default=0.0, ge=0.0, le=100.0)
    publish: bool = True

    def too_many_failures(self, failed: int, total: int) -> bool:
        """Whether ``failed`` of ``total`` chunks exceed the tolerance."""
        return failed > 0 and failed * 100.0 > self.tolerated_failure_percent * max(total, 1)


class ScanOptions(BaseModel):
    """The settings a caller may give (unset: :class:`ScanSettings`' defaults), numbers strict.
    ``sensitivity`` (``low``, ``medium``, ``high``: a false-discovery rate of 1 %, 5 %, 10 %) is
    the other way of giving ``false_discovery_rate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    false_discovery_rate: float | None = Field(default=None, gt=0.0, le=0.5, strict=True)
    sensitivity: Sensitivity | None = None
    horizon_steps: int | None = Field(default=None, ge=1, le=MAX_HORIZON_STEPS, strict=True)
    min_event_points: int | None = Field(default=None, ge=1, le=10_000, strict=True)
    merge_gap: int | None = Field(default=None, ge=0, le=10_000, strict=True)
    gap_intervals: float | None = Field(default=None, ge=1.0, le=1_000_000.0, strict=True)
    flat_line_points: int | None = Field(default=None, ge=3, le=1_000_000, strict=True)
    tolerated_failure_percent: float | None = Field(default=None, ge=0.0, le=100.0, strict=True)
    publish: bool | None = Field(default=None, strict=True)

    def settings(self, *, horizon: int) -> ScanSettings:
        """The scan's settings for a model forecasting ``horizon`` steps. Raises ValidationError
        naming the field: both ``false_discovery_rate`` and ``sensitivity`` given, or more
        ``horizon_steps`` than the model forecasts."""
        if self.false_discovery_rate is not None and self.sensitivity is not None:
            raise ValidationError(
                "Give either false_discovery_rate or sensitivity, not both",
                details=[{"field": "sensitivity", "message": "false_discovery_rate is given"}],
            )
        if self.horizon_steps is not None and self.horizon_steps > horizon:
            raise ValidationError(
                f"The model forecasts {horizon} step(s); horizon_steps cannot exceed it",
                details=[{"field": "horizon_steps", "message": f"at most {horizon}"}],
            )
        given = self.model_dump(exclude_none=True, exclude={"sensitivity"})
        if self.sensitivity is not None:
            given["false_discovery_rate"] = SENSITIVITY_RATES[self.sensitivity]
        return ScanSettings(**given)


class ScanRequest(BaseModel):
    """The window a caller asked for: the last ``last_n`` points, or ``[date_from, date_to)``
    (``date_to`` unset: up to the time the scan was admitted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    last_n: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


class ScanChunk(BaseModel):
    """One Map item: the readings received in ``[date_from, date_to)`` are scored, those in
    ``[context_from, date_from)`` are read as their context. ``offset`` names the chunk (its
    checkpoint); ``count`` is about how many points it scores."""

    model_config = ConfigDict(frozen=True)

    offset: int = Field(ge=0)
    count: int = Field(gt=0)
    date_from: datetime
    date_to: datetime
    context_from: datetime

    def collection(self, context_points: int) -> ChunkSpec:
        """What to read from the series: the context and the scored slice."""
        return ChunkSpec(
            offset=self.offset,
            count=self.count + context_points,
            date_from=self.context_from,
            date_to=self.date_to,
        )


def plan_scan_chunks(
    window: TimeWindow, points: int, chunk_points: int, context: timedelta
) -> list[ScanChunk]:
    """The scan's Map items: ``points`` split into chunks of ``chunk_points`` as training splits
    its window (:func:`plan_chunks`), as equal adjacent slices in time of ``window``
    (:func:`slice_by_time`: every reading of the window is scored exactly once), each reading
    ``context`` more before its slice."""
    slices = slice_by_time(plan_chunks(0, max(points, 1), chunk_points), window)
    return [
        ScanChunk(
            offset=s.offset,
            count=s.count,
            date_from=s.date_from or window.first,
            date_to=s.date_to or window.last,
            context_from=(s.date_from or window.first) - context,
        )
        for s in slices
    ]


class ChunkFailure(BaseModel):
    """A chunk that could not be scored, and why."""

    model_config = ConfigDict(frozen=True)

    offset: int
    error: str
    cause: str


class ScanProgress(BaseModel):
    """Counters the scan updates as chunks finish (derived from the chunk records).
    ``anomalies_so_far`` is provisional: each chunk's points flagged by the false-discovery
    control within that chunk; the final figure comes from the whole scan."""

    chunks_total: int = 0
    chunks_done: int = 0
    chunks_failed: int = 0
    points_expected: int = 0
    points_read: int = 0
    points_scored: int = 0
    anomalies_so_far: int = 0

    def eta_seconds(self, scoring_since: datetime | None, now: datetime) -> float | None:
        """Seconds until every chunk is scored, at the pace of the chunks scored so far."""
        if scoring_since is None or self.chunks_done == 0 or self.chunks_total == 0:
            return None
        left = self.chunks_total - self.chunks_done - self.chunks_failed
        if left <= 0:
            return 0.0
        elapsed = max(0.0, (now - scoring_since).total_seconds())
        return round(elapsed / self.chunks_done * left, 1)


class ScanSummary(BaseModel):
    """What the combine step found, over every scored chunk."""

    points_scored: int = 0
    points_unscored: int = 0
    candidates: int = 0
    flagged_points: int = 0
    #: The Benjamini-Hochberg cutoff: points with a p-value at or below it are flagged.
    p_value_threshold: float | None = None
    events: int = 0
    events_by_level: dict[str, int] = Field(default_factory=dict)
    quality_issues: dict[str, int] = Field(default_factory=dict)
    #: ``residuals`` (the job's calibration residuals) or ``interval_widths`` (older artifacts:
    #: a Gaussian fitted to the widest interval).
    calibration: str | None = None
    published: int = 0


class AnomalyScan(BaseModel):
    """An anomaly scan as stored (ids are UUID strings, datetimes UTC)."""

    model_config = ConfigDict(extra="ignore")

    id: ScanId = Field(default_factory=lambda: ScanId(str(uuid.uuid4())))
    model_id: ModelId
    job_id: JobId
    fiware_service: str
    status: ScanStatus = ScanStatus.PENDING
    phase: ScanPhase | None = None
    settings: ScanSettings = Field(default_factory=ScanSettings)
    request: ScanRequest
    #: The readings' reception window, resolved by the plan (both ends included).
    window: TimeWindow | None = None
    points_expected: int = 0
    chunk_points: int | None = None
    context_seconds: float = 0.0
    context_points: int = 0
    interval_seconds: float | None = None
    progress: ScanProgress = Field(default_factory=ScanProgress)
    phases: dict[str, PhaseTiming] = Field(default_factory=dict)
    summary: ScanSummary | None = None
    failed_chunks: list[ChunkFailure] = Field(default_factory=list)
    error: JobError | None = None
    execution: ExecutionRef | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def chunks(self) -> list[ScanChunk]:
        """The Map items (empty until the scan is planned)."""
        if self.window is None or self.chunk_points is None:
            return []
        return plan_scan_chunks(
            self.window, self.points_expected, self.chunk_points, timedelta(seconds=self.context_seconds)
        )


# ------------------------------------------------------------------------------ findings


SeverityLevel = Literal["informational", "low", "medium", "high", "critical"]
#: Severity levels of the Smart Data Models ``Alert`` enumeration, by their lowest score.
_LEVELS: Final[tuple[tuple[int, SeverityLevel], ...]] = (
    (80, "critical"),
    (60, "high"),
    (40, "medium"),
    (20, "low"),
    (0, "informational"),
)


def severity_of(p_value: float) -> int:
    """0-100: ten points per order of magnitude of improbability, ``10 * -log10(p)``, capped
    (``p = 1e-3`` is 30, ``1e-6`` is 60, ``1e-10`` or less is 100)."""
    if not p_value > 0.0:
        return 100
    return max(0, min(100, round(-10.0 * math.log10(min(1.0, p_value)))))


def severity_level(severity: int) -> SeverityLevel:
    """The Smart Data Models level of a 0-100 severity: informational < 20 ≤ low < 40 ≤ medium
    < 60 ≤ high < 80 ≤ critical."""
    return next(level for floor, level in _LEVELS if severity >= floor)


def fdr_threshold(p_values: Sequence[float], tests: int, rate: float) -> float | None:
    """The Benjamini-Hochberg step-up cutoff: the largest ``p_(i)`` (``i``-th smallest) with
    ``p_(i) <= i * rate / tests``, or None when no point qualifies. ``p_values`` may hold only the
    candidates (those at or below ``rate``): any other p-value exceeds every bound."""
    if tests <= 0:
        return None
    ordered = sorted(p for p in p_values if p == p)  # NaN left out
    cutoff: float | None = None
    for rank, p in enumerate(ordered, start=1):
        if p <= rank * rate / tests:
            cutoff = p
    return cutoff


ThresholdType = Literal["UPPER", "LOWER"]


class ThresholdBreach(BaseModel):
    """A reading outside the band the scan flags at (Smart Data Models ``thresholdBreach``)."""

    model_config = ConfigDict(frozen=True)

    date_observed: UtcDateTime
    measured_value: float
    threshold_type: ThresholdType
    threshold_value: float


class FlaggedPoint(BaseModel):
    """A point the false-discovery control flagged: its reading, the forecast for it and the
    band it left (``expected ± half_width``)."""

    model_config = ConfigDict(frozen=True)

    time: datetime
    value: float
    expected: float
    p_value: float
    half_width: float

    def breach(self) -> ThresholdBreach:
        upper = self.value >= self.expected
        return ThresholdBreach(
            date_observed=self.time,
            measured_value=self.value,
            threshold_type="UPPER" if upper else "LOWER",
            threshold_value=self.expected + self.half_width if upper else self.expected - self.half_width,
        )


class AnomalyEvent(BaseModel):
    """Consecutive flagged points merged into one event: from its first to its last flagged
    point, with the most surprising one (``peak``), its severity and the breaches."""

    model_config = ConfigDict(frozen=True)

    index: int
    start: UtcDateTime
    end: UtcDateTime
    peak_time: UtcDateTime
    peak_value: float
    expected: float
    p_value: float
    severity: int = Field(ge=0, le=100)
    level: SeverityLevel
    points: int
    direction: Literal["above", "below", "both"]
    breaches: list[ThresholdBreach]


def merge_events(
    flagged: Sequence[FlaggedPoint], *, interval_seconds: float, merge_gap: int, min_points: int
) -> list[AnomalyEvent]:
    """Flagged points (any order) into events, oldest first: two consecutive flagged points
    belong to one event when at most ``merge_gap`` grid slots lie between them; events of fewer
    than ``min_points`` flagged points are dropped."""
    ordered = sorted(flagged, key=lambda p: p.time)
    groups: list[list[FlaggedPoint]] = []
    longest = (merge_gap + 1.5) * interval_seconds  # +0.5 slot: readings jitter around their slots
    for point in ordered:
        if groups and (point.time - groups[-1][-1].time).total_seconds() <= longest:
            groups[-1].append(point)
        else:
            groups.append([point])
    kept = [g for g in groups if len(g) >= min_points]
    return [_event(i, group) for i, group in enumerate(kept)]


def _event(index: int, group: list[FlaggedPoint]) -> AnomalyEvent:
    peak = min(group, key=lambda p: (p.p_value, -abs(p.value - p.expected)))
    above = {p.value >= p.expected for p in group}
    severity = severity_of(peak.p_value)
    strongest = sorted(group, key=lambda p: p.p_value)[:MAX_BREACHES_PER_EVENT]
    return AnomalyEvent(
        index=index,
        start=group[0].time,
        end=group[-1].time,
        peak_time=peak.time,
        peak_value=peak.value,
        expected=peak.expected,
        p_value=peak.p_value,
        severity=severity,
        level=severity_level(severity),
        points=len(group),
        direction="both" if len(above) == 2 else ("above" if True in above else "below"),
        breaches=[p.breach() for p in sorted(strongest, key=lambda p: p.time)],
    )


# ------------------------------------------------------------------------------ data quality


QualityKind = Literal["gap", "flat_line", "duplicate_timestamps", "out_of_order"]
#: Issues of one kind a scan keeps (the summary counts them all).
MAX_ISSUES_PER_KIND: Final = 1000


class QualityIssue(BaseModel):
    """A data-quality issue: a gap between two readings (``start`` the last reading before it,
    ``end`` the first after), a flat line (its first and last reading; ``points`` the readings
    of the run in the scanned window), a timestamp read several times (``points`` times), or a
    reading older than the one read before it (``start`` it, ``end`` the one before)."""

    model_config = ConfigDict(frozen=True)

    kind: QualityKind
    start: UtcDateTime
    end: UtcDateTime
    points: int = Field(ge=0)
    detail: dict[str, float] | None = None

    @classmethod
    def between(
        cls, kind: QualityKind, start: float, end: float, points: int, detail: dict[str, float] | None = None
    ) -> Self:
        """An issue from epoch seconds (kept to the millisecond)."""
        return cls(
            kind=kind,
            start=from_epoch_ms(round(start * 1000)),
            end=from_epoch_ms(round(end * 1000)),
            points=points,
            detail=detail,
        )


def join_quality_issues(issues: Sequence[QualityIssue], *, flat_line_points: int) -> list[QualityIssue]:
    """Issues found chunk by chunk made whole: the pieces of one flat line (same value, each
    starting no later than the previous one ended) are joined, their readings added up, and
    flat lines shorter than ``flat_line_points`` readings dropped; the rest, sorted by start."""
    flats = sorted((i for i in issues if i.kind == "flat_line"), key=lambda i: (i.start, i.end))
    joined: list[QualityIssue] = []
    for piece in flats:
        last = joined[-1] if joined else None
        same_value = last is not None and (last.detail or {}).get("value") == (piece.detail or {}).get(
            "value"
        )
        if last is not None and same_value and piece.start <= last.end:
            joined[-1] = last.model_copy(
                update={"end": max(last.end, piece.end), "points": last.points + piece.points}
            )
        else:
            joined.append(piece)
    kept = [
        f.model_copy(update={"detail": {"value": (f.detail or {}).get("value", 0.0)}})
        for f in joined
        if _run_length(f, flats) >= flat_line_points
    ]
    others = [i for i in issues if i.kind != "flat_line"]
    return sorted([*others, *kept], key=lambda i: (i.start, i.kind))


def _run_length(joined: QualityIssue, pieces: Sequence[QualityIssue]) -> int:
    """Readings of a joined flat line: its scanned readings plus those its first piece saw in
    its context before the scanned window."""
    value = (joined.detail or {}).get("value")
    first = next(p for p in pieces if p.start == joined.start and (p.detail or {}).get("value") == value)
    before = int((first.detail or {}).get("run_points", first.points)) - first.points
    return joined.points + max(0, before)


def boundary_gaps(
    readings: Sequence[tuple[datetime | None, datetime | None]],
    window: TimeWindow,
    *,
    longest_seconds: float,
    interval_seconds: float,
) -> list[QualityIssue]:
    """Gaps no single chunk could see: between the last reading of a chunk and the first of the
    next chunk holding one (``readings``: each chunk's first and last scored reading, in time
    order), and between the window's ends and its first and last reading (``window_edge``: a
    sensor silent since, or until, the window's edge; none for a window of the last N points)."""
    out: list[QualityIssue] = []
    previous: datetime | None = None
    for first, last in readings:
        if first is None or last is None:
            continue
        if previous is not None and (first - previous).total_seconds() > longest_seconds:
            out.append(_gap(previous, first, interval_seconds))
        elif previous is None and (first - window.first).total_seconds() > longest_seconds:
            out.append(_gap(window.first, first, interval_seconds, edge=True))
        previous = last
    end = window.last + timedelta(milliseconds=1)
    if previous is not None and (end - previous).total_seconds() > longest_seconds:
        out.append(_gap(previous, end, interval_seconds, edge=True))
    return out


def _gap(start: datetime, end: datetime, interval_seconds: float, *, edge: bool = False) -> QualityIssue:
    """A gap from ``start`` to ``end``; ``edge``: one end is the window's, not a reading."""
    missing = (end - start).total_seconds() / interval_seconds - (0 if edge else 1)
    detail = {"missing_intervals": round(missing, 1), **({"window_edge": 1.0} if edge else {})}
    return QualityIssue(kind="gap", start=start, end=end, points=0, detail=detail)


def quality_counts(issues: Sequence[QualityIssue]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for issue in issues:
        counts[issue.kind] = counts.get(issue.kind, 0) + 1
    return counts


def cap_issues(issues: Sequence[QualityIssue]) -> list[QualityIssue]:
    """At most :data:`MAX_ISSUES_PER_KIND` issues of each kind, the earliest."""
    seen: dict[str, int] = {}
    kept: list[QualityIssue] = []
    for issue in issues:
        seen[issue.kind] = seen.get(issue.kind, 0) + 1
        if seen[issue.kind] <= MAX_ISSUES_PER_KIND:
            kept.append(issue)
    return kept


def anomaly_entity_id(scan_id: ScanId, event: AnomalyEvent) -> str:
    """The Orion id of an event's ``Anomaly`` entity: the scan and the event's first flagged
    reading, so a retried publication upserts the same entity."""
    return f"urn:ngsi-ld:Anomaly:{uuid.UUID(scan_id).hex[:12]}-{epoch_ms(event.start)}"


def ensure_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def window_problems(
    last_n: int | None, date_from: datetime | None, date_to: datetime | None
) -> list[dict[str, Any]]:
    """What is wrong with a requested window, one detail naming each field (empty: valid). A
    window is the last ``last_n`` points, or ``[date_from, date_to)``."""
    if last_n is not None and (date_from is not None or date_to is not None):
        field = "date_from" if date_from is not None else "date_to"
        return [{"field": field, "message": "give either last_n or date_from/date_to, not both"}]
    if last_n is None and date_from is None:
        return [{"field": "date_from", "message": "give date_from (and date_to), or last_n"}]
    if date_from is not None and date_to is not None and date_to <= date_from:
        return [{"field": "date_to", "message": "must be after date_from"}]
    return []


# ------------------------------------------------------------------------------ the pipeline


class ScanPlan(BaseModel):
    """What the plan fixed (kept across retries, so the chunks and their checkpoints stay
    valid): the readings' window, about how many points it holds, the chunk size, and how much
    context each chunk reads before its slice (in time and in points)."""

    model_config = ConfigDict(frozen=True)

    window: TimeWindow
    points_expected: int = Field(ge=0)
    chunk_points: int = Field(gt=0)
    context_seconds: float = Field(ge=0)
    context_points: int = Field(ge=0)
    interval_seconds: float = Field(gt=0)
    chunks_total: int = Field(ge=0)


class ChunkRecord(BaseModel):
    """A chunk's record while the scan runs: ``scored`` (its checkpoint is written), ``partial``
    (read in part, continuing) or ``failed`` (with the error and cause)."""

    model_config = ConfigDict(frozen=True)

    offset: int
    state: Literal["scored", "partial", "failed"]
    points_read: int = 0
    points_scored: int = 0
    anomalies: int = 0
    error: str | None = None
    cause: str | None = None


class Candidate(BaseModel):
    """A scored point whose p-value is at most the scan's false-discovery rate (only those can be
    flagged: Benjamini-Hochberg's cutoff never exceeds the rate). ``step`` is the horizon step of
    ``expected``."""

    model_config = ConfigDict(frozen=True)

    time: UtcDateTime
    value: float
    expected: float
    p_value: float
    step: int = Field(ge=1)
    #: How much wider than the calibration's the recent errors were (the p-value is of
    #: ``|value - expected| / widening``).
    widening: float = Field(default=1.0, ge=1.0)


class ChunkScores(BaseModel):
    """A scored chunk, as its checkpoint keeps it: counts, the candidates, the data-quality
    issues, and the first and last reading of its slice (for the gaps between chunks)."""

    points_read: int = 0
    points_scored: int = 0
    points_unscored: int = 0
    candidates: list[Candidate] = Field(default_factory=list)
    issues: list[QualityIssue] = Field(default_factory=list)
    first_reading: UtcDateTime | None = None
    last_reading: UtcDateTime | None = None

    def anomalies_alone(self, rate: float) -> int:
        """Points the false-discovery control would flag in this chunk alone (progress only)."""
        cutoff = fdr_threshold([c.p_value for c in self.candidates], self.points_scored, rate)
        return 0 if cutoff is None else sum(1 for c in self.candidates if c.p_value <= cutoff)


class AnomalyTarget(BaseModel):
    """Where a scan's anomalies are published: the model's tenant and sensor, and what found them."""

    model_config = ConfigDict(frozen=True)

    fiware_service: str
    fiware_servicepath: str
    source_entity_id: str
    source_entity_type: str
    feature: str
    scan_id: ScanId
    model_id: ModelId
    job_id: JobId
    false_discovery_rate: float
