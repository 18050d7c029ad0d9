"""The payloads the scan state machine passes to each step, and what the steps return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from chronos_core.application.training.pipeline.events import readable_cause
from chronos_core.domain.anomaly import ScanChunk
from chronos_core.domain.ids import ScanId


class ScanEvent(BaseModel):
    """Input of the plan, combine and publish steps."""

    scan_id: ScanId = Field(min_length=1, max_length=64)


class ScanChunkEvent(ScanEvent):
    """One Map item: the chunk, and its share of the requests in flight to the series source."""

    offset: int = Field(ge=0)
    count: int = Field(gt=0)
    date_from: datetime
    date_to: datetime
    context_from: datetime
    pages_in_flight: int = Field(default=1, ge=1)

    @property
    def chunk(self) -> ScanChunk:
        return ScanChunk(
            offset=self.offset,
            count=self.count,
            date_from=self.date_from,
            date_to=self.date_to,
            context_from=self.context_from,
        )


class _Failure(BaseModel):
    """Step Functions' ``Error`` and ``Cause`` as a Catch passes them."""

    failure: dict[str, Any] = Field(default_factory=dict)

    @property
    def error(self) -> str:
        return str(self.failure.get("Error") or "Error")

    @property
    def cause(self) -> str:
        return readable_cause(str(self.failure.get("Cause") or ""))


class ChunkFailureEvent(ScanEvent, _Failure):
    """A Map item whose scoring failed for good (its retries spent)."""

    offset: int = Field(ge=0)


class ScanFailureEvent(ScanEvent, _Failure):
    """The Catch payload of every top-level state."""


class ScanPlanResult(BaseModel):
    scan_id: ScanId
    chunks: list[ScanChunk]
    running: bool
    pages_in_flight: int = 1


class ScoreResult(BaseModel):
    """``complete`` is false when the call stopped for time while reading: the state machine
    calls again and the reading continues from the chunk's partial checkpoint."""

    scan_id: ScanId
    offset: int
    points: int
    skipped: bool
    complete: bool = True


class ChunkFailureResult(BaseModel):
    """``abort``: more chunks failed than the scan tolerates (the Map item then fails, and the
    scan with it)."""

    scan_id: ScanId
    offset: int
    recorded: bool
    abort: bool


class CombineResult(BaseModel):
    scan_id: ScanId
    events: int
    running: bool


class PublishResult(BaseModel):
    scan_id: ScanId
    status: str
    published: int


class ScanFailureResult(BaseModel):
    scan_id: ScanId
    recorded: bool
