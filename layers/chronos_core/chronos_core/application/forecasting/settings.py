"""What the forecast use cases need from the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.fiware import DEFAULT_FORECAST_ENTITY_TYPE, DEFAULT_FORECAST_GROUP_RESOURCE


class ForecastSettings(BaseModel):
    """Where forecasts are published and how their runs are retried."""

    model_config = ConfigDict(frozen=True)

    entity_type: str = DEFAULT_FORECAST_ENTITY_TYPE
    group_resource: str = DEFAULT_FORECAST_GROUP_RESOURCE
    max_receive_count: int = Field(default=3, ge=1)
    lease_seconds: float = Field(default=120.0, gt=0)
    max_claims_per_tick: int = Field(default=5000, ge=1)
    #: Scheduler shards: each tick runs one invocation per shard (1: the tick runs in-line).
    scheduler_shards: int = Field(default=1, ge=1, le=1024)
    #: How many forecasts of one SQS batch read their STH context and run at the same time.
    batch_concurrency: int = Field(default=10, ge=1, le=64)
    #: How long a toggle waits for a concurrent toggle of the same job before answering 409.
    toggle_wait_seconds: float = Field(default=10.0, ge=0)
    #: How long a toggle's lease lasts if its holder dies (it is given back when it ends).
    toggle_lease_seconds: float = Field(default=60.0, gt=0)
