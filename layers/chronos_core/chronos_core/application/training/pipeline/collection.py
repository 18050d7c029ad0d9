"""Steps Plan and CollectChunk: split the job's window into Map items and page each one out of
STH-Comet into its S3 checkpoint."""

from __future__ import annotations

from chronos_core.application.chunk_reading import drop_partial, read_chunk
from chronos_core.application.training.pipeline.deps import PipelineDeps
from chronos_core.application.training.pipeline.events import ChunkEvent, ChunkResult, JobEvent, PlanResult
from chronos_core.application.training.pipeline.keys import chunk_key, partial_chunk_key
from chronos_core.application.training.pipeline.lookup import require_job, require_model
from chronos_core.domain.training_job import (
    CollectionPlan,
    choose_chunk_points,
    pages_in_flight_per_chunk,
    plan_chunks,
    slice_by_time,
)
from chronos_core.observability import logger


def plan(deps: PipelineDeps, event: JobEvent) -> PlanResult:
    """Split the job's window of points into Map items and start the collection phase. Where the
    series source reads time ranges cheaper, the items are equal slices of the window in time. A
    retried job keeps the chunking and the window of its first plan, so its checkpoints stay
    valid."""
    job = require_job(deps.jobs, event.job_id)
    settings = deps.pipeline_settings
    chunk_points = job.chunk_points or choose_chunk_points(
        job.last_n, settings.map_concurrency, settings.chunk_points
    )
    chunks = plan_chunks(job.window_offset, job.last_n, chunk_points)
    window = job.time_window
    if job.chunk_points is None and chunks:
        model = require_model(deps, job)
        window = deps.series.time_window(model.source, job.window_offset, job.last_n)
    if window is not None:
        chunks = slice_by_time(chunks, window)
    started = deps.jobs.start_collection(
        job.id,
        CollectionPlan(
            chunk_points=chunk_points,
            chunks_total=len(chunks),
            points_expected=job.last_n,
            time_window=window,
        ),
    )
    share = pages_in_flight_per_chunk(settings.page_ceiling, len(chunks), settings.map_concurrency)
    logger.info(
        "Planned collection",
        extra={
            "job_id": job.id,
            "chunks": len(chunks),
            "by_time": window is not None,
            "pages_in_flight": share,
        },
    )
    return PlanResult(
        job_id=job.id, chunks=chunks if started else [], running=started is not None, pages_in_flight=share
    )


def collect_chunk(deps: PipelineDeps, event: ChunkEvent) -> ChunkResult:
    """Page one chunk out of STH-Comet into its checkpoint; skip it when the checkpoint exists
    (a retry) or the job has stopped running. A call that runs out of time keeps what it read in
    the chunk's partial checkpoint and answers ``complete=False``; the next call continues from
    there."""
    job = require_job(deps.jobs, event.job_id)
    model = require_model(deps, job)
    key = chunk_key(job.id, event.offset)
    if job.status.finished:
        return ChunkResult(job_id=job.id, offset=event.offset, points=0, skipped=True)
    if deps.objects.exists(key):
        points = deps.jobs.completed_chunks(job.id).get(event.offset)
        if points is None:
            points = len(deps.objects.get_json(key)["points"])
            deps.jobs.record_chunk(job.id, event.offset, points)
        logger.info("Chunk already collected", extra={"job_id": job.id, "offset": event.offset})
        return ChunkResult(job_id=job.id, offset=event.offset, points=points, skipped=True)

    partial_key = partial_chunk_key(job.id, event.offset)
    read = read_chunk(
        deps.objects,
        deps.series,
        model.source,
        event.chunk,
        partial_key=partial_key,
        pages_in_flight=event.pages_in_flight,
    )
    rows = read.rows
    if not read.complete:
        deps.jobs.record_chunk(job.id, event.offset, len(rows), complete=False)
        logger.info(
            "Chunk collected in part; continuing",
            extra={"job_id": job.id, "offset": event.offset, "points": len(rows)},
        )
        return ChunkResult(
            job_id=job.id, offset=event.offset, points=len(rows), skipped=False, complete=False
        )
    deps.objects.put_json(key, {"offset": event.offset, "requested": event.count, "points": rows})
    deps.jobs.record_chunk(job.id, event.offset, len(rows))
    drop_partial(deps.objects, partial_key)
    logger.info("Chunk collected", extra={"job_id": job.id, "offset": event.offset, "points": len(rows)})
    return ChunkResult(job_id=job.id, offset=event.offset, points=len(rows), skipped=False)
