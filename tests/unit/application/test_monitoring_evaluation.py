"""The evaluator over the fakes: each rule type from its data to its alert, the stored events
and the notifications decided (firing, repeat, resolved, silenced), claims per rule and slot,
and predicted crossings evaluated after a published forecast that end materialized or averted."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chronos_core.application.monitoring.alerts import acknowledge_alert
from chronos_core.application.monitoring.commands import AcknowledgeAlert, RuleCommand
from chronos_core.application.monitoring.hooks import after_forecast
from chronos_core.application.monitoring.rules import get_rule
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import UpstreamError
from chronos_core.domain.forecasting import ForecastResult, ForecastSeries
from chronos_core.domain.monitoring import AlertOutcome, AlertState, AlertStatus, Silence
from chronos_core.domain.notifications import NotificationStatus
from chronos_core.domain.training_job import JobError, TrainingStatus
from tests.support.builders import T0, data_quality, job, principal
from tests.support.fakes import InMemoryForecastLog, InMemoryModelRepository, InMemoryTrainingJobs
from tests.support.monitoring import (
    ENTITY,
    MINUTE,
    deliver_all,
    monitored_job,
    monitoring_services,
    published,
    rule_of,
    served_model,
    tick,
    webhook_channel,
)

HALF_HOUR = timedelta(minutes=30)


def series(
    values: list[float], end: datetime = T0, interval: timedelta = HALF_HOUR
) -> list[tuple[datetime, float | None]]:
    """``values`` one interval apart, the last at ``end``."""
    return [(end - (len(values) - 1 - i) * interval, v) for i, v in enumerate(values)]


def set_points(services: Services, points: list[tuple[datetime, float | None]]) -> None:
    services.observed_series.points[ENTITY] = points  # type: ignore[attr-defined]


def state_of(services: Services, rule_id: str) -> AlertState:
    stored = services.rule_states.get(rule_id)
    return stored.state if stored else AlertState.OK


def notifications(services: Services) -> list[Any]:
    return sorted(services.notifications.notifications.values(), key=lambda n: n.created_at)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ observed threshold


def test_a_threshold_breach_fires_once_is_stored_and_notified_then_resolves() -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id], for_seconds=60)
    services = monitoring_services(rule, channels=(channel,), points=series([50, 60, 150]))
    first = tick(services, T0)
    assert first.claimed == 1 and state_of(services, rule.id) == AlertState.PENDING
    assert not services.notification_queue.sent  # type: ignore[attr-defined]
    second = tick(services, T0 + MINUTE)
    assert second.firing == 1 and state_of(services, rule.id) == AlertState.FIRING
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert alert.status == AlertStatus.FIRING and alert.value == 150 and alert.threshold == 100
    assert alert.fingerprint == rule.fingerprint and alert.fiware_service == "energy"
    assert alert.source_entity_id == "urn:x:Prediction:1"  # the job's forecast entity
    [firing] = notifications(services)
    assert (
        firing.kind == "firing"
        and firing.channel_id == channel.id
        and firing.status == NotificationStatus.PENDING
    )
    assert firing.payload["alert"]["id"] == alert.id and firing.payload["status"] == "firing"
    assert services.notification_queue.sent == [firing.id]  # type: ignore[attr-defined]
    deliver_all(services, T0 + MINUTE)
    for minute in range(2, 5):  # still firing: nothing new within the repeat interval
        tick(services, T0 + minute * MINUTE)
    assert len(notifications(services)) == 1
    set_points(services, series([150, 80], end=T0 + 5 * MINUTE))
    resolved = tick(services, T0 + 5 * MINUTE)
    assert resolved.resolved == 1 and state_of(services, rule.id) == AlertState.OK
    stored = services.alerts.get_alert(alert.id)
    assert (
        stored is not None and stored.status == AlertStatus.RESOLVED and stored.resolved_at == T0 + 5 * MINUTE
    )
    assert [n.kind for n in notifications(services)] == ["firing", "resolved"]
    events = services.alerts.events(rule_id=rule.id).items
    assert [(e.from_state, e.to_state) for e in reversed(events)] == [
        (AlertState.OK, AlertState.PENDING),
        (AlertState.PENDING, AlertState.FIRING),
        (AlertState.FIRING, AlertState.OK),
    ]
    assert events[-1].values["window"]["to"] and events[1].value == 150  # the values behind it


def test_each_rule_is_evaluated_once_per_slot_whatever_the_number_of_evaluators() -> None:
    rule = rule_of("observed_threshold", {"threshold": 100.0}, evaluation_interval_seconds=300)
    services = monitoring_services(rule, points=series([150]))
    assert tick(services, T0).claimed == 1
    assert tick(services, T0).claimed == 0  # a concurrent evaluator, same slot
    assert tick(services, T0 + MINUTE).claimed == 0  # same 5-minute slot
    assert tick(services, T0 + 5 * MINUTE).claimed == 1
    assert len(services.alert_evaluations.records) == 2  # type: ignore[attr-defined]


def test_the_repeat_interval_and_acknowledgement() -> None:
    channel = webhook_channel()
    rule = rule_of(
        "observed_threshold", {"threshold": 100.0}, channels=[channel.id], repeat_interval_seconds=180
    )
    services = monitoring_services(rule, channels=(channel,), points=series([150]))
    for minute in range(7):
        tick(services, T0 + minute * MINUTE)
        deliver_all(services, T0 + minute * MINUTE)
    assert [n.kind for n in notifications(services)] == ["firing", "repeat", "repeat"]
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    acknowledge_alert(services, AcknowledgeAlert(principal=principal(), alert_id=alert.id, comment="on it"))
    for minute in range(7, 14):
        tick(services, T0 + minute * MINUTE)
    assert len(notifications(services)) == 3  # acknowledged: no more repeats
    set_points(services, series([10], end=T0 + 14 * MINUTE))
    tick(services, T0 + 14 * MINUTE)
    assert notifications(services)[-1].kind == "resolved"  # still told of the resolution


def test_a_silenced_firing_is_recorded_not_sent_and_sent_when_the_silence_ends() -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id])
    services = monitoring_services(rule, channels=(channel,), points=series([150]))
    silence = Silence(
        fiware_service="energy", rule_id=rule.id, starts_at=T0 - MINUTE, ends_at=T0 + 3 * MINUTE
    )
    services.silences.add(silence)
    for minute in range(3):
        tick(services, T0 + minute * MINUTE)
    [held] = notifications(services)
    assert held.status == NotificationStatus.SILENCED and not services.notification_queue.sent  # type: ignore[attr-defined]
    tick(services, T0 + 3 * MINUTE)  # the silence has ended
    sent = notifications(services)[-1]
    assert sent.kind == "firing" and sent.status == NotificationStatus.PENDING
    assert services.notification_queue.sent == [sent.id]  # type: ignore[attr-defined]


def test_a_silence_on_the_model_holds_back_every_rule_of_it_but_not_the_resolution() -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id])
    services = monitoring_services(rule, channels=(channel,), points=series([150]))
    tick(services, T0)
    deliver_all(services, T0)  # the firing reached the channel
    services.silences.add(
        Silence(fiware_service="energy", model_id="model-1", starts_at=T0, ends_at=T0 + 60 * MINUTE)
    )
    set_points(services, series([10], end=T0 + MINUTE))
    tick(services, T0 + MINUTE)
    resolved = notifications(services)[-1]
    assert resolved.kind == "resolved" and resolved.status == NotificationStatus.PENDING
    [outcome] = deliver_all(services, T0 + MINUTE)
    assert outcome.action == "delivered"  # resolve after silence: the channel that saw the firing hears it


def test_an_alert_that_resolves_before_its_firing_goes_out_notifies_nobody() -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id])
    services = monitoring_services(rule, channels=(channel,), points=series([150]))
    tick(services, T0)
    set_points(services, series([10], end=T0 + MINUTE))
    tick(services, T0 + MINUTE)  # resolved before the firing was delivered
    outcomes = deliver_all(services, T0 + MINUTE)
    assert [o.action for o in outcomes] == ["superseded", "superseded"]
    assert not services.notifier.sent  # type: ignore[attr-defined]


def test_flapping_data_with_m_of_n_fires_and_notifies_once() -> None:
    channel = webhook_channel()
    rule = rule_of(
        "observed_threshold",
        {"threshold": 100.0},
        channels=[channel.id],
        pending_evaluations={"m": 2, "n": 4},
    )
    services = monitoring_services(rule, channels=(channel,))
    for minute in range(12):
        set_points(services, series([150 if minute % 2 == 0 else 50], end=T0 + minute * MINUTE))
        tick(services, T0 + minute * MINUTE)
        deliver_all(services, T0 + minute * MINUTE)
    assert [n.kind for n in notifications(services)] == ["firing"]
    assert len(services.alerts.alerts) == 1  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- no data, error


def test_no_data_and_error_are_their_own_states_never_a_breach() -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id])
    services = monitoring_services(rule, channels=(channel,), points=[])
    tick(services, T0)
    assert state_of(services, rule.id) == AlertState.NO_DATA
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert (
        alert.state == AlertState.NO_DATA
        and notifications(services)[0].payload["alert"]["state"] == "no_data"
    )
    services.observed_series.error = UpstreamError("STH-Comet answered HTTP 500")  # type: ignore[attr-defined]
    tick(services, T0 + MINUTE)
    assert state_of(services, rule.id) == AlertState.ERROR
    event = services.alerts.events(rule_id=rule.id).items[0]
    assert event.outcome == "error" and "STH-Comet" in event.message
    assert services.alerts.get_alert(alert.id).state == AlertState.ERROR  # type: ignore[union-attr]


def test_an_error_ignored_by_the_rule_keeps_the_last_state() -> None:
    rule = rule_of("observed_threshold", {"threshold": 100.0}, on_error="keep_last")
    services = monitoring_services(rule, points=series([150]))
    tick(services, T0)
    services.observed_series.error = UpstreamError("down")  # type: ignore[attr-defined]
    result = tick(services, T0 + MINUTE)
    assert result.errors == 1 and result.transitions == 0 and state_of(services, rule.id) == AlertState.FIRING


class FailingBatchReads(InMemoryForecastLog):
    """A forecast log whose batched read fails, and that refuses reads one job at a time."""

    def recent_many(self, wanted: Any, newer_than: Any = None) -> Any:
        raise UpstreamError("the database timed out")

    def recent(self, job_id: Any, n: int) -> Any:
        raise AssertionError("the evaluator reads the forecast log a batch at a time")


def test_a_failed_batched_read_is_the_error_of_the_rules_that_needed_it_only() -> None:
    accuracy = rule_of("live_accuracy", {"metric": "mae", "max_ratio": 2})
    crossing = rule_of("predicted_crossing", {"threshold": 100.0})
    threshold = rule_of("observed_threshold", {"threshold": 100.0})
    services = monitoring_services(
        accuracy, crossing, threshold, points=series([150]), forecast_log=FailingBatchReads()
    )
    result = tick(services, T0)
    assert result.evaluated == 3 and result.errors == 2
    assert [state_of(services, r.id) for r in (accuracy, crossing, threshold)] == [
        AlertState.ERROR,
        AlertState.ERROR,
        AlertState.FIRING,
    ]
    latest = services.alert_evaluations.latest(accuracy.id)
    assert latest is not None and "timed out" in latest.message


class OneAtATimeRefused(InMemoryModelRepository):
    def get(self, model_id: Any) -> Any:
        raise AssertionError("the evaluator reads models a batch at a time")


class JobsOneAtATimeRefused(InMemoryTrainingJobs):
    def get(self, job_id: Any) -> Any:
        raise AssertionError("the evaluator reads jobs a batch at a time")

    def get_many(self, job_ids: Any) -> Any:
        return {i: InMemoryTrainingJobs.get(self, i) for i in job_ids if i in self.jobs}


def test_models_jobs_forecasts_and_undecided_alerts_are_read_once_per_tick() -> None:
    rules = [
        rule_of("predicted_crossing", {"threshold": 100.0}),
        rule_of("live_accuracy", {"metric": "mae", "max_value": 5, "window": 4}),
        rule_of("staleness"),
    ]
    log = InMemoryForecastLog()
    log.record(published(T0 - HALF_HOUR, [120.0, 130.0]))
    calls: list[dict[str, int]] = []
    batch_read = log.recent_many

    def counted(wanted: Any, newer_than: Any = None) -> Any:
        calls.append(dict(wanted))
        return batch_read(wanted, newer_than)

    log.recent_many = counted  # type: ignore[method-assign]
    services = monitoring_services(
        *rules,
        points=series([90, 95, 99]),
        models=OneAtATimeRefused(served_model()),
        jobs=JobsOneAtATimeRefused(monitored_job()),
        forecast_log=log,
    )
    undecided: list[list[str]] = []
    alerts = services.alerts
    by_rule = alerts.undecided_outcomes_of
    alerts.undecided_outcomes = lambda rule_id: pytest.fail("read one rule at a time")  # type: ignore[method-assign]
    alerts.undecided_outcomes_of = lambda ids: undecided.append(list(ids)) or by_rule(ids)  # type: ignore[method-assign]
    result = tick(services, T0)
    assert result.evaluated == 3 and result.errors == 0
    assert calls == [{"job-1": 4}]  # the most any rule of the job reads
    assert undecided == [[rules[0].id]]
    assert state_of(services, rules[0].id) == AlertState.FIRING  # the logged forecast crosses


def test_a_deleted_model_is_no_data() -> None:
    rule = rule_of("staleness")
    services = monitoring_services(rule)
    services.models.models.clear()  # type: ignore[attr-defined]
    tick(services, T0)
    assert services.alert_evaluations.latest(rule.id).outcome == "no_data"  # type: ignore[union-attr]


# -------------------------------------------------------------------------------- staleness


def test_staleness_fires_after_k_sampling_intervals_without_a_point() -> None:
    rule = rule_of("staleness", {"factor": 3})
    services = monitoring_services(rule, points=series([1, 2, 3], end=T0))
    tick(services, T0 + 80 * MINUTE)  # 80 min < 3 x 30 min
    assert state_of(services, rule.id) == AlertState.OK
    tick(services, T0 + 100 * MINUTE)
    assert state_of(services, rule.id) == AlertState.FIRING
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert alert.values["limit_seconds"] == 5400 and alert.values["age_seconds"] == 6000


# ---------------------------------------------------------------------------- live accuracy


def forecasts_around(services: Services, values: list[float], origins: int = 4) -> None:
    for k in range(origins):
        services.forecast_log.record(published(T0 + k * HALF_HOUR, values))


def test_live_accuracy_awaits_actuals_then_fires_on_an_error_twice_the_test_mae() -> None:
    rule = rule_of("live_accuracy", {"max_ratio": 2.0, "window": 4, "min_scored": 4})
    services = monitoring_services(rule, points=series([10.0, 10.0], end=T0))
    forecasts_around(services, [10.0, 10.0])
    tick(services, T0 + MINUTE)
    assert state_of(services, rule.id) == AlertState.AWAITING_ACTUALS
    assert services.alert_evaluations.latest(rule.id).outcome == "awaiting_actuals"  # type: ignore[union-attr]
    # actual values arrive 5 above the forecast; the test MAE was 1.1
    set_points(services, series([15.0] * 8, end=T0 + 4 * HALF_HOUR))
    tick(services, T0 + 5 * HALF_HOUR)
    assert state_of(services, rule.id) == AlertState.FIRING
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert alert.value == pytest.approx(5.0) and alert.threshold == pytest.approx(2.2)
    assert alert.values["test_mae"] == pytest.approx(1.1) and alert.values["bias"] == pytest.approx(-5.0)
    assert alert.values["coverage"]["80"] == 0.0


def test_live_accuracy_within_the_test_error_is_ok_and_coverage_rules_compare_with_nominal() -> None:
    accuracy = rule_of("live_accuracy", {"window": 4})
    coverage = rule_of("live_accuracy", {"metric": "coverage", "level": "80", "window": 4})
    services = monitoring_services(accuracy, coverage, points=series([10.5] * 8, end=T0 + 4 * HALF_HOUR))
    forecasts_around(services, [10.0, 10.0])
    tick(services, T0 + 5 * HALF_HOUR)
    assert state_of(services, accuracy.id) == AlertState.OK
    assert state_of(services, coverage.id) == AlertState.OK  # every actual inside the 80 % band


def test_live_accuracy_without_published_forecasts_is_no_data() -> None:
    rule = rule_of("live_accuracy")
    services = monitoring_services(rule, points=series([1.0]))
    tick(services, T0)
    assert services.alert_evaluations.latest(rule.id).outcome == "no_data"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------ drift


def test_input_drift_reads_the_training_reference_once_and_fires_on_a_level_shift() -> None:
    rule = rule_of("input_drift", {"normalization": "level", "window": 24, "test": "ks"})
    quality = data_quality(points=200, interval=1800.0).model_copy(
        update={"last_timestamp": T0 - 24 * HALF_HOUR}
    )
    reference = series([10.0 + (i % 7) * 0.5 for i in range(200)], end=T0 - 24 * HALF_HOUR)
    recent_ok = series([10.0 + (i % 7) * 0.5 for i in range(24)], end=T0)
    services = monitoring_services(
        rule, points=reference + recent_ok, job=monitored_job(data_quality=quality)
    )
    tick(services, T0)
    assert state_of(services, rule.id) == AlertState.OK
    stored = services.rule_states.get(rule.id)
    assert stored is not None and stored.reference is not None and len(stored.reference.values) == 200
    assert stored.reference.job_id == "job-1" and stored.reference.window_to == T0 - 24 * HALF_HOUR
    set_points(services, reference + series([30.0 + (i % 7) * 0.5 for i in range(24)], end=T0 + HALF_HOUR))
    tick(services, T0 + HALF_HOUR)
    assert state_of(services, rule.id) == AlertState.FIRING
    calls = [c for c, _ in services.observed_series.calls]  # type: ignore[attr-defined]
    assert calls.count("before") == 1  # the reference is kept in the rule's state
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert (
        alert.values["test"] == "ks" and alert.values["statistic"] == 1.0 and alert.values["p_value"] < 0.05
    )
    assert alert.values["n_reference"] == 200 and alert.values["n_recent"] == 24


def test_psi_drift_on_relative_values() -> None:
    rule = rule_of("input_drift", {"test": "psi", "window": 96})
    quality = data_quality(points=400, interval=1800.0).model_copy(
        update={"last_timestamp": T0 - 96 * HALF_HOUR}
    )
    wave = [10.0 + (i % 24) for i in range(400)]
    noisy = [10.0 + 5 * ((i * 7919) % 13) for i in range(96)]
    services = monitoring_services(
        rule,
        points=series(wave, end=T0 - 96 * HALF_HOUR) + series(noisy, end=T0),
        job=monitored_job(data_quality=quality),
    )
    tick(services, T0)
    record = services.alert_evaluations.latest(rule.id)
    assert (
        record is not None and record.outcome == "breach" and record.value is not None and record.value > 0.2
    )


# ------------------------------------------------------------------------ predicted crossing


def publish(services: Services, origin: datetime, values: list[float]) -> Any:
    forecast = published(origin, values)
    result = ForecastResult(
        values=values,
        timestamps=[p.target_timestamp for p in forecast.points],
        last_observation=origin,
        interval_seconds=1800.0,
    )
    series_ = ForecastSeries(
        generated_at=origin, horizon=len(values), points=forecast.points, serving="network"
    )
    job_ = services.jobs.get("job-1")  # type: ignore[arg-type]
    return after_forecast(services, job_, served_model(), origin, result, series_, now=origin)  # type: ignore[arg-type]


def test_a_predicted_crossing_fires_after_the_forecast_and_ends_materialized() -> None:
    channel = webhook_channel()
    rule = rule_of("predicted_crossing", {"threshold": 20.0, "probability": 0.5}, channels=[channel.id])
    services = monitoring_services(rule, channels=(channel,), points=series([10, 12, 14], end=T0))
    outcome = publish(services, T0, [16.0, 18.0, 21.0, 24.0])
    assert outcome.firing == 1
    assert publish(services, T0, [16.0, 18.0, 21.0, 24.0]).claimed == 0  # the same forecast again
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert alert.predicted is not None and alert.predicted.crossing_at == T0 + 3 * HALF_HOUR
    assert alert.predicted.lead_time_seconds == 3 * 1800 and alert.predicted.deadline == T0 + 4 * HALF_HOUR
    assert alert.values["first_step"] == 3 and len(alert.values["forecast"]["points"]) == 4
    assert notifications(services)[0].kind == "firing"
    # the tick has no newer forecast to evaluate; the actual value crosses at +90 min
    set_points(services, series([10, 12, 14, 17, 19, 22], end=T0 + 3 * HALF_HOUR))
    result = tick(services, T0 + 3 * HALF_HOUR)
    assert result.outcomes == 1
    settled = services.alerts.get_alert(alert.id)
    assert settled is not None and settled.outcome == AlertOutcome.MATERIALIZED
    assert settled.lead_time_seconds == 3 * 1800
    view = get_rule(services, RuleCommand(principal=principal(), rule_id=rule.id))
    assert view.stats.fired == 1 and view.stats.materialized == 1 and view.stats.precision == 1.0
    assert view.stats.median_lead_time_seconds == 5400


def test_a_predicted_crossing_that_does_not_happen_is_averted_and_counts_against_precision() -> None:
    rule = rule_of("predicted_crossing", {"threshold": 20.0})
    services = monitoring_services(rule, points=series([10, 12, 14], end=T0))
    publish(services, T0, [18.0, 21.0])
    publish(services, T0 + HALF_HOUR, [15.0, 14.0])  # the forecast no longer crosses
    assert state_of(services, rule.id) == AlertState.OK
    set_points(services, series([10, 12, 14, 15, 14], end=T0 + 2 * HALF_HOUR))
    tick(services, T0 + 2 * HALF_HOUR + MINUTE)  # past the deadline, never crossed
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert alert.outcome == AlertOutcome.AVERTED and alert.lead_time_seconds is None
    view = get_rule(services, RuleCommand(principal=principal(), rule_id=rule.id))
    assert (
        view.stats.averted == 1
        and view.stats.precision == 0.0
        and view.stats.median_lead_time_seconds is None
    )


def test_the_tick_evaluates_a_forecast_the_listener_missed_and_no_data_when_they_stop() -> None:
    rule = rule_of("predicted_crossing", {"threshold": 20.0})
    services = monitoring_services(rule, points=series([10.0]))
    services.forecast_log.record(published(T0, [25.0, 26.0]))  # logged, never evaluated
    tick(services, T0 + MINUTE)
    assert state_of(services, rule.id) == AlertState.FIRING
    tick(services, T0 + 2 * MINUTE)
    assert services.alert_evaluations.latest(rule.id).outcome == "unchanged"  # type: ignore[union-attr]
    tick(services, T0 + 4 * 30 * MINUTE)  # three forecast intervals without a new forecast
    assert state_of(services, rule.id) == AlertState.NO_DATA


def test_a_model_rule_watches_only_the_job_the_model_serves() -> None:
    rule = rule_of("predicted_crossing", {"threshold": 20.0})
    other = job("job-2", status=TrainingStatus.COMPLETED)
    services = monitoring_services(rule)
    services.jobs = InMemoryTrainingJobs(monitored_job(), other)  # type: ignore[misc]
    forecast = published(T0, [30.0])
    result = ForecastResult(
        values=[30.0], timestamps=[T0 + HALF_HOUR], last_observation=T0, interval_seconds=1800
    )
    published_series = ForecastSeries(generated_at=T0, horizon=1, points=forecast.points)
    assert after_forecast(services, other, served_model(), T0, result, published_series, now=T0).claimed == 0


# ------------------------------------------------------------------------------ operational


def test_forecast_runs_failing_n_times_in_a_row_fire() -> None:
    rule = rule_of("forecast_failures", {"consecutive": 3})
    services = monitoring_services(rule)
    services.forecast_runs.statuses["job-1"] = ["failed", "failed", "succeeded"]  # type: ignore[attr-defined]
    tick(services, T0)
    assert state_of(services, rule.id) == AlertState.OK
    services.forecast_runs.statuses["job-1"] = ["failed", "failed", "failed", "succeeded"]  # type: ignore[attr-defined]
    tick(services, T0 + MINUTE)
    assert state_of(services, rule.id) == AlertState.FIRING


def test_a_failed_training_fires_until_a_later_one_completes() -> None:
    rule = rule_of("training_failed")
    failed = job(
        "job-9", status=TrainingStatus.FAILED, error=JobError(phase="train", error="X", cause="out of memory")
    )
    failed = failed.model_copy(update={"created_at": T0})
    services = monitoring_services(rule)
    services.jobs = InMemoryTrainingJobs(
        monitored_job().model_copy(update={"created_at": T0 - MINUTE}), failed
    )  # type: ignore[misc]
    tick(services, T0)
    assert state_of(services, rule.id) == AlertState.FIRING
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert "out of memory" in alert.message and alert.values["job_id"] == "job-9"
    later = job("job-10", status=TrainingStatus.COMPLETED).model_copy(update={"created_at": T0 + MINUTE})
    services.jobs.add(later)
    tick(services, T0 + MINUTE)
    assert state_of(services, rule.id) == AlertState.OK


def test_unchanged_rules_write_no_state_and_one_log_entry_each() -> None:
    rules = [rule_of("observed_threshold", {"threshold": 100.0}) for _ in range(20)]
    services = monitoring_services(*rules, points=series([10.0]))
    tick(services, T0)
    assert services.rule_states.saves == 20  # type: ignore[attr-defined]
    tick(services, T0 + MINUTE)
    assert services.rule_states.saves == 20  # type: ignore[attr-defined]
    assert len(services.alert_evaluations.records) == 40  # type: ignore[attr-defined]


def test_unsent_notifications_are_queued_again_by_a_later_tick() -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id])
    services = monitoring_services(rule, channels=(channel,), points=series([150]))
    services.notification_queue.fail = lambda i: True  # type: ignore[attr-defined]
    assert tick(services, T0).queued == 0
    services.notification_queue.fail = lambda i: False  # type: ignore[attr-defined]
    assert tick(services, T0 + MINUTE).resent == 0  # not yet older than two minutes
    assert tick(services, T0 + 3 * MINUTE).resent == 1
