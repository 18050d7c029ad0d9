"""Notification channels: create (a webhook's secret is shown once), read with their delivery
counters, change (``enabled: true`` re-enables a disabled channel and resolves its operational
alert), delete (refused while a rule names the channel)."""

from __future__ import annotations

from pydantic import BaseModel

from chronos_core.application.monitoring.commands import (
    ChannelCommand,
    CreateChannel,
    ListChannels,
    UpdateChannel,
)
from chronos_core.application.monitoring.delivery import resolve_channel_alert
from chronos_core.application.monitoring.deps import ChannelAdminDeps
from chronos_core.application.ports.models import Page
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import ConflictError, NotFoundError
from chronos_core.domain.model import utcnow
from chronos_core.domain.notifications import (
    Channel,
    ChannelStats,
    ChannelStatus,
    build_channel,
    parse_config,
)
from chronos_core.observability import logger


class CreatedChannel(BaseModel):
    """A new channel and, for a webhook, its signing secret (shown this once)."""

    channel: Channel
    secret: str | None = None


def create_channel(deps: ChannelAdminDeps, command: CreateChannel) -> CreatedChannel:
    """Validate and store a channel in a tenant the caller may write to. Raises
    ValidationError naming the field and PermissionDeniedError."""
    channel = build_channel(
        command.draft, command.principal.subject, allow_private=deps.monitoring_settings.webhook_allow_private
    )
    command.principal.require_tenant_for_write(channel.fiware_service)
    deps.channels.add(channel)
    logger.info("Channel created", extra={"channel_id": channel.id, "type": channel.type.value})
    return CreatedChannel(channel=channel, secret=channel.secret)


def get_channel(deps: ChannelAdminDeps, command: ChannelCommand) -> Channel:
    return visible_channel(deps, command.principal, command.channel_id)


def list_channels(deps: ChannelAdminDeps, command: ListChannels) -> Page[Channel]:
    return deps.channels.list(command.principal.visible_services(), command.skip, command.limit)


def update_channel(deps: ChannelAdminDeps, command: UpdateChannel) -> Channel:
    """Change a channel; re-enabling one resets its consecutive failures and resolves its
    operational alert (the channels that heard of it are told)."""
    channel = visible_channel(deps, command.principal, command.channel_id)
    command.principal.require_tenant_for_write(channel.fiware_service)
    changes = command.changes
    now = utcnow()
    update: dict[str, object] = {"updated_at": now}
    if changes.name is not None:
        update["name"] = changes.name
    if changes.config is not None:
        allow = deps.monitoring_settings.webhook_allow_private
        update["config"] = parse_config(channel.type, changes.config, allow_private=allow)
    if changes.secret is not None and channel.type.value == "webhook":
        update["secret"] = changes.secret
    if changes.max_consecutive_failures is not None:
        update["max_consecutive_failures"] = changes.max_consecutive_failures
    enabling = changes.enabled is True and not channel.active
    if changes.enabled is not None:
        update["status"] = ChannelStatus.ACTIVE if changes.enabled else ChannelStatus.DISABLED
        update["disabled_at"] = None if changes.enabled else now
        update["disabled_reason"] = None if changes.enabled else f"disabled by {command.principal.subject}"
    if enabling:
        update["stats"] = channel.stats.model_copy(update={"consecutive_failures": 0})
    updated = channel.model_copy(update=update)
    deps.channels.save(updated)
    if enabling:
        resolve_channel_alert(deps, updated, now, command.correlation_id)
    logger.info("Channel updated", extra={"channel_id": channel.id, "status": updated.status.value})
    return updated


def delete_channel(deps: ChannelAdminDeps, command: ChannelCommand) -> None:
    """Delete a channel no rule names (else ConflictError listing the rules)."""
    channel = visible_channel(deps, command.principal, command.channel_id)
    command.principal.require_tenant_for_write(channel.fiware_service)
    rules = deps.alert_rules.using_channel(channel.id)
    if rules:
        raise ConflictError(
            f"Channel {channel.id} is used by {len(rules)} rule(s); remove it from them first",
            details=[{"field": "rules", "message": ", ".join(rules[:20])}],
        )
    deps.channels.delete(channel.id)


def visible_channel(deps: ChannelAdminDeps, principal: Principal, channel_id: str) -> Channel:
    channel = deps.channels.get(channel_id)
    if channel is None:
        raise NotFoundError(f"Channel {channel_id} not found")
    principal.require_tenant(channel.fiware_service, resource=f"Channel {channel_id}")
    return channel


__all__ = ["ChannelStats", "CreatedChannel"]
