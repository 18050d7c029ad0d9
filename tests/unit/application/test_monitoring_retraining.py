"""Rule triggers end to end over the fakes: a drift or live-accuracy rule that starts firing asks
the model's retraining policy for a retraining through the ``RetrainTrigger`` port (one run per
firing, a ``rule`` trigger on the job), a rule the policy does not list is recorded skipped with
the reason, a rule that keeps firing asks nothing more, and other rule types never ask."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chronos_core.application.retraining.commands import PutPolicy
from chronos_core.application.retraining.policies import put_policy
from chronos_core.bootstrap import Services
from chronos_core.domain.ids import ModelId
from chronos_core.domain.monitoring import AlertRule, AlertState
from chronos_core.domain.retraining import RetrainingPolicy, TriggerKind
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import T0, data_quality, principal
from tests.support.fakes import FakeSeriesSource, RecordingRetrainTrigger
from tests.support.monitoring import ENTITY, monitored_job, monitoring_services, rule_of, tick

HALF_HOUR = timedelta(minutes=30)
MODEL = ModelId("model-1")


def series(values: list[float], end: datetime) -> list[tuple[datetime, float | None]]:
    return [(end - (len(values) - 1 - i) * HALF_HOUR, v) for i, v in enumerate(values)]


REFERENCE = series([10.0 + (i % 7) * 0.5 for i in range(200)], end=T0 - 24 * HALF_HOUR)
CALM = series([10.0 + (i % 7) * 0.5 for i in range(24)], end=T0)


def shifted(end: datetime) -> list[tuple[datetime, float | None]]:
    return REFERENCE + series([30.0 + (i % 7) * 0.5 for i in range(24)], end=end)


def drift_rule() -> AlertRule:
    return rule_of("input_drift", {"normalization": "level", "window": 24, "test": "ks"})


def drifting_world(rule: AlertRule, trigger_rules: list[str] | None, **overrides: Any) -> Services:
    """The monitored model (served by job-1, trained on 200 points) with a drift rule; STH holds
    the reference and a calm recent window; a policy (when ``trigger_rules`` is given)."""
    quality = data_quality(points=200, interval=1800.0).model_copy(
        update={"last_timestamp": T0 - 24 * HALF_HOUR}
    )
    points = REFERENCE + CALM
    services = monitoring_services(
        rule,
        points=points,
        job=monitored_job(data_quality=quality),
        series=FakeSeriesSource({ENTITY: [(t, v) for t, v in points if v is not None]}),
        **overrides,
    )
    if trigger_rules is not None:
        put_policy(
            services,
            PutPolicy(
                principal=principal(), model_id=MODEL, policy=RetrainingPolicy(trigger_rules=trigger_rules)
            ),
        )
    return services


def drift_now(services: Services, at: datetime) -> None:
    services.observed_series.points[ENTITY] = shifted(at)  # type: ignore[attr-defined]


def runs(services: Services) -> list[Any]:
    return services.runs.list_for_model(MODEL, 0, 50).items


def retrained(services: Services) -> list[Any]:
    return [j for j in services.jobs.list_for_model(MODEL, 0, 50).items if j.id != "job-1"]


def test_a_firing_drift_rule_listed_by_the_policy_starts_one_retraining_with_a_rule_trigger() -> None:
    rule = drift_rule()
    services = drifting_world(rule, [rule.id])
    assert tick(services, T0).retrain_requests == 0 and runs(services) == []  # calm: ok
    drift_now(services, T0 + HALF_HOUR)
    result = tick(services, T0 + HALF_HOUR)
    assert result.firing == 1 and result.retrain_requests == 1
    [run] = runs(services)
    assert run.kind == TriggerKind.RULE and run.rule_id == rule.id and run.outcome == "started"
    assert "input_drift" in (run.reason or "") and run.at == T0 + HALF_HOUR
    [job] = retrained(services)
    [trigger] = job.triggers
    assert trigger.kind == TriggerKind.RULE and trigger.rule_id == rule.id
    assert run.job_id == job.id and services.workflow.started  # type: ignore[attr-defined]
    [alert] = services.alerts.alerts.values()  # type: ignore[attr-defined]
    assert run.key.endswith(f"alert:{alert.id}")  # one run per firing (the episode's alert)


def test_any_rule_with_a_star_and_a_second_evaluation_while_firing_asks_nothing_more() -> None:
    rule = drift_rule()
    services = drifting_world(rule, ["*"])
    drift_now(services, T0)
    assert tick(services, T0).retrain_requests == 1
    [job] = retrained(services)
    services.jobs.finish(job.id, TrainingStatus.COMPLETED)  # the lease is free again
    services.models.release_after_training(MODEL, succeeded=True)
    for k in (1, 2):
        drift_now(services, T0 + k * HALF_HOUR)
        again = tick(services, T0 + k * HALF_HOUR)
        assert again.claimed == 1 and again.retrain_requests == 0
    assert services.rule_states.get(rule.id).state == AlertState.FIRING  # type: ignore[union-attr]
    assert len(runs(services)) == 1 and len(retrained(services)) == 1


def test_a_rule_the_policy_does_not_list_is_recorded_skipped_with_the_reason() -> None:
    rule = drift_rule()
    services = drifting_world(rule, ["some-other-rule"])
    drift_now(services, T0)
    assert tick(services, T0).retrain_requests == 1
    [run] = runs(services)
    assert run.outcome == "skipped" and run.rule_id == rule.id
    assert run.outcome_reason == f"rule {rule.id} is not one of the policy's trigger rules"
    assert retrained(services) == [] and services.workflow.started == []  # type: ignore[attr-defined]


def test_without_a_policy_the_firing_is_skipped_and_the_alert_stands() -> None:
    rule = drift_rule()
    services = drifting_world(rule, None)
    # The answer needs nothing but the policy: the model's training history is not read (a
    # tick of 200 firing drift rules spent 48 s reading histories for models without a policy).
    histories = services.jobs.histories
    services.jobs.histories = lambda *a, **k: pytest.fail("histories read for an unheard rule")  # type: ignore[method-assign]
    drift_now(services, T0)
    assert tick(services, T0).firing == 1
    [run] = runs(services)
    assert run.outcome == "skipped" and "no enabled retraining policy" in (run.outcome_reason or "")
    services.jobs.histories = histories  # type: ignore[method-assign]


def test_only_drift_and_live_accuracy_rules_ask_and_a_failing_trigger_does_not_stop_the_evaluation() -> None:
    threshold = rule_of("observed_threshold", {"threshold": 20.0})
    drift = drift_rule()
    trigger = RecordingRetrainTrigger(error=RuntimeError("retraining is down"))
    services = drifting_world(drift, None, retrain_trigger=trigger)
    services.alert_rules.add(threshold)
    drift_now(services, T0)
    result = tick(services, T0)
    assert result.firing == 2 and result.retrain_requests == 0  # asked once, and it failed
    [firing] = trigger.firings
    assert firing.rule_id == drift.id and firing.model_id == MODEL and firing.event_id.startswith("alert:")
    assert services.rule_states.get(drift.id).state == AlertState.FIRING  # type: ignore[union-attr]
    assert len(services.alerts.alerts) == 2  # type: ignore[attr-defined]


def test_which_transitions_of_which_rules_ask_for_a_retraining() -> None:
    from chronos_core.application.monitoring.retraining import firing_of
    from chronos_core.domain.monitoring import Alert, Observation, Outcome, Severity, Transition

    def asks(rule: AlertRule, from_state: AlertState, to_state: AlertState) -> bool:
        alert = Alert(fingerprint="f", rule_id=rule.id, rule_name=rule.name, rule_type=rule.type.value,
                      severity=Severity.LOW, fiware_service="energy")  # fmt: skip
        observation = Observation(outcome=Outcome.BREACH, value=3.0, threshold=1.0, message="live MAE 3 > 1")
        transition = Transition(from_state=from_state, to_state=to_state)
        return firing_of(rule, transition, alert, observation, T0) is not None

    live = rule_of("live_accuracy", {"max_ratio": 2.0})
    assert asks(live, AlertState.OK, AlertState.FIRING)
    assert asks(live, AlertState.PENDING, AlertState.FIRING)
    assert asks(live, AlertState.NO_DATA, AlertState.FIRING)  # the episode began without data
    assert not asks(live, AlertState.RECOVERING, AlertState.FIRING)  # same episode, asked already
    assert not asks(live, AlertState.OK, AlertState.PENDING)
    assert not asks(live, AlertState.FIRING, AlertState.OK)
    assert asks(drift_rule(), AlertState.OK, AlertState.FIRING)
    for other in ("staleness", "forecast_failures", "training_failed"):
        assert not asks(rule_of(other), AlertState.OK, AlertState.FIRING)
