"""Step Prepare: merge the checkpoints, check the data and write the dataset."""

from __future__ import annotations

from typing import Any

from chronos_core.application.training.pipeline.deps import PipelineDeps
from chronos_core.application.training.pipeline.events import JobEvent, PrepareResult
from chronos_core.application.training.pipeline.keys import chunk_key, dataset_key
from chronos_core.application.training.pipeline.lookup import require_job, require_model
from chronos_core.domain.errors import NotFoundError
from chronos_core.observability import logger


def prepare(deps: PipelineDeps, event: JobEvent) -> PrepareResult:
    """Merge the checkpoints in offset order, check the data (quality report, enough points) and
    write the dataset; the job then waits in ``queued`` for the trainer."""
    job = require_job(deps.jobs, event.job_id)
    model = require_model(deps, job)
    deps.jobs.start_preparation(job.id)
    if job.chunk_points is None:
        raise NotFoundError(f"Training job {job.id} was never planned")
    points: list[list[Any]] = []
    for chunk in job.chunks():
        points.extend(deps.objects.get_json(chunk_key(job.id, chunk.offset))["points"])
    summary = deps.preparer.summarize([(ms / 1000.0, value) for ms, value in points], model)
    key = dataset_key(job.id)
    deps.objects.put_json(key, {"job_id": job.id, "feature": model.source.feature, "points": points})
    deps.jobs.record_dataset(job.id, summary)
    logger.info(
        "Dataset prepared",
        extra={"job_id": job.id, "points": len(points), **summary.data_quality.model_dump(mode="json")},
    )
    return PrepareResult(job_id=job.id, dataset_key=key, points=len(points))
