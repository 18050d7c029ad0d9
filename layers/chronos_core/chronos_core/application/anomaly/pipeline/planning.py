"""Step Plan: fix the scan's window, split it into time chunks overlapping by the scorer's
context, and start scoring."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Final

from chronos_core.application.anomaly.deps import ScanPipelineDeps
from chronos_core.application.anomaly.pipeline.events import ScanEvent, ScanPlanResult
from chronos_core.application.anomaly.pipeline.lookup import require_job, require_model, require_scan
from chronos_core.application.ports.anomaly import ScanScorer
from chronos_core.domain.anomaly import AnomalyScan, ScanPlan, plan_scan_chunks
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TimeWindow, choose_chunk_points, pages_in_flight_per_chunk
from chronos_core.observability import logger

#: The context each chunk reads is this much longer than the scorer needs (readings jitter, a
#: few are missing).
CONTEXT_SLACK: Final = 1.2


def plan_scan(deps: ScanPipelineDeps, event: ScanEvent) -> ScanPlanResult:
    """Resolve the window into reception times (the last N points, or the dates asked), size the
    chunks as the training sizes its collection (:func:`choose_chunk_points`), make each read the
    scorer's context before its slice, and enter ``score``. A retried scan keeps its first plan,
    so its scored chunks' checkpoints stay valid."""
    scan = require_scan(deps.scans, event.scan_id)
    if scan.status.finished:
        return ScanPlanResult(scan_id=scan.id, chunks=[], running=False)
    model = require_model(deps, scan)
    scorer = deps.scorers.load(require_job(deps.jobs, scan).trained_artifacts(), scan.settings.horizon_steps)
    plan = _kept_plan(scan) or _new_plan(deps, scan, model, scorer)
    started = deps.scans.start_scoring(scan.id, plan)
    settings = deps.scan_pipeline_settings
    chunks = started.chunks() if started is not None else []
    share = pages_in_flight_per_chunk(settings.page_ceiling, len(chunks), settings.map_concurrency)
    logger.info(
        "Planned anomaly scan",
        extra={
            "scan_id": scan.id,
            "chunks": len(chunks),
            "points": plan.points_expected,
            "pages_in_flight": share,
        },
    )
    return ScanPlanResult(scan_id=scan.id, chunks=chunks, running=started is not None, pages_in_flight=share)


def _kept_plan(scan: AnomalyScan) -> ScanPlan | None:
    if scan.window is None or scan.chunk_points is None or scan.interval_seconds is None:
        return None
    return ScanPlan(
        window=scan.window,
        points_expected=scan.points_expected,
        chunk_points=scan.chunk_points,
        context_seconds=scan.context_seconds,
        context_points=scan.context_points,
        interval_seconds=scan.interval_seconds,
        chunks_total=len(scan.chunks()),
    )


def _new_plan(deps: ScanPipelineDeps, scan: AnomalyScan, model: Model, scorer: ScanScorer) -> ScanPlan:
    window, points = _window(deps, scan, model)
    settings = deps.scan_pipeline_settings
    chunk_points = choose_chunk_points(points, settings.map_concurrency, settings.chunk_points)
    context_points = math.ceil(scorer.context_slots * CONTEXT_SLACK)
    context_seconds = context_points * scorer.interval_seconds
    chunks = plan_scan_chunks(window, points, chunk_points, timedelta(seconds=context_seconds))
    return ScanPlan(
        window=window,
        points_expected=points,
        chunk_points=chunk_points,
        context_seconds=context_seconds,
        context_points=context_points,
        interval_seconds=scorer.interval_seconds,
        chunks_total=len(chunks),
    )


def _window(deps: ScanPipelineDeps, scan: AnomalyScan, model: Model) -> tuple[TimeWindow, int]:
    """The readings' reception window and about how many points it holds. Raises
    ValidationError when it holds none (a data error: the scan fails at once)."""
    request = scan.request
    if request.last_n is not None:
        total = deps.series.count(model.source)
        count = min(request.last_n, total)
        window = deps.series.bounds(model.source, total - count, count) if count > 0 else None
        if window is None:
            raise ValidationError("STH-Comet holds no reading of this model's series any more")
        return window, count
    assert request.date_from is not None and request.date_to is not None
    count = deps.series.count_between(model.source, request.date_from, request.date_to)
    if count <= 0:
        raise ValidationError("STH-Comet holds no reading of this model's series in the scan window")
    return TimeWindow(first=request.date_from, last=request.date_to - timedelta(milliseconds=1)), count
