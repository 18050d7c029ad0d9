"""Delivering notifications over the fakes: retries with backoff honouring Retry-After, 4xx
permanent except 408/429, capped attempts, per-notification status and per-channel counters,
and a channel disabled after N consecutive failures, which raises an operational alert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.application.monitoring.channels import update_channel
from chronos_core.application.monitoring.commands import UpdateChannel
from chronos_core.application.monitoring.delivery import CHANNEL_DISABLED_RULE
from chronos_core.application.monitoring.settings import MonitoringSettings
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.monitoring import AlertStatus
from chronos_core.domain.notifications import (
    ChannelChanges,
    ChannelStatus,
    DeliveryOutcome,
    NotificationStatus,
    outcome_of_status,
)
from tests.support.builders import T0, principal
from tests.support.fakes import FakeNotifier
from tests.support.monitoring import MINUTE, deliver, monitoring_services, rule_of, tick, webhook_channel

OK = DeliveryOutcome(ok=True, status_code=200)


def firing_world(
    outcomes: list[DeliveryOutcome],
    *,
    max_attempts: int = 5,
    max_failures: int = 5,
    second_channel: bool = False,
) -> tuple[Services, str]:
    """A rule that fires at T0 on one webhook channel (and optionally a second one), its
    notification queued; ``outcomes`` are the first channel's answers in order."""
    channel = webhook_channel("ops")
    channels = (channel, webhook_channel("backup")) if second_channel else (channel,)
    rule = rule_of("observed_threshold", {"threshold": 1.0}, channels=[channel.id])
    settings = MonitoringSettings(
        evaluation_concurrency=1,
        notification_max_attempts=max_attempts,
        retry_base_seconds=2.0,
        retry_max_seconds=600.0,
        channel_max_consecutive_failures=max_failures,
    )
    services = monitoring_services(
        rule,
        channels=channels,
        points=[(T0, 5.0)],
        settings=settings,
        notifier=FakeNotifier({channel.id: list(outcomes)}),
    )
    tick(services, T0)
    [notification_id] = services.notification_queue.sent  # type: ignore[attr-defined]
    return services, notification_id


def channel_of(services: Services, name: str = "ops") -> object:
    return next(c for c in services.channels.channels.values() if c.name == name)  # type: ignore[attr-defined]


def test_a_delivered_notification_records_its_attempt_and_the_channels_counters() -> None:
    services, nid = firing_world([OK])
    result = deliver(services, nid, T0)
    assert result.action == "delivered" and result.attempt == 1
    stored = services.notifications.get(nid)
    assert stored is not None and stored.status == NotificationStatus.DELIVERED and stored.delivered_at == T0
    assert [(h.attempt, h.ok, h.status_code) for h in stored.history] == [(1, True, 200)]
    stats = channel_of(services).stats  # type: ignore[attr-defined]
    assert (stats.times_sent, stats.delivered, stats.last_success, stats.last_success_code) == (1, 1, T0, 200)
    assert deliver(services, nid, T0).action == "skipped"  # SQS delivered the message twice: sent once
    assert len(services.notifier.sent) == 1  # type: ignore[attr-defined]


def test_a_receiver_failing_twice_gets_the_notification_on_the_third_attempt() -> None:
    services, nid = firing_world([outcome_of_status(503), outcome_of_status(500), OK])
    first = deliver(services, nid, T0)
    assert first.action == "retry" and first.status == "retrying (attempt 1)"
    assert first.retry_in_seconds is not None and 1.0 <= first.retry_in_seconds <= 2.0
    # A message back more than the SQS delay granularity (1 s) before its time waits out the rest
    # (the backoff's jitter puts the retry 1-2 s out, so this is measured from the retry time).
    early = deliver(services, nid, T0 + timedelta(seconds=first.retry_in_seconds - 1.5))
    assert early.action == "wait" and early.retry_in_seconds == pytest.approx(1.5)
    second = deliver(services, nid, T0 + timedelta(seconds=2))
    assert second.action == "retry" and second.status == "retrying (attempt 2)"
    assert second.retry_in_seconds is not None and 2.0 <= second.retry_in_seconds <= 4.0
    third = deliver(services, nid, T0 + timedelta(seconds=10))
    assert third.action == "delivered" and third.attempt == 3
    stored = services.notifications.get(nid)
    assert stored is not None and [h.ok for h in stored.history] == [False, False, True]
    assert stored.history[0].reason == "HTTP 503" and stored.last_error is None
    stats = channel_of(services).stats  # type: ignore[attr-defined]
    assert (stats.times_sent, stats.failed, stats.consecutive_failures) == (3, 2, 0)
    assert stats.last_failure_reason == "HTTP 500"


