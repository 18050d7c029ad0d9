"""Notifications (``alert_notifications``), the claim of each delivery attempt
(``notification_attempts``: an insert of ``<notification>#<n>``, so two workers holding the same
SQS message never send attempt ``n`` twice), and channels with their Orion-style delivery
counters (``alert_channels``, updated under a per-channel lease)."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chronos_core.adapters.mongo.client import (
    ALERT_CHANNELS,
    ALERT_NOTIFICATIONS,
    NOTIFICATION_ATTEMPTS,
    Document,
    with_retries,
)
from chronos_core.adapters.mongo.leases import MongoLeases
from chronos_core.application.ports.models import Page
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.notifications import (
    Channel,
    ChannelStats,
    ChannelStatus,
    DeliveryOutcome,
    Notification,
    NotificationStatus,
    truncated_reason,
)

#: How long a counter update waits for the channel's lease, and how long the lease lasts.
LEASE_WAIT_SECONDS: Final = 3.0
LEASE_SECONDS: Final = 10.0


def counted(stats: ChannelStats, outcome: DeliveryOutcome, at: datetime) -> ChannelStats:
    """The counters after one attempt (a success resets the consecutive failures)."""
    common = {"times_sent": stats.times_sent + 1, "last_notification": at}
    if outcome.ok:
        return stats.model_copy(
            update={
                **common,
                "delivered": stats.delivered + 1,
                "last_success": at,
                "last_success_code": outcome.status_code,
                "consecutive_failures": 0,
            }
        )
    return stats.model_copy(
        update={
            **common,
            "failed": stats.failed + 1,
            "last_failure": at,
            "last_failure_reason": truncated_reason(outcome.reason),
            "consecutive_failures": stats.consecutive_failures + 1,
        }
    )


def _without_id(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k != "_id"}


class MongoNotificationStore:
    """:class:`~chronos_core.application.ports.monitoring.NotificationStore` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._notifications: Collection[Document] = db[ALERT_NOTIFICATIONS]
        self._attempts_claims: Collection[Document] = db[NOTIFICATION_ATTEMPTS]
        self._attempts = attempts

    @with_retries
    def add_many(self, notifications: Sequence[Notification]) -> None:
        if notifications:
            docs = [{"_id": n.id, **n.model_dump()} for n in notifications]
            self._notifications.insert_many(docs, ordered=False)

    @with_retries
    def get(self, notification_id: str) -> Notification | None:
        doc = self._notifications.find_one({"_id": notification_id})
        return Notification.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def save(self, notification: Notification) -> None:
        self._notifications.replace_one(
            {"_id": notification.id}, {"_id": notification.id, **notification.model_dump()}
        )

    @with_retries
    def for_alert(self, alert_id: str) -> list[Notification]:
        cursor = self._notifications.find({"alert_id": alert_id}).sort("created_at", ASCENDING)
        return [Notification.model_validate(_without_id(d)) for d in cursor]

    @with_retries
    def claim_attempt(self, notification_id: str, attempt: int) -> bool:
        try:
            self._attempts_claims.insert_one({"_id": f"{notification_id}#{attempt}"})
        except DuplicateKeyError:
            return False
        return True

    @with_retries
    def unsent(self, created_before: datetime, limit: int) -> list[Notification]:
        query = {
            "status": NotificationStatus.PENDING.value,
            "attempts": 0,
            "created_at": {"$lt": created_before},
        }
        cursor = self._notifications.find(query).sort("created_at", ASCENDING).limit(limit)
        return [Notification.model_validate(_without_id(d)) for d in cursor]

    @with_retries
    def delivered_channels(self, alert_id: str) -> set[str]:
        query = {
            "alert_id": alert_id,
            "status": NotificationStatus.DELIVERED.value,
            "kind": {"$in": ["firing", "repeat"]},
        }
        return {str(d["channel_id"]) for d in self._notifications.find(query, {"channel_id": 1})}


