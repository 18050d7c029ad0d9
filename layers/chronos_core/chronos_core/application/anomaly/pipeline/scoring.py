"""The Map item: step ScoreChunk reads a chunk (its context and its slice) and scores it into
its checkpoint; step RecordChunkFailure records a chunk that could not be scored."""

from __future__ import annotations

from chronos_core.application.anomaly.deps import ScanPipelineDeps
from chronos_core.application.anomaly.pipeline.events import (
    ChunkFailureEvent,
    ChunkFailureResult,
    ScanChunkEvent,
    ScoreResult,
)
from chronos_core.application.anomaly.pipeline.keys import partial_chunk_key, scored_chunk_key
from chronos_core.application.anomaly.pipeline.lookup import require_job, require_model, require_scan
from chronos_core.application.chunk_reading import drop_partial, read_chunk
from chronos_core.application.ports.anomaly import ScanJournal
from chronos_core.domain.anomaly import ChunkRecord, ChunkScores
from chronos_core.domain.ids import ScanId
from chronos_core.domain.model import from_epoch_ms
from chronos_core.observability import logger


def score_chunk(deps: ScanPipelineDeps, event: ScanChunkEvent) -> ScoreResult:
    """Read the chunk (over several calls if its reading runs out of time: ``complete=False``,
    continued from the partial checkpoint, as the training reads its chunks) and score it with
    the job's served forecaster; its checkpoint keeps the candidates, counts and data-quality
    issues. A chunk whose checkpoint exists (a retry) is not scored again, nor one of a scan that
    stopped running."""
    scan = require_scan(deps.scans, event.scan_id)
    if scan.status.finished:
        return ScoreResult(scan_id=scan.id, offset=event.offset, points=0, skipped=True)
    key = scored_chunk_key(scan.id, event.offset)
    if deps.objects.exists(key):
        return _already_scored(deps, scan.id, event.offset, key, scan.settings.false_discovery_rate)
    model = require_model(deps, scan)
    scorer = deps.scorers.load(require_job(deps.jobs, scan).trained_artifacts(), scan.settings.horizon_steps)
    chunk = event.chunk
    partial = partial_chunk_key(scan.id, event.offset)
    read = read_chunk(
        deps.objects,
        deps.series,
        model.source,
        chunk.collection(scan.context_points),
        partial_key=partial,
        pages_in_flight=event.pages_in_flight,
    )
    if not read.complete:
        deps.scans.record_chunk(
            scan.id, ChunkRecord(offset=event.offset, state="partial", points_read=len(read.rows))
        )
        return ScoreResult(
            scan_id=scan.id, offset=event.offset, points=len(read.rows), skipped=False, complete=False
        )
    points = [(from_epoch_ms(int(ms)), value) for ms, value in read.rows]
    scores = scorer.score(points, score_from=chunk.date_from, settings=scan.settings)
    deps.objects.put_json(key, scores.model_dump(mode="json"))
    _record_scored(deps.scans, scan.id, event.offset, scores, scan.settings.false_discovery_rate)
    drop_partial(deps.objects, partial)
    logger.info(
        "Chunk scored",
        extra={
            "scan_id": scan.id,
            "offset": event.offset,
            "points": scores.points_scored,
            "candidates": len(scores.candidates),
        },
    )
    return ScoreResult(scan_id=scan.id, offset=event.offset, points=scores.points_scored, skipped=False)


def _already_scored(
    deps: ScanPipelineDeps, scan_id: ScanId, offset: int, key: str, rate: float
) -> ScoreResult:
    records = deps.scans.chunk_records(scan_id)
    record = records.get(offset)
    if record is None or record.state != "scored":
        scores = ChunkScores.model_validate(deps.objects.get_json(key))
        record = _record_scored(deps.scans, scan_id, offset, scores, rate)
    logger.info("Chunk already scored", extra={"scan_id": scan_id, "offset": offset})
    return ScoreResult(scan_id=scan_id, offset=offset, points=record.points_scored, skipped=True)


def _record_scored(
    journal: ScanJournal, scan_id: ScanId, offset: int, scores: ChunkScores, rate: float
) -> ChunkRecord:
    record = ChunkRecord(
        offset=offset,
        state="scored",
        points_read=scores.points_read,
        points_scored=scores.points_scored,
        anomalies=scores.anomalies_alone(rate),
    )
    journal.record_chunk(scan_id, record)
    return record


def record_chunk_failure(deps: ScanPipelineDeps, event: ChunkFailureEvent) -> ChunkFailureResult:
    """Record a chunk whose scoring failed after its retries (error and cause), and say whether
    the scan must stop: more chunks failed than it tolerates."""
    scan = require_scan(deps.scans, event.scan_id)
    if scan.status.finished:
        return ChunkFailureResult(scan_id=scan.id, offset=event.offset, recorded=False, abort=False)
    record = ChunkRecord(offset=event.offset, state="failed", error=event.error, cause=event.cause)
    recorded = deps.scans.record_chunk(scan.id, record)
    failed = sum(1 for r in deps.scans.chunk_records(scan.id).values() if r.state == "failed")
    abort = scan.settings.too_many_failures(failed, scan.progress.chunks_total)
    logger.warning(
        "Chunk failed",
        extra={
            "scan_id": scan.id,
            "offset": event.offset,
            "error": event.error,
            "failed": failed,
            "abort": abort,
        },
    )
    return ChunkFailureResult(scan_id=scan.id, offset=event.offset, recorded=recorded, abort=abort)