def test_retry_after_is_honoured() -> None:
    services, nid = firing_world([outcome_of_status(429, retry_after=120)])
    result = deliver(services, nid, T0)
    assert result.action == "retry" and result.retry_in_seconds == 120
    assert services.notifications.get(nid).next_attempt_at == T0 + timedelta(seconds=120)  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301])
def test_other_4xx_and_redirects_fail_at_once(status: int) -> None:
    services, nid = firing_world([outcome_of_status(status)])
    result = deliver(services, nid, T0)
    assert result.action == "failed" and result.status == "failed" and result.attempt == 1


@pytest.mark.parametrize("status", [408, 429, 502])
def test_408_429_and_5xx_are_retried(status: int) -> None:
    services, nid = firing_world([outcome_of_status(status)])
    assert deliver(services, nid, T0).action == "retry"


def test_attempts_are_capped() -> None:
    services, nid = firing_world([outcome_of_status(500)], max_attempts=3)
    actions = [deliver(services, nid, T0 + timedelta(hours=k)).action for k in range(4)]
    assert actions == ["retry", "retry", "failed", "skipped"]
    stored = services.notifications.get(nid)
    assert stored is not None and stored.status == NotificationStatus.FAILED and stored.attempts == 3


def test_an_attempt_held_elsewhere_is_a_conflict() -> None:
    services, nid = firing_world([OK])
    assert services.notifications.claim_attempt(nid, 1)
    with pytest.raises(ConflictError):
        deliver(services, nid, T0)


def test_consecutive_failures_disable_the_channel_and_raise_an_operational_alert() -> None:
    services, nid = firing_world([outcome_of_status(503)], max_failures=2, second_channel=True)
    deliver(services, nid, T0)
    assert channel_of(services).status == ChannelStatus.ACTIVE  # type: ignore[attr-defined]
    deliver(services, nid, T0 + MINUTE)
    ops = channel_of(services)
    assert ops.status == ChannelStatus.DISABLED and "2 consecutive failed" in ops.disabled_reason  # type: ignore[attr-defined]
    operational = [a for a in services.alerts.alerts.values() if a.rule_type == CHANNEL_DISABLED_RULE]  # type: ignore[attr-defined]
    assert len(operational) == 1 and operational[0].severity == "high" and operational[0].active
    backup = channel_of(services, "backup")
    [told] = [n for n in services.notifications.notifications.values() if n.alert_id == operational[0].id]  # type: ignore[attr-defined]
    assert told.channel_id == backup.id and told.kind == "firing"  # type: ignore[attr-defined]
    refused = deliver(services, nid, T0 + 2 * MINUTE)
    assert refused.action == "failed" and refused.reason == "the channel is disabled"
    # Re-enabled: counters reset, the operational alert resolved and the backup channel told.
    enabled = update_channel(
        services,
        UpdateChannel(principal=principal(), channel_id=ops.id, changes=ChannelChanges(enabled=True)),  # type: ignore[attr-defined]
    )
    assert enabled.status == ChannelStatus.ACTIVE and enabled.stats.consecutive_failures == 0
    assert services.alerts.get_alert(operational[0].id).status == AlertStatus.RESOLVED  # type: ignore[union-attr]
    kinds = [n.kind for n in services.notifications.notifications.values() if n.alert_id == operational[0].id]  # type: ignore[attr-defined]
    assert sorted(kinds) == ["firing", "resolved"]


def test_a_notification_for_a_deleted_channel_fails_and_a_missing_one_is_skipped() -> None:
    services, nid = firing_world([OK])
    services.channels.channels.clear()  # type: ignore[attr-defined]
    assert deliver(services, nid, T0).reason == "the channel was deleted"
    assert deliver(services, "no-such-id", T0).action == "skipped"
