"""Step Combine: the false-discovery control over every scored point of the scan, flagged
points merged into events, data-quality issues made whole across chunks; the findings stored."""

from __future__ import annotations

from chronos_core.application.anomaly.deps import CombineDeps
from chronos_core.application.anomaly.pipeline.events import CombineResult, ScanEvent
from chronos_core.application.anomaly.pipeline.keys import scored_chunk_key
from chronos_core.application.anomaly.pipeline.lookup import require_job, require_scan
from chronos_core.application.ports.anomaly import ScanScorer
from chronos_core.domain.anomaly import (
    AnomalyEvent,
    AnomalyScan,
    ChunkScores,
    FlaggedPoint,
    QualityIssue,
    ScanPhase,
    ScanSummary,
    TooManyFailedChunksError,
    boundary_gaps,
    cap_issues,
    fdr_threshold,
    join_quality_issues,
    merge_events,
    quality_counts,
)
from chronos_core.observability import logger


def combine_scan(deps: CombineDeps, event: ScanEvent) -> CombineResult:
    """Flag, over the whole scan, the points whose p-value is at or below the Benjamini-Hochberg
    cutoff at the scan's false-discovery rate, merge them into events, join the chunks' data-
    quality issues (and the gaps between chunks) and store both. Raises
    TooManyFailedChunksError when more chunks failed than the scan tolerates."""
    scan = require_scan(deps.scans, event.scan_id)
    if scan.status.finished:
        return CombineResult(scan_id=scan.id, events=0, running=False)
    deps.scans.enter_phase(scan.id, ScanPhase.COMBINE)
    _check_failures(scan)
    scorer = deps.scorers.load(require_job(deps.jobs, scan).trained_artifacts(), scan.settings.horizon_steps)
    failed = {f.offset for f in scan.failed_chunks}
    scored = [
        ChunkScores.model_validate(deps.objects.get_json(scored_chunk_key(scan.id, chunk.offset)))
        for chunk in scan.chunks()
        if chunk.offset not in failed
    ]
    tests = sum(s.points_scored for s in scored)
    candidates = [c for s in scored for c in s.candidates]
    cutoff = fdr_threshold([c.p_value for c in candidates], tests, scan.settings.false_discovery_rate)
    events = _events(scan, scorer, scored, cutoff)
    issues = _issues(scan, scored, scorer.interval_seconds)
    deps.findings.replace(scan.id, events, cap_issues(issues))
    summary = ScanSummary(
        points_scored=tests,
        points_unscored=sum(s.points_unscored for s in scored),
        candidates=len(candidates),
        flagged_points=0 if cutoff is None else sum(1 for c in candidates if c.p_value <= cutoff),
        p_value_threshold=cutoff,
        events=len(events),
        events_by_level=_levels(events),
        quality_issues=quality_counts(issues),
        calibration=scorer.calibration_source,
    )
    recorded = deps.scans.record_summary(scan.id, summary)
    logger.info(
        "Anomaly scan combined", extra={"scan_id": scan.id, **summary.model_dump(exclude={"events_by_level"})}
    )
    return CombineResult(scan_id=scan.id, events=len(events), running=recorded is not None)


def _check_failures(scan: AnomalyScan) -> None:
    failed = scan.failed_chunks
    if scan.settings.too_many_failures(len(failed), scan.progress.chunks_total):
        first = failed[0]
        raise TooManyFailedChunksError(
            f"{len(failed)} of {scan.progress.chunks_total} chunks failed (tolerated: "
            f"{scan.settings.tolerated_failure_percent:g} %); first: {first.error}: {first.cause}"
        )


def _events(
    scan: AnomalyScan, scorer: ScanScorer, scored: list[ChunkScores], cutoff: float | None
) -> list[AnomalyEvent]:
    if cutoff is None:
        return []
    widths: dict[int, float] = {}
    flagged: list[FlaggedPoint] = []
    for candidate in (c for s in scored for c in s.candidates if c.p_value <= cutoff):
        if candidate.step not in widths:
            widths[candidate.step] = scorer.half_width(candidate.step, cutoff)
        flagged.append(
            FlaggedPoint(
                time=candidate.time,
                value=candidate.value,
                expected=candidate.expected,
                p_value=candidate.p_value,
                half_width=widths[candidate.step] * candidate.widening,
            )
        )
    settings = scan.settings
    return merge_events(
        flagged,
        interval_seconds=scorer.interval_seconds,
        merge_gap=settings.merge_gap,
        min_points=settings.min_event_points,
    )


def _issues(scan: AnomalyScan, scored: list[ChunkScores], interval_seconds: float) -> list[QualityIssue]:
    settings = scan.settings
    joined = join_quality_issues(
        [i for s in scored for i in s.issues], flat_line_points=settings.flat_line_points
    )
    if scan.window is None:
        return joined
    edges = boundary_gaps(
        [(s.first_reading, s.last_reading) for s in scored],
        scan.window,
        longest_seconds=settings.gap_intervals * interval_seconds,
        interval_seconds=interval_seconds,
    )
    return sorted([*joined, *edges], key=lambda i: (i.start, i.kind))


def _levels(events: list[AnomalyEvent]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event.level] = counts.get(event.level, 0) + 1
    return counts
