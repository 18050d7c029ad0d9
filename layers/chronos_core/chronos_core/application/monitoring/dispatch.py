"""Creating the notifications of an alert and queueing them for delivery.

A notification is stored first (``pending``, or ``silenced``), then its id is sent to the
notification queue. An id the queue refused stays ``pending`` and is sent again by a later
evaluator tick (:func:`resend_unsent`), so a lost send delays a notification, never drops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from chronos_core.application.monitoring.deps import DispatchDeps
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.monitoring import Alert, NotificationKind
from chronos_core.domain.notifications import Notification, NotificationStatus, notification_payload
from chronos_core.observability import logger

#: Unsent notifications a tick sends again at most.
RESEND_BATCH = 500


def notifications_for(
    deps: DispatchDeps,
    alert: Alert,
    kind: NotificationKind,
    channel_ids: Sequence[str],
    now: datetime,
    *,
    silenced: bool = False,
) -> list[Notification]:
    """One notification per existing channel of the alert's tenant (a deleted channel is
    skipped), ``silenced`` when a silence holds them back."""
    channels = deps.channels.get_many(list(channel_ids))
    built = []
    for channel_id in channel_ids:
        channel = channels.get(channel_id)
        if channel is None or channel.fiware_service != alert.fiware_service:
            continue
        notification = Notification(
            alert_id=alert.id,
            rule_id=alert.rule_id,
            channel_id=channel.id,
            channel_type=channel.type,
            fiware_service=alert.fiware_service,
            kind=kind,
            status=NotificationStatus.SILENCED if silenced else NotificationStatus.PENDING,
            max_attempts=deps.monitoring_settings.notification_max_attempts,
            created_at=now,
            updated_at=now,
        )
        notification.payload = notification_payload(alert, kind, notification.id)
        built.append(notification)
    return built


def store_and_queue(deps: DispatchDeps, notifications: Sequence[Notification], correlation_id: str) -> int:
    """Store the notifications and queue the pending ones; returns how many were queued."""
    if not notifications:
        return 0
    deps.notifications.add_many(notifications)
    pending = [n.id for n in notifications if n.status == NotificationStatus.PENDING]
    return queue(deps, pending, correlation_id)


def queue(deps: DispatchDeps, notification_ids: Sequence[str], correlation_id: str) -> int:
    """Send ids to the queue (best effort: unsent ones are sent again by a later tick)."""
    if not notification_ids:
        return 0
    try:
        failed = deps.notification_queue.send(list(notification_ids), correlation_id)
    except DependencyUnavailableError as exc:
        logger.warning("Notifications not queued: no queue", extra={"reason": exc.message})
        return 0
    if failed:
        logger.warning("Some notifications could not be queued", extra={"failed": len(failed)})
    return len(notification_ids) - len(failed)


def resend_unsent(deps: DispatchDeps, now: datetime, correlation_id: str) -> int:
    """Queue again the pending notifications never attempted since their creation."""
    older = now - timedelta(seconds=deps.monitoring_settings.resend_unsent_after_seconds)
    unsent = deps.notifications.unsent(older, RESEND_BATCH)
    return queue(deps, [n.id for n in unsent], correlation_id) if unsent else 0
