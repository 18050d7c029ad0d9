"""Channels and deliveries as values: which answers are retried, how long to wait, the webhook
signature, and channel validation that names the field."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.notifications import (
    ChannelDraft,
    ChannelType,
    Notification,
    NotificationStatus,
    build_channel,
    classify_status,
    host_is_private,
    outcome_of_status,
    parse_retry_after,
    retry_delay,
    sign_webhook,
    verify_webhook,
    webhook_url_problem,
)
from tests.support.builders import T0


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, "ok"), (204, "ok"), (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
     (301, "permanent"), (400, "permanent"), (401, "permanent"), (404, "permanent"), (410, "permanent")],
)  # fmt: skip
def test_4xx_are_permanent_except_408_and_429(status: int, kind: str) -> None:
    assert classify_status(status) == kind
    outcome = outcome_of_status(status, retry_after=30)
    assert outcome.ok is (kind == "ok")
    assert outcome.retryable is (kind == "retry")
    assert outcome.retry_after == (30 if kind == "retry" else None)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempt, bound in [(1, 2.0), (2, 4.0), (3, 8.0), (10, 60.0)]:
        delays = [retry_delay(attempt, base_seconds=2, max_seconds=60, rng=rng) for _ in range(200)]
        assert all(bound / 2 <= d <= bound for d in delays)
        assert len(set(delays)) > 50  # jittered


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    assert retry_delay(1, base_seconds=2, max_seconds=900, retry_after=120) == 120
    assert retry_delay(1, base_seconds=2, max_seconds=60, retry_after=120) == 60
    assert retry_delay(1, base_seconds=2, max_seconds=60, retry_after=0.1) <= 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("17", T0) == 17
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", T0) == 60
    assert parse_retry_after("soon", T0) is None and parse_retry_after(None, T0) is None


def test_the_webhook_signature_verifies_and_refuses_tampering_and_replays() -> None:
    body = b'{"alert": 1}'
    signature = sign_webhook("s3cret-key-0123456789", 1_700_000_000, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify_webhook("s3cret-key-0123456789", "1700000000", signature, body, now_epoch=1_700_000_100)
    assert not verify_webhook("s3cret-key-0123456789", "1700000000", signature, body + b" ", 1_700_000_100)
    assert not verify_webhook("another-secret-01234", "1700000000", signature, body, 1_700_000_100)
    assert not verify_webhook("s3cret-key-0123456789", "1700000001", signature, body, 1_700_000_100)
    assert not verify_webhook("s3cret-key-0123456789", "1700000000", signature, body, 1_700_001_000)
    assert not verify_webhook("s3cret-key-0123456789", None, signature, body, 1_700_000_000)


def test_webhook_urls_must_be_http_public_and_without_credentials() -> None:
    assert webhook_url_problem("https://hooks.example.com/x", allow_private=False) is None
    assert "http or https" in (webhook_url_problem("ftp://example.com", allow_private=False) or "")
    assert "credentials" in (webhook_url_problem("https://u:p@example.com", allow_private=False) or "")
    for url in (
        "http://127.0.0.1:9000/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://169.254.169.254/",
        "http://[::1]/",
    ):
        assert "private" in (webhook_url_problem(url, allow_private=False) or ""), url
        assert webhook_url_problem(url, allow_private=True) is None
    assert not host_is_private("example.com")


def test_a_webhook_channel_gets_a_secret_and_bad_config_names_the_field() -> None:
    channel = build_channel(
        ChannelDraft(
            name="ops", type=ChannelType.WEBHOOK, fiware_service="Energy", config={"url": "https://x.io/h"}
        ),
        "tester",
        allow_private=False,
    )
    assert channel.fiware_service == "energy" and channel.secret and len(channel.secret) >= 32
    with pytest.raises(ValidationError) as exc:
        build_channel(
            ChannelDraft(name="x", type=ChannelType.WEBHOOK, fiware_service="energy", config={}),
            None,
            allow_private=False,
        )
    assert exc.value.details[0]["field"] == "config.url"
    with pytest.raises(ValidationError) as exc:
        build_channel(
            ChannelDraft(
                name="x", type=ChannelType.SNS, fiware_service="energy", config={"topic_arn": "nope"}
            ),
            None,
            allow_private=False,
        )
    assert exc.value.details[0]["field"] == "config.topic_arn"
    with pytest.raises(ValidationError) as exc:
        build_channel(
            ChannelDraft(
                name="x", type=ChannelType.WEBHOOK, fiware_service="energy",
                config={"url": "https://x.io", "headers": {"X-Chronos-Signature": "forged"}},
            ),
            None,
            allow_private=False,
        )  # fmt: skip
    assert exc.value.details[0]["field"] == "config.headers.X-Chronos-Signature"
    orion = build_channel(
        ChannelDraft(name="fiware", type=ChannelType.ORION, fiware_service="energy"),
        None,
        allow_private=False,
    )
    assert orion.secret is None and orion.config.entity_type == "Alert"  # type: ignore[union-attr]


def test_a_retrying_notification_says_which_attempt() -> None:
    n = Notification(
        alert_id="a", channel_id="c", channel_type=ChannelType.WEBHOOK, fiware_service="energy", kind="firing"
    )
    assert n.status_label == "pending"
    retrying = n.model_copy(update={"status": NotificationStatus.RETRYING, "attempts": 2})
    assert retrying.status_label == "retrying (attempt 2)"
    assert NotificationStatus.DELIVERED.final and not NotificationStatus.RETRYING.final
    assert n.created_at <= n.created_at + timedelta(0)
