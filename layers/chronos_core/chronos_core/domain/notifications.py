"""Notification channels and deliveries: what a channel is, how a notification moves through
``pending → delivered | retrying (attempt n) → failed`` (or ``silenced`` / ``superseded``),
which answers are retried, how long to wait, and how webhook bodies are signed. No I/O.

* **Retries.** A delivery answered 2xx is ``delivered``. Connection errors, timeouts, 408, 429 and
  5xx are retried (:func:`classify_status`) after :func:`retry_delay`: exponential backoff with
  jitter, never shorter than the receiver's ``Retry-After``, capped. Every other answer (other
  4xx, a 3xx: redirects are not followed) is permanent: ``failed`` at once. After
  ``max_attempts`` attempts a retryable failure is ``failed`` too.
* **Channel counters** follow Orion's subscription fields: ``times_sent``, ``last_success``
  (and its code), ``last_failure`` (and its reason), ``consecutive_failures`` (reset by a
  success). A channel with ``max_consecutive_failures`` failures in a row is ``disabled``, which
  raises an operational alert.
* **Webhook signature.** The body is signed with HMAC-SHA256 over ``"<timestamp>.<body>"`` with
  the channel's secret: headers ``X-Chronos-Timestamp: <unix seconds>`` and
  ``X-Chronos-Signature: v1=<hex digest>``. A receiver recomputes it (:func:`verify_webhook`)
  and refuses a timestamp more than five minutes away from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import random
import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import validate_ngsi_id, validate_service
from chronos_core.domain.model import utcnow
from chronos_core.domain.monitoring import Alert, NotificationKind, json_safe

TIMESTAMP_HEADER: Final = "X-Chronos-Timestamp"
SIGNATURE_HEADER: Final = "X-Chronos-Signature"
SIGNATURE_VERSION: Final = "v1"
#: A signed timestamp further than this from the receiver's clock is refused (replays).
SIGNATURE_TOLERANCE_SECONDS: Final = 300
MAX_HISTORY: Final = 20
MAX_REASON_LENGTH: Final = 300
#: Headers a webhook channel may not set itself.
RESERVED_HEADERS: Final = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "x-chronos-timestamp",
        "x-chronos-signature",
        "x-chronos-notification-id",
        "x-chronos-event",
        "idempotency-key",
    }
)
_SNS_ARN: Final = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$"


class ChannelType(StrEnum):
    WEBHOOK = "webhook"
    SNS = "sns"
    ORION = "orion"


class WebhookConfig(BaseModel):
    """POST the signed JSON body to ``url`` (``headers`` are added to every request)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"] = "webhook"
    url: str = Field(min_length=8, max_length=2048)
    headers: dict[
        Annotated[str, Field(min_length=1, max_length=100)], Annotated[str, Field(max_length=1000)]
    ] = Field(default_factory=dict, max_length=10)
    timeout_seconds: float = Field(default=10.0, gt=0, le=30)


