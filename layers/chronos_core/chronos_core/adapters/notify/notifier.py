"""The :class:`~chronos_core.application.ports.monitoring.Notifier`: one attempt through the
channel's kind. Each sender is built on first use, so a deployment without SNS or Orion still
delivers webhooks; a sender that cannot be built (Orion not configured) fails permanently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from chronos_core.domain.errors import ChronosError
from chronos_core.domain.notifications import Channel, ChannelType, DeliveryOutcome, Notification


class Sender(Protocol):
    def send(self, channel: Channel, notification: Notification) -> DeliveryOutcome: ...


class ChannelNotifier:
    def __init__(self, senders: dict[ChannelType, Callable[[], Sender]]) -> None:
        self._factories = senders
        self._senders: dict[ChannelType, Sender] = {}

    def deliver(self, channel: Channel, notification: Notification) -> DeliveryOutcome:
        try:
            sender = self._sender(channel.type)
        except ChronosError as exc:
            return DeliveryOutcome(ok=False, retryable=False, reason=exc.message[:300])
        return sender.send(channel, notification)

    def _sender(self, kind: ChannelType) -> Sender:
        if kind not in self._senders:
            self._senders[kind] = self._factories[kind]()
        return self._senders[kind]
