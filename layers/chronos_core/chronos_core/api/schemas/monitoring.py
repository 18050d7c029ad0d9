"""Bodies and responses of the monitoring routes (rules, alerts, channels, silences).

Rules, alerts, events, silences and notifications are shown as the use cases return them. A
channel is shown without its secret (``secret_set`` says whether it has one) and with the names,
not the values, of its extra webhook headers (they may carry the receiver's credentials); the
secret is shown once, when the channel is created.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.application.monitoring.rules import RuleView
from chronos_core.domain.monitoring import Alert, AlertEvent, AlertRule, Silence
from chronos_core.domain.notifications import Channel, ChannelStats, ChannelStatus, ChannelType


class RulePage(BaseModel):
    items: list[AlertRule]
    total: int
    skip: int
    limit: int


class EventPage(BaseModel):
    items: list[AlertEvent]
    total: int
    skip: int
    limit: int


class AlertPage(BaseModel):
    items: list[Alert]
    total: int
    skip: int
    limit: int


class SilencePage(BaseModel):
    items: list[Silence]
    total: int
    skip: int
    limit: int


class AcknowledgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=500)


class ChannelResponse(BaseModel):
    """A channel with its Orion-style delivery counters."""

    id: str
    name: str
    type: ChannelType
    fiware_service: str
    config: dict[str, Any]
    secret_set: bool
    status: ChannelStatus
    disabled_at: datetime | None
    disabled_reason: str | None
    max_consecutive_failures: int | None
    stats: ChannelStats
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, channel: Channel) -> ChannelResponse:
        config = channel.config.model_dump()
        if "headers" in config:
            config["headers"] = sorted(config["headers"])
        return cls(
            id=channel.id,
            name=channel.name,
            type=channel.type,
            fiware_service=channel.fiware_service,
            config=config,
            secret_set=bool(channel.secret),
            status=channel.status,
            disabled_at=channel.disabled_at,
            disabled_reason=channel.disabled_reason,
            max_consecutive_failures=channel.max_consecutive_failures,
            stats=channel.stats,
            created_at=channel.created_at,
            updated_at=channel.updated_at,
        )


class CreatedChannelResponse(ChannelResponse):
    """A new channel; ``secret`` (webhooks) signs every body and is never shown again."""

    secret: str | None = None


class ChannelPage(BaseModel):
    items: list[ChannelResponse]
    total: int
    skip: int
    limit: int


__all__ = ["RuleView"]
