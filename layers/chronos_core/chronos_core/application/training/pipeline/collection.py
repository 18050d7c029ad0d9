"""Steps Plan and CollectChunk: split the job's window into Map items and page each one out of
STH-Comet into its S3 checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from chronos_core.application.training.pipeline.deps import PipelineDeps
from chronos_core.application.training.pipeline.events import ChunkEvent, ChunkResult, JobEvent, PlanResult
from chronos_core.application.training.pipeline.keys import chunk_key
from chronos_core.application.training.pipeline.lookup import require_job, require_model
from chronos_core.domain.training_job import CollectionPlan, choose_chunk_points, plan_chunks
from chronos_core.observability import logger


def plan(deps: PipelineDeps, event: JobEvent) -> PlanResult:
    """Split the job's window of points into Map items and start the collection phase. A retried
    job keeps the chunking of its first plan, so its checkpoints stay valid."""
    job = require_job(deps.jobs, event.job_id)
    settings = deps.pipeline_settings
    chunk_points = job.chunk_points or choose_chunk_points(
        job.last_n, settings.map_concurrency, settings.chunk_points
    )
    chunks = plan_chunks(job.window_offset, job.last_n, chunk_points)
    started = deps.jobs.start_collection(
        job.id,
        CollectionPlan(chunk_points=chunk_points, chunks_total=len(chunks), points_expected=job.last_n),
    )
    logger.info("Planned collection", extra={"job_id": job.id, "chunks": len(chunks)})
    return PlanResult(job_id=job.id, chunks=chunks if started else [], running=started is not None)


def collect_chunk(deps: PipelineDeps, event: ChunkEvent) -> ChunkResult:
    """Page one chunk out of STH-Comet into its checkpoint; skip it when the checkpoint exists
    (a retry) or the job has stopped running."""
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
    fetched = deps.series.fetch_range(model.source, event.offset, event.count)
    deps.objects.put_json(
        key,
        {"offset": event.offset, "requested": event.count, "points": [[_epoch_ms(t), v] for t, v in fetched]},
    )
    deps.jobs.record_chunk(job.id, event.offset, len(fetched))
    logger.info("Chunk collected", extra={"job_id": job.id, "offset": event.offset, "points": len(fetched)})
    return ChunkResult(job_id=job.id, offset=event.offset, points=len(fetched), skipped=False)


def _epoch_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)
