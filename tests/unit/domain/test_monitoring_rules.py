"""Alert rules as values: validation that names the field, and the state machine
(ok → pending → firing → ok, no_data, error, awaiting_actuals) with its notification decisions:
pending periods, M of N, flapping, recovering, repeats, resolutions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.monitoring import (
    AlertRule,
    AlertState,
    Effect,
    Outcome,
    RuleChanges,
    RuleDraft,
    RuleState,
    apply_rule_changes,
    build_rule,
    effect_of,
    fingerprint,
    notification_due,
    step,
)
from tests.support.builders import T0, model

MINUTE = timedelta(minutes=1)


def draft(**fields: Any) -> RuleDraft:
    values: dict[str, Any] = {
        "type": "observed_threshold",
        "params": {"threshold": 10.0},
        "model_id": "model-1",
        **fields,
    }
    return RuleDraft.model_validate(values)


def rule(**fields: Any) -> AlertRule:
    return build_rule(draft(**fields), model())


def fields_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [d["field"] for d in exc.value.details]


# ------------------------------------------------------------------------------ validation


def test_a_rule_copies_its_models_tenant_and_series() -> None:
    built = rule(severity="high")
    assert (built.fiware_service, built.fiware_servicepath) == ("energy", "/e2e")
    assert (built.entity_id, built.attribute) == ("urn:x:Meter:1", "demand")
    assert built.params.type == "observed_threshold" and built.severity == "high"
    assert built.name == "observed_threshold - urn:x:Meter:1/demand"


def test_a_threshold_rule_without_a_threshold_names_params_threshold() -> None:
    with pytest.raises(ValidationError) as exc:
        rule(params={})
    assert fields_of(exc) == ["params.threshold"]
    with pytest.raises(ValidationError) as exc:
        rule(type="predicted_crossing", params={"direction": "below"})
    assert fields_of(exc) == ["params.threshold"]


def test_unknown_or_wrongly_typed_params_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as exc:
        rule(params={"threshold": 1, "treshold_typo": 2})
    assert fields_of(exc) == ["params.treshold_typo"]
    with pytest.raises(ValidationError) as exc:
        rule(type="staleness", params={"factor": 0.5})
    assert fields_of(exc) == ["params.factor"]


def test_a_repeat_interval_shorter_than_the_evaluation_interval_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        rule(evaluation_interval_seconds=300, repeat_interval_seconds=120)
    assert fields_of(exc) == ["repeat_interval_seconds"]
    assert rule(evaluation_interval_seconds=300, repeat_interval_seconds=300).repeat_interval_seconds == 300
    assert rule(repeat_interval_seconds=None).repeat_interval_seconds is None


def test_intervals_and_pending_settings_are_checked() -> None:
    with pytest.raises(ValidationError) as exc:
        rule(evaluation_interval_seconds=30)
    assert fields_of(exc) == ["evaluation_interval_seconds"]
    with pytest.raises(ValidationError) as exc:
        rule(for_seconds=120, pending_evaluations={"m": 2, "n": 3})
    assert fields_of(exc) == ["pending_evaluations"]
    with pytest.raises(Exception, match="m cannot be greater than n"):
        draft(pending_evaluations={"m": 4, "n": 3})


def test_a_bias_rule_needs_its_limit_and_defaults_fill_the_others() -> None:
    with pytest.raises(ValidationError) as exc:
        rule(type="live_accuracy", params={"metric": "bias"})
    assert fields_of(exc) == ["params.max_value"]
    mae = rule(type="live_accuracy", params={}).params
    assert mae.max_ratio == 2.0  # type: ignore[union-attr]
    coverage = rule(type="live_accuracy", params={"metric": "coverage", "level": "95"}).params
    assert coverage.min_coverage == pytest.approx(0.80)  # type: ignore[union-attr]


def test_changes_are_validated_like_a_new_rule_and_keep_the_type() -> None:
    original = rule()
    changed = apply_rule_changes(original, RuleChanges(params={"threshold": 20.0, "direction": "below"}))
    assert changed.params.threshold == 20.0 and changed.type == original.type  # type: ignore[union-attr]
    with pytest.raises(ValidationError) as exc:
        apply_rule_changes(original, RuleChanges.model_validate({"repeat_interval_seconds": 10}))
    assert fields_of(exc) == ["repeat_interval_seconds"]
    never = apply_rule_changes(original, RuleChanges.model_validate({"repeat_interval_seconds": None}))
    assert never.repeat_interval_seconds is None


def test_the_fingerprint_names_tenant_rule_job_entity_and_attribute() -> None:
    base = fingerprint("energy", "/", "r1", None, "e1", "a")
    assert base == fingerprint("energy", "/", "r1", None, "e1", "a")
    assert len({base, *[fingerprint(*args) for args in [
        ("water", "/", "r1", None, "e1", "a"), ("energy", "/x", "r1", None, "e1", "a"),
        ("energy", "/", "r2", None, "e1", "a"), ("energy", "/", "r1", "j", "e1", "a"),
        ("energy", "/", "r1", None, "e2", "a"), ("energy", "/", "r1", None, "e1", "b"),
    ]]}) == 7  # fmt: skip


# --------------------------------------------------------------------------- state machine


def run(
    r: AlertRule, outcomes: list[Outcome], start: datetime = T0, every: timedelta = MINUTE
) -> list[RuleState]:
    """The state after each outcome, one evaluation every ``every``."""
    state = RuleState(rule_id=r.id)
    states = []
    for i, outcome in enumerate(outcomes):
        state, _ = step(r, state, effect_of(r, outcome), start + i * every)
        states.append(state)
    return states


B, K, N, E, A, U = (
    Outcome.BREACH,
    Outcome.OK,
    Outcome.NO_DATA,
    Outcome.ERROR,
    Outcome.AWAITING_ACTUALS,
    Outcome.UNCHANGED,
)


def names(states: list[RuleState]) -> list[str]:
    return [s.state.value for s in states]


def test_without_a_pending_period_a_breach_fires_at_once_and_an_ok_resolves() -> None:
    assert names(run(rule(), [B, B, K])) == ["firing", "firing", "ok"]


def test_for_keeps_a_breach_pending_until_it_has_lasted() -> None:
    states = run(rule(for_seconds=120), [B, B, B, K])
    assert names(states) == ["pending", "pending", "firing", "ok"]
    assert states[0].pending_since == T0 and states[2].pending_since is None


def test_a_pending_alert_that_recovers_never_fires() -> None:
    r = rule(for_seconds=120)
    states = run(r, [B, K, B, K])
    assert names(states) == ["pending", "ok", "pending", "ok"]
    assert all(notification_due(r, s, None, T0) is None for s in states)


def test_m_of_n_fires_on_m_bad_of_the_last_n_and_resolves_when_fewer_remain() -> None:
    r = rule(pending_evaluations={"m": 3, "n": 5})
    states = run(r, [B, K, B, K, B, K])
    assert names(states) == ["pending", "pending", "pending", "pending", "firing", "ok"]
    assert states[4].recent == ["b", "g", "b", "g", "b"] and states[5].recent == ["g", "b", "g", "b", "g"]
    held = run(rule(pending_evaluations={"m": 2, "n": 4}), [B, B, B, K, K, K])
    assert names(held) == ["pending", "firing", "firing", "firing", "firing", "ok"]


def test_a_flapping_series_does_not_flap_the_alert_with_m_of_n_or_keep_firing_for() -> None:
    flapping = [B, K] * 6
    plain = run(rule(), flapping)
    transitions = sum(1 for a, b in zip(plain, plain[1:], strict=False) if a.state != b.state)
    assert transitions == len(flapping) - 1  # no protection: every evaluation flips
    damped = run(rule(pending_evaluations={"m": 2, "n": 4}), flapping)
    assert names(damped)[2:] == ["firing"] * (len(flapping) - 2)  # fires once, stays
    kept = run(rule(keep_firing_for_seconds=180), flapping)
    assert {s.state for s in kept[1:]} <= {AlertState.FIRING, AlertState.RECOVERING}
    assert kept[0].state == AlertState.FIRING and kept[1].state == AlertState.RECOVERING


def test_recovering_resolves_after_keep_firing_for_without_a_breach() -> None:
    states = run(rule(keep_firing_for_seconds=120), [B, K, K, K])
    assert names(states) == ["firing", "recovering", "recovering", "ok"]


def test_no_data_is_its_own_active_state_by_default_and_follows_the_policy() -> None:
    assert names(run(rule(), [N, N, K])) == ["no_data", "no_data", "ok"]
    assert names(run(rule(on_no_data="alerting"), [N])) == ["firing"]
    assert names(run(rule(on_no_data="ok"), [B, N])) == ["firing", "ok"]
    assert names(run(rule(on_no_data="keep_last"), [B, N, N])) == ["firing", "firing", "firing"]
    assert names(run(rule(for_seconds=120), [N, N, N])) == ["pending", "pending", "no_data"]


def test_an_error_is_never_a_breach_unless_the_rule_says_so() -> None:
    assert names(run(rule(), [E, K])) == ["error", "ok"]
    assert run(rule(), [E])[0].state != AlertState.FIRING
    assert names(run(rule(on_error="keep_last"), [B, E])) == ["firing", "firing"]
    assert names(run(rule(on_error="alerting"), [E])) == ["firing"]
    assert names(run(rule(on_error="no_data"), [E])) == ["no_data"]


def test_a_firing_rule_whose_data_goes_silent_stays_active_in_the_same_episode() -> None:
    r = rule()
    state = RuleState(rule_id=r.id)
    state, first = step(r, state, effect_of(r, B), T0)
    state = state.model_copy(update={"alert_id": "alert-1", "last_notified_at": T0})
    state, switch = step(r, state, effect_of(r, N), T0 + MINUTE)
    assert first is not None and first.starts_episode
    assert switch is not None and not switch.starts_episode and not switch.ends_episode
    assert state.state == AlertState.NO_DATA and state.alert_id == "alert-1"


def test_awaiting_actuals_is_distinct_and_never_alerts() -> None:
    r = rule(type="live_accuracy", params={})
    assert names(run(r, [A, A, K, A])) == ["awaiting_actuals", "awaiting_actuals", "ok", "awaiting_actuals"]
    assert names(run(r, [B, A, A])) == ["firing", "firing", "firing"]  # keeps an alert it has
    assert run(r, [A])[0].recent == []  # not counted in an M-of-N window


def test_unchanged_changes_nothing() -> None:
    r = rule()
    before = RuleState(rule_id=r.id, state=AlertState.FIRING, alert_id="a")
    after, transition = step(r, before, Effect(kind="none"), T0)
    assert after is before and transition is None


# ---------------------------------------------------------------------------- notifications


def episode(r: AlertRule, outcomes: list[Outcome], every: timedelta = MINUTE) -> list[str | None]:
    """The notification decided after each evaluation (assuming each was sent)."""
    state = RuleState(rule_id=r.id)
    decided: list[str | None] = []
    for i, outcome in enumerate(outcomes):
        now = T0 + i * every
        state, transition = step(r, state, effect_of(r, outcome), now)
        kind = notification_due(r, state, transition, now)
        if kind in ("firing", "repeat"):
            state = state.model_copy(update={"last_notified_at": now})
        decided.append(kind)
    return decided


def test_notified_on_firing_again_after_the_repeat_interval_and_on_resolution() -> None:
    r = rule(repeat_interval_seconds=180)
    assert episode(r, [B, B, B, B, B, K]) == ["firing", None, None, "repeat", None, "resolved"]


def test_a_rule_that_never_repeats_or_does_not_notify_resolutions() -> None:
    assert episode(rule(repeat_interval_seconds=None), [B] * 6 + [K]) == ["firing"] + [None] * 5 + [
        "resolved"
    ]
    assert episode(rule(notify_on_resolve=False), [B, K]) == ["firing", None]


def test_an_acknowledged_alert_is_not_repeated() -> None:
    r = rule(repeat_interval_seconds=60)
    state = RuleState(rule_id=r.id, state=AlertState.FIRING, alert_id="a", last_notified_at=T0)
    assert notification_due(r, state, None, T0 + 5 * MINUTE) == "repeat"
    assert notification_due(r, state, None, T0 + 5 * MINUTE, acknowledged=True) is None


def test_a_firing_held_back_by_a_silence_is_sent_once_the_silence_ends() -> None:
    r = rule()
    silenced = RuleState(
        rule_id=r.id, state=AlertState.FIRING, alert_id="a", last_notified_at=T0, notification_silenced=True
    )
    assert notification_due(r, silenced, None, T0 + MINUTE) == "firing"


def test_nothing_is_notified_for_pending_or_for_an_inactive_rule() -> None:
    r = rule(for_seconds=600)
    assert episode(r, [B, B, K, K]) == [None, None, None, None]
