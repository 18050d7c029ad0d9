"""Webhook deliveries: the notification's JSON body, signed (HMAC-SHA256 over
``"<timestamp>.<body>"`` with the channel's secret; ``X-Chronos-Timestamp`` and
``X-Chronos-Signature: v1=<hex>``), POSTed once per attempt.

* Redirects are not followed (a 3xx is a permanent failure): a receiver cannot bounce a signed
  notification, or Chronos itself, to another address.
* Unless private targets are allowed (local stacks), the host is resolved before each attempt
  and an address that is loopback, private, link-local or reserved is refused (permanent), so a
  public name cannot be pointed at the internal network later.
* Timeouts and connection errors are retryable; the receiver's ``Retry-After`` is read.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from chronos_core import __version__
from chronos_core.domain.model import iso_z, utcnow
from chronos_core.domain.notifications import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Channel,
    DeliveryOutcome,
    Notification,
    WebhookConfig,
    address_is_private,
    outcome_of_status,
    parse_retry_after,
    sign_webhook,
)

USER_AGENT: Final = f"chronos-alerts/{__version__}"
Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` resolves to."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def webhook_body(notification: Notification, attempt: int) -> bytes:
    """The exact bytes sent (and signed): the payload with the attempt and the sending time."""
    body: dict[str, Any] = {**notification.payload, "attempt": attempt, "sent_at": iso_z(utcnow())}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


class WebhookSender:
    """POSTs signed notification bodies with one pooled :class:`httpx.Client`."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        client: httpx.Client | None = None,
        resolver: Resolver = resolve_host,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._allow_private = allow_private
        self._client = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})
        self._resolve = resolver
        self._clock = clock

    def send(self, channel: Channel, notification: Notification) -> DeliveryOutcome:
        config = channel.config
        assert isinstance(config, WebhookConfig)
        refusal = self._refused(config.url)
        if refusal is not None:
            return DeliveryOutcome(ok=False, retryable=False, reason=refusal)
        body = webhook_body(notification, notification.attempts + 1)
        timestamp = int(self._clock())
        headers = {
            **config.headers,
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(channel.secret or "", timestamp, body),
            "X-Chronos-Notification-Id": notification.id,
            "X-Chronos-Event": notification.kind,
            "Idempotency-Key": notification.id,
        }
        try:
            response = self._client.post(
                config.url,
                content=body,
                headers=headers,
                timeout=config.timeout_seconds,
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            return DeliveryOutcome(
                ok=False, retryable=True, reason=f"timeout after {config.timeout_seconds:g} s"
            )
        except httpx.TransportError as exc:
            return DeliveryOutcome(
                ok=False, retryable=True, reason=f"connection failed ({type(exc).__name__})"
            )
        retry_after = parse_retry_after(response.headers.get("retry-after"), utcnow())
        return outcome_of_status(response.status_code, retry_after)

    def _refused(self, url: str) -> str | None:
        if self._allow_private:
            return None
        host = urlsplit(url).hostname or ""
        try:
            addresses = self._resolve(host)
        except OSError:
            return None  # unresolvable: the POST fails as a (retryable) connection error
        for address in addresses:
            if address_is_private(ipaddress.ip_address(address.split("%", 1)[0])):
                return f"the webhook host resolves to a non-public address ({address})"
        return None
