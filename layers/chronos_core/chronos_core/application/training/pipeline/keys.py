"""Where a job's pipeline data lives in the pipeline bucket."""

from __future__ import annotations

from chronos_core.domain.ids import JobId


def job_prefix(job_id: JobId) -> str:
    return f"jobs/{job_id}/"


def chunk_key(job_id: JobId, offset: int) -> str:
    """The checkpoint of the Map item starting at ``offset``."""
    return f"jobs/{job_id}/chunks/{offset:012d}.json"


def partial_chunk_key(job_id: JobId, offset: int) -> str:
    """What a Map item collected so far, while it continues over several calls."""
    return f"jobs/{job_id}/partial/{offset:012d}.json"


def dataset_key(job_id: JobId) -> str:
    """The merged dataset the trainer reads."""
    return f"jobs/{job_id}/dataset.json"
