"""The payloads the state machine passes to each step, and what the steps return to it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from chronos_core.domain.ids import JobId
from chronos_core.domain.training_job import ChunkSpec

MAX_CAUSE_LENGTH: Final = 1000


class JobEvent(BaseModel):
    """Input of the plan, prepare and finalize steps."""

    job_id: JobId = Field(min_length=1, max_length=64)


class ChunkEvent(JobEvent):
    """One Map item: the chunk, and its share of the requests in flight to the series source."""

    offset: int = Field(ge=0)
    count: int = Field(gt=0)
    date_from: datetime | None = None
    date_to: datetime | None = None
    pages_in_flight: int = Field(default=1, ge=1)

    @property
    def chunk(self) -> ChunkSpec:
        return ChunkSpec(offset=self.offset, count=self.count, date_from=self.date_from, date_to=self.date_to)


class TrainEvent(JobEvent):
    dataset_key: str = Field(min_length=1)
    #: The AWS Batch job running the step, when it runs on Batch.
    batch_job_id: str | None = None


class FailureEvent(JobEvent):
    """The Catch payload: Step Functions' ``Error`` and ``Cause``."""

    failure: dict[str, Any] = Field(default_factory=dict)

    @property
    def error(self) -> str:
        return str(self.failure.get("Error") or "Error")

    @property
    def cause(self) -> str:
        return readable_cause(str(self.failure.get("Cause") or ""))


class PlanResult(BaseModel):
    job_id: JobId
    chunks: list[ChunkSpec]
    running: bool
    #: Each chunk's share of the requests in flight to the series source.
    pages_in_flight: int = 1


class ChunkResult(BaseModel):
    """``complete`` is false when the call stopped for time: the state machine calls again and
    the collection continues from the chunk's partial checkpoint."""

    job_id: JobId
    offset: int
    points: int
    skipped: bool
    complete: bool = True


class PrepareResult(BaseModel):
    job_id: JobId
    dataset_key: str
    points: int


class TrainResult(BaseModel):
    job_id: JobId
    trained: bool
    reason: str | None = None


class FinalizeResult(BaseModel):
    job_id: JobId
    status: str


class FailureResult(BaseModel):
    job_id: JobId
    recorded: bool


def readable_cause(cause: str) -> str:
    """Step Functions passes a Lambda (or Batch) error as a JSON ``Cause``; keep its message."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage") or parsed.get("StatusReason") or parsed.get("message")
        if isinstance(message, str):
            cause = message
    return (cause or "").strip()[:MAX_CAUSE_LENGTH]
