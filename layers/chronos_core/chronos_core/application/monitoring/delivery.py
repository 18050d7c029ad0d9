"""Delivering one queued notification: one attempt, its outcome recorded on the notification and
on the channel's counters, and the decision to retry, give up or disable the channel.

Contracts:

* **Once.** A delivered (or failed, silenced, superseded) notification is never sent again; each
  attempt number is claimed once, so a message SQS delivers twice sends once.
* **Nothing untrue.** A firing whose alert resolved before it went out is ``superseded``, and so
  is a resolution for a channel that never received the firing: an alert that fired and
  resolved before anything was delivered notifies nobody.
* **Retries.** A retryable failure with attempts left is ``retrying (attempt n)`` and the caller
  makes the message reappear after :attr:`DeliveryResult.retry_in_seconds`; a message that comes
  back early waits out the rest. A permanent failure, or the last attempt, is ``failed``.
* **Channel health.** After ``max_consecutive_failures`` failed attempts in a row the channel is
  disabled, which opens an operational alert notified to the tenant's other active channels.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from chronos_core.application.monitoring.commands import DeliverNotification
from chronos_core.application.monitoring.deps import DeliveryDeps, DispatchDeps
from chronos_core.application.monitoring.dispatch import notifications_for, store_and_queue
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.model import utcnow
from chronos_core.domain.monitoring import (
    Alert,
    AlertEvent,
    AlertState,
    AlertStatus,
    Outcome,
    Severity,
    fingerprint,
)
from chronos_core.domain.notifications import (
    Channel,
    ChannelStats,
    DeliveryAttempt,
    DeliveryOutcome,
    Notification,
    NotificationStatus,
    retry_delay,
    truncated_reason,
)
from chronos_core.observability import logger

CHANNEL_DISABLED_RULE = "channel_disabled"
MAX_HISTORY = 20


class DeliveryResult(BaseModel):
    """What one delivery did: ``retry_in_seconds`` asks the caller to bring the message back."""

    notification_id: str
    status: str
    action: Literal["delivered", "retry", "failed", "skipped", "superseded", "wait"]
    attempt: int = 0
    retry_in_seconds: float | None = None
    reason: str | None = None


def deliver_notification(deps: DeliveryDeps, command: DeliverNotification) -> DeliveryResult:
    """Make one delivery attempt of the notification (see the module contracts). Raises
    ConflictError while another worker holds the same attempt."""
    now = command.now or utcnow()
    notification = deps.notifications.get(command.notification_id)
    if notification is None:
        return DeliveryResult(notification_id=command.notification_id, status="missing", action="skipped")
    if notification.status.final:
        return _result(notification, "skipped", f"already {notification.status.value}")
    if notification.next_attempt_at is not None and notification.next_attempt_at > now + timedelta(seconds=1):
        wait = (notification.next_attempt_at - now).total_seconds()
        return _result(notification, "wait", "came back before its retry time", retry_in=wait)
    channel = deps.channels.get(notification.channel_id)
    refusal = _refusal(deps, notification, channel)
    if refusal is not None:
        status, reason = refusal
        return _close(deps, notification, status, reason, now)
    assert channel is not None
    attempt = notification.attempts + 1
    if not deps.notifications.claim_attempt(notification.id, attempt):
        raise ConflictError(f"Attempt {attempt} of notification {notification.id} is running elsewhere")
    outcome = deps.notifier.deliver(channel, notification)
    stats = deps.channels.record_delivery(channel.id, outcome, now)
    result = _record(deps, notification, attempt, outcome, now)
    if not outcome.ok and stats is not None:
        _disable_if_failing(deps, channel, stats, now, command.correlation_id)
    return result


def _refusal(
    deps: DeliveryDeps, notification: Notification, channel: Channel | None
) -> tuple[NotificationStatus, str] | None:
    """Why the notification must not be sent (it is closed with that status), or None."""
    if channel is None:
        return NotificationStatus.FAILED, "the channel was deleted"
    if not channel.active:
        return NotificationStatus.FAILED, "the channel is disabled"
    alert = deps.alerts.get_alert(notification.alert_id)
    if alert is None:
        return NotificationStatus.SUPERSEDED, "the alert no longer exists"
    if notification.kind != "resolved" and not alert.active:
        return NotificationStatus.SUPERSEDED, "the alert resolved before this notification went out"
    if notification.kind == "resolved" and channel.id not in deps.notifications.delivered_channels(alert.id):
        return NotificationStatus.SUPERSEDED, "the channel never received the firing"
    return None


def _record(
    deps: DeliveryDeps, notification: Notification, attempt: int, outcome: DeliveryOutcome, now: datetime
) -> DeliveryResult:
    settings = deps.monitoring_settings
    retry_in: float | None = None
    if outcome.ok:
        status, action = NotificationStatus.DELIVERED, "delivered"
    elif outcome.retryable and attempt < notification.max_attempts:
        status, action = NotificationStatus.RETRYING, "retry"
        retry_in = retry_delay(
            attempt,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
            retry_after=outcome.retry_after,
        )
    else:
        status, action = NotificationStatus.FAILED, "failed"
    reason = truncated_reason(outcome.reason)
    entry = DeliveryAttempt(
        attempt=attempt,
        at=now,
        ok=outcome.ok,
        status_code=outcome.status_code,
        reason=reason,
        retry_in_seconds=retry_in,
    )
    updated = notification.model_copy(
        update={
            "status": status,
            "attempts": attempt,
            "history": [*notification.history, entry][-MAX_HISTORY:],
            "last_error": None if outcome.ok else reason,
            "next_attempt_at": now + timedelta(seconds=retry_in) if retry_in is not None else None,
            "delivered_at": now if outcome.ok else None,
            "updated_at": now,
        }
    )
    deps.notifications.save(updated)
    log = logger.info if outcome.ok else logger.warning
    log(
        "Notification attempt",
        extra={
            "notification_id": notification.id,
            "attempt": attempt,
            "status": status.value,
            "reason": reason,
        },
    )
    return _result(updated, action, reason, retry_in=retry_in)  # type: ignore[arg-type]


def _close(
    deps: DeliveryDeps, notification: Notification, status: NotificationStatus, reason: str, now: datetime
) -> DeliveryResult:
    closed = notification.model_copy(update={"status": status, "last_error": reason, "updated_at": now})
    deps.notifications.save(closed)
    action = "superseded" if status == NotificationStatus.SUPERSEDED else "failed"
    return _result(closed, action, reason)  # type: ignore[arg-type]


def _result(
    notification: Notification,
    action: Literal["delivered", "retry", "failed", "skipped", "superseded", "wait"],
    reason: str | None,
    *,
    retry_in: float | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        notification_id=notification.id,
        status=notification.status_label,
        action=action,
        attempt=notification.attempts,
        retry_in_seconds=retry_in,
        reason=reason,
    )


# ---------------------------------------------------------------------------- channel health


def failure_limit(deps: DispatchDeps, channel: Channel) -> int:
    return channel.max_consecutive_failures or deps.monitoring_settings.channel_max_consecutive_failures


def _disable_if_failing(
    deps: DeliveryDeps, channel: Channel, stats: ChannelStats, now: datetime, correlation_id: str
) -> None:
    limit = failure_limit(deps, channel)
    if stats.consecutive_failures < limit:
        return
    reason = f"{stats.consecutive_failures} consecutive failed deliveries (last: {stats.last_failure_reason})"
    if not deps.channels.disable(channel.id, reason, now):
        return  # disabled already (by a concurrent delivery)
    logger.warning("Channel disabled", extra={"channel_id": channel.id, "reason": reason})
    raise_channel_alert(deps, channel, reason, stats, now, correlation_id)


def channel_fingerprint(channel: Channel) -> str:
    return fingerprint(channel.fiware_service, "/", f"channel:{channel.id}", None, channel.id, "delivery")


def raise_channel_alert(
    deps: DispatchDeps, channel: Channel, reason: str, stats: ChannelStats, now: datetime, correlation_id: str
) -> Alert | None:
    """Open the operational alert of a disabled channel (once) and notify the tenant's other
    active channels."""
    key = channel_fingerprint(channel)
    if deps.alerts.active_with_fingerprint(key) is not None:
        return None
    alert = Alert(
        fingerprint=key,
        rule_id=None,
        rule_name=f"Channel {channel.name} disabled",
        rule_type=CHANNEL_DISABLED_RULE,
        severity=Severity.HIGH,
        fiware_service=channel.fiware_service,
        message=f"Channel {channel.name} ({channel.type.value}) was disabled: {reason}"[:500],
        values={
            "channel_id": channel.id,
            "channel_type": channel.type.value,
            **stats.model_dump(mode="json"),
        },
        started_at=now,
        updated_at=now,
    )
    others = [c.id for c in deps.channels.active_in(channel.fiware_service) if c.id != channel.id]
    alert.channels = others
    deps.alerts.add_alert(alert)
    deps.alerts.add_events([_channel_event(alert, AlertState.OK, AlertState.FIRING, now)])
    store_and_queue(deps, notifications_for(deps, alert, "firing", others, now), correlation_id)
    return alert


def resolve_channel_alert(
    deps: DispatchDeps, channel: Channel, now: datetime, correlation_id: str
) -> Alert | None:
    """Resolve the operational alert of a channel that was enabled again, and notify the
    channels that received its firing."""
    alert = deps.alerts.active_with_fingerprint(channel_fingerprint(channel))
    if alert is None:
        return None
    resolved = alert.model_copy(
        update={"status": AlertStatus.RESOLVED, "state": AlertState.OK, "resolved_at": now, "updated_at": now}
    )
    deps.alerts.save_alert(resolved)
    deps.alerts.add_events([_channel_event(resolved, AlertState.FIRING, AlertState.OK, now)])
    store_and_queue(deps, notifications_for(deps, resolved, "resolved", alert.channels, now), correlation_id)
    return resolved


def _channel_event(alert: Alert, from_state: AlertState, to_state: AlertState, now: datetime) -> AlertEvent:
    return AlertEvent(
        rule_id=None,
        alert_id=alert.id,
        fingerprint=alert.fingerprint,
        fiware_service=alert.fiware_service,
        at=now,
        from_state=from_state,
        to_state=to_state,
        outcome=Outcome.BREACH if to_state == AlertState.FIRING else Outcome.OK,
        message=alert.message,
        values=alert.values,
    )