class SnsConfig(BaseModel):
    """Publish to an SNS topic (its email/SMS/HTTP subscriptions receive it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["sns"] = "sns"
    topic_arn: str = Field(pattern=_SNS_ARN, max_length=512)


class OrionConfig(BaseModel):
    """Upsert a Smart Data Models ``Alert`` entity in the model's tenant for every firing and
    resolved alert (``category`` of the entity; ``subCategory`` is the rule type)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["orion"] = "orion"
    entity_type: str = Field(default="Alert", min_length=1, max_length=256)
    category: str = Field(default="environment", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+$")


ChannelConfig = Annotated[WebhookConfig | SnsConfig | OrionConfig, Field(discriminator="type")]


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class ChannelStats(BaseModel):
    """Delivery counters of a channel, as Orion keeps them for a subscription."""

    model_config = ConfigDict(extra="ignore")

    times_sent: int = 0
    delivered: int = 0
    failed: int = 0
    last_notification: datetime | None = None
    last_success: datetime | None = None
    last_success_code: int | None = None
    last_failure: datetime | None = None
    last_failure_reason: str | None = None
    consecutive_failures: int = 0


class Channel(BaseModel):
    """A stored channel of one tenant. ``secret`` signs webhook bodies (never shown again after
    creation)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    name: str = Field(min_length=1, max_length=100)
    type: ChannelType
    fiware_service: str
    config: ChannelConfig
    secret: str | None = None
    status: ChannelStatus = ChannelStatus.ACTIVE
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    max_consecutive_failures: int | None = Field(default=None, ge=1, le=1000)
    stats: ChannelStats = Field(default_factory=ChannelStats)
    created_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def active(self) -> bool:
        return self.status == ChannelStatus.ACTIVE


class ChannelDraft(BaseModel):
    """What a caller supplies to create a channel (``config`` is validated by ``type``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    type: ChannelType
    fiware_service: str = Field(min_length=1, max_length=50)
    config: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(default=None, min_length=16, max_length=256)
    max_consecutive_failures: int | None = Field(default=None, ge=1, le=1000, strict=True)


class ChannelChanges(BaseModel):
    """A partial update of a channel; ``enabled: true`` re-enables a disabled one (its
    consecutive failures reset)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    config: dict[str, Any] | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=256)
    enabled: bool | None = Field(default=None, strict=True)
    max_consecutive_failures: int | None = Field(default=None, ge=1, le=1000, strict=True)


def build_channel(draft: ChannelDraft, created_by: str | None, *, allow_private: bool) -> Channel:
    """A new channel. A webhook gets ``draft.secret`` or a random 32-byte one. Raises
    ValidationError naming the field (``config.url``, ``config.topic_arn``, ``fiware_service``)."""
    service = validate_service(draft.fiware_service)
    config = parse_config(draft.type, draft.config, allow_private=allow_private)
    secret = None
    if draft.type == ChannelType.WEBHOOK:
        secret = draft.secret or secrets.token_urlsafe(32)
    return Channel(
        name=draft.name,
        type=draft.type,
        fiware_service=service,
        config=config,
        secret=secret,
        max_consecutive_failures=draft.max_consecutive_failures,
        created_by=created_by,
    )


def parse_config(
    kind: ChannelType, values: dict[str, Any], *, allow_private: bool
) -> WebhookConfig | SnsConfig | OrionConfig:
    """The configuration of a ``kind`` channel, validated (webhook URLs: http(s), no
    credentials, and no loopback/private literal address unless ``allow_private``)."""
    models: dict[ChannelType, type[WebhookConfig] | type[SnsConfig] | type[OrionConfig]] = {
        ChannelType.WEBHOOK: WebhookConfig,
        ChannelType.SNS: SnsConfig,
        ChannelType.ORION: OrionConfig,
    }
    model = models[kind]
    try:
        config = model.model_validate({**values, "type": kind.value})
    except PydanticValidationError as exc:
        raise ValidationError(
            "The channel configuration is invalid.",
            details=[
                {"field": ".".join(["config", *(str(p) for p in e["loc"])]), "message": e["msg"]}
                for e in exc.errors()
            ],
        ) from exc
    if isinstance(config, WebhookConfig):
        problem = webhook_url_problem(config.url, allow_private=allow_private)
        if problem:
            raise ValidationError(problem, details=[{"field": "config.url", "message": problem}])
        for name in config.headers:
            if name.lower() in RESERVED_HEADERS:
                raise ValidationError(
                    f"header {name} is set by Chronos",
                    details=[{"field": f"config.headers.{name}", "message": "reserved header"}],
                )
    if isinstance(config, OrionConfig):
        validate_ngsi_id("config.entity_type", config.entity_type)
    return config


def webhook_url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a webhook target, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "the URL must be http or https"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "the URL must not carry credentials (use config.headers)"
    if not allow_private and host_is_private(parts.hostname):
        return "the URL points at a loopback, private or link-local address"
    return None


def host_is_private(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a literal loopback/private/link-local/reserved IP."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address_is_private(address)


def address_is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


# ---------------------------------------------------------------------------- notifications


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    #: Held back by a silence (never sent).
    SILENCED = "silenced"
    #: Not sent because it no longer says anything true: a firing whose alert resolved before it
    #: went out, or a resolution for a channel that never received the firing.
    SUPERSEDED = "superseded"

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES: Final = frozenset(
    {
        NotificationStatus.DELIVERED,
        NotificationStatus.FAILED,
        NotificationStatus.SILENCED,
        NotificationStatus.SUPERSEDED,
    }
)


class DeliveryAttempt(BaseModel):
    model_config = ConfigDict(extra="ignore")

    attempt: int
    at: datetime
    ok: bool
    status_code: int | None = None
    reason: str | None = None
    retry_in_seconds: float | None = None


class Notification(BaseModel):
    """One message of one alert to one channel, with every delivery attempt."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    alert_id: str
    rule_id: str | None = None
    channel_id: str
    channel_type: ChannelType
    fiware_service: str
    kind: NotificationKind
    status: NotificationStatus = NotificationStatus.PENDING
    attempts: int = 0
    max_attempts: int = Field(default=5, ge=1)
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    history: list[DeliveryAttempt] = Field(default_factory=list)
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None

    @property
    def status_label(self) -> str:
        """``retrying (attempt n)`` while retrying, else the status."""
        if self.status == NotificationStatus.RETRYING:
            return f"retrying (attempt {self.attempts})"
        return self.status.value


class DeliveryOutcome(BaseModel):
    """What one delivery attempt got: ``ok``, or whether the failure is ``retryable`` (with the
    receiver's ``Retry-After`` in seconds, when it sent one)."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    status_code: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    reason: str | None = None


def classify_status(status_code: int) -> Literal["ok", "retry", "permanent"]:
    """2xx delivered; 408, 429 and 5xx retried; every other status permanent (3xx included:
    redirects are not followed)."""
    if 200 <= status_code < 300:
        return "ok"
    if status_code in (408, 429) or 500 <= status_code < 600:
        return "retry"
    return "permanent"


def outcome_of_status(status_code: int, retry_after: float | None = None) -> DeliveryOutcome:
    kind = classify_status(status_code)
    if kind == "ok":
        return DeliveryOutcome(ok=True, status_code=status_code)
    return DeliveryOutcome(
        ok=False,
        status_code=status_code,
        retryable=kind == "retry",
        retry_after=retry_after if kind == "retry" else None,
        reason=f"HTTP {status_code}",
    )


def retry_delay(
    attempt: int,
    *,
    base_seconds: float,
    max_seconds: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``b = min(max, base·2^(n−1))``
    with equal jitter (``b/2 + uniform(0, b/2)``), at least ``Retry-After``, at most
    ``max_seconds``."""
    bound = min(max_seconds, base_seconds * 2 ** max(0, attempt - 1))
    jitter = (rng or random).uniform(0.0, bound / 2)  # noqa: S311 - jitter, not a secret
    delay = bound / 2 + jitter
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, retry_after)
    return float(round(min(max_seconds, max(0.0, delay)), 3))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds, from delta-seconds or an HTTP date (None when absent or
    unreadable)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Chronos-Signature`` value: ``v1=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_webhook(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now_epoch: float,
    tolerance_seconds: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature matches (constant-time) and the signed timestamp is
    within ``tolerance_seconds`` of its clock."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now_epoch - int(timestamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign_webhook(secret, int(timestamp), body), signature)


def notification_payload(alert: Alert, kind: NotificationKind, notification_id: str) -> dict[str, Any]:
    """The JSON body every channel sends (the SNS message and the Orion entity's ``data`` carry
    the same fields)."""
    return json_safe(
        {
            "version": "1",
            "notification_id": notification_id,
            "kind": kind,
            "status": "resolved" if kind == "resolved" else "firing",
            "alert": {
                "id": alert.id,
                "fingerprint": alert.fingerprint,
                "state": alert.state.value,
                "severity": alert.severity.value,
                "rule_id": alert.rule_id,
                "rule_name": alert.rule_name,
                "rule_type": alert.rule_type,
                "model_id": alert.model_id,
                "job_id": alert.job_id,
                "fiware_service": alert.fiware_service,
                "fiware_servicepath": alert.fiware_servicepath,
                "entity_type": alert.entity_type,
                "entity_id": alert.entity_id,
                "source_entity_id": alert.source_entity_id,
                "attribute": alert.attribute,
                "message": alert.message,
                "value": alert.value,
                "threshold": alert.threshold,
                "values": alert.values,
                "started_at": alert.started_at,
                "resolved_at": alert.resolved_at,
                "predicted": alert.predicted.model_dump() if alert.predicted else None,
            },
        }
    )


def truncated_reason(reason: str | None) -> str | None:
    return reason[:MAX_REASON_LENGTH] if reason else None