class MongoChannelStore:
    """:class:`~chronos_core.application.ports.monitoring.ChannelStore` on ``alert_channels``.

    Counters change under a short per-channel lease (an insert on ``leases``): FerretDB v1 loses
    concurrent ``$inc`` updates of one document (measured: six concurrent increments counted
    three), and a channel's consecutive failures decide when it is disabled. Should the lease
    stay taken past :data:`LEASE_WAIT_SECONDS` (its holder died), the update is made without it.
    """

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._channels: Collection[Document] = db[ALERT_CHANNELS]
        self._leases = MongoLeases(db, attempts=attempts)
        self._attempts = attempts

    @with_retries
    def add(self, channel: Channel) -> None:
        try:
            self._channels.insert_one({"_id": channel.id, **channel.model_dump()})
        except DuplicateKeyError as exc:
            raise ConflictError(f"Channel {channel.id} already exists") from exc

    @with_retries
    def get(self, channel_id: str) -> Channel | None:
        doc = self._channels.find_one({"_id": channel_id})
        return Channel.model_validate(_without_id(doc)) if doc else None

    @with_retries
    def get_many(self, channel_ids: Sequence[str]) -> dict[str, Channel]:
        if not channel_ids:
            return {}
        docs = self._channels.find({"_id": {"$in": list(channel_ids)}})
        return {str(d["_id"]): Channel.model_validate(_without_id(d)) for d in docs}

    def save(self, channel: Channel) -> None:
        """Store the definition (name, config, secret, status) and the consecutive-failure count
        (reset when the channel is enabled again); the other counters are kept."""
        fields = channel.model_dump(exclude={"stats"})
        with self._stats_lease(channel.id):
            self._update(
                channel.id,
                {"$set": {**fields, "stats.consecutive_failures": channel.stats.consecutive_failures}},
            )

    @with_retries
    def delete(self, channel_id: str) -> bool:
        return self._channels.delete_one({"_id": channel_id}).deleted_count == 1

    @with_retries
    def active_in(self, fiware_service: str) -> list[Channel]:
        query = {"fiware_service": fiware_service, "status": ChannelStatus.ACTIVE.value}
        return [Channel.model_validate(_without_id(d)) for d in self._channels.find(query)]

    def record_delivery(self, channel_id: str, outcome: DeliveryOutcome, at: datetime) -> ChannelStats | None:
        with self._stats_lease(channel_id):
            channel = self.get(channel_id)
            if channel is None:
                return None
            stats = counted(channel.stats, outcome, at)
            self._update(channel_id, {"$set": {"stats": stats.model_dump()}})
            return stats

    def disable(self, channel_id: str, reason: str, at: datetime) -> bool:
        with self._stats_lease(channel_id):
            channel = self.get(channel_id)
            if channel is None or not channel.active:
                return False
            fields = {
                "status": ChannelStatus.DISABLED.value,
                "disabled_at": at,
                "disabled_reason": reason[:500],
            }
            self._update(channel_id, {"$set": fields})
            return True

    @with_retries
    def _update(self, channel_id: str, update: dict[str, Any]) -> None:
        self._channels.update_one({"_id": channel_id}, update)

    @contextlib.contextmanager
    def _stats_lease(self, channel_id: str) -> Iterator[None]:
        name, holder = f"channel-stats:{channel_id}", uuid.uuid4().hex
        deadline = time.monotonic() + LEASE_WAIT_SECONDS
        held = self._leases.acquire(name, holder, LEASE_SECONDS)
        while not held and time.monotonic() < deadline:
            time.sleep(random.uniform(0.005, 0.03))  # noqa: S311 - jitter
            held = self._leases.acquire(name, holder, LEASE_SECONDS)
        try:
            yield
        finally:
            if held:
                self._leases.release(name, holder)

    @with_retries
    def list(self, services: frozenset[str] | None, skip: int, limit: int) -> Page[Channel]:
        query: dict[str, Any] = {}
        if services is not None:
            query["fiware_service"] = {"$in": sorted(services)}
        total = self._channels.count_documents(query)
        cursor = (
            self._channels.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return Page(
            items=[Channel.model_validate(_without_id(d)) for d in cursor],
            total=total,
            skip=skip,
            limit=limit,
        )
