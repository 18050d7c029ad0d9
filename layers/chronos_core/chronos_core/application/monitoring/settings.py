"""What the monitoring use cases need from the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitoringSettings(BaseModel):
    """How rules are evaluated and notifications delivered."""

    model_config = ConfigDict(frozen=True)

    #: Attempts per notification before it is ``failed``.
    notification_max_attempts: int = Field(default=5, ge=1, le=50)
    #: First retry delay; doubles per attempt (with jitter), at least the receiver's Retry-After.
    retry_base_seconds: float = Field(default=2.0, ge=0)
    retry_max_seconds: float = Field(default=900.0, gt=0, le=43_200)
    #: Consecutive failed attempts after which a channel is disabled (a channel may set its own).
    channel_max_consecutive_failures: int = Field(default=5, ge=1, le=1000)
    #: Rules evaluated at once in a tick (their metrics read STH).
    evaluation_concurrency: int = Field(default=8, ge=1, le=64)
    max_rules_per_tick: int = Field(default=10_000, ge=1)
    #: Webhooks may target loopback and private addresses (local stacks only).
    webhook_allow_private: bool = False
    #: A pending notification never attempted this long after its creation is sent again.
    resend_unsent_after_seconds: float = Field(default=120.0, gt=0)
    #: Published forecasts kept per job for live accuracy.
    forecast_log_per_job: int = Field(default=200, ge=10, le=5000)
