"""The retraining rules: the guards (lease, cooldown, daily cap, minimum new data, rules), the
champion/challenger decision (a worse challenger is never promoted) and the training queue's
order and estimated waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chronos_core.domain.retraining import (
    ConcurrencyLimits,
    HoldoutComparison,
    RetrainingPolicy,
    TrainingHistory,
    TriggerKind,
    admit_in_order,
    decide_promotion,
    estimate_waits,
    guard,
    unheard_rule,
)

NOW = datetime(2026, 5, 5, 12, 0, tzinfo=UTC)
MIDNIGHT = NOW.replace(hour=0)


def decide(
    policy: RetrainingPolicy | None,
    kind: TriggerKind = TriggerKind.CRON,
    history: TrainingHistory | None = None,
    points: int | None = 10_000,
    rule_id: str | None = None,
) -> tuple[str, str]:
    d = guard(
        policy,
        kind,
        history or TrainingHistory(),
        NOW,
        points_now=points,
        zone_day_start=MIDNIGHT,
        rule_id=rule_id,
    )
    return d.action, d.reason


def test_a_running_or_queued_training_absorbs_every_trigger() -> None:
    running = TrainingHistory(running_job_id="job-7")
    for kind in TriggerKind:
        action, reason = decide(RetrainingPolicy(trigger_rules=["drift"]), kind, running, rule_id="drift")
        assert action == "attach" and "job-7" in reason


def test_a_rule_the_policy_does_not_listen_to_is_no_reason_even_for_a_running_training() -> None:
    running = TrainingHistory(running_job_id="job-7")
    action, reason = decide(
        RetrainingPolicy(trigger_rules=["live-mae"]), TriggerKind.RULE, running, rule_id="drift"
    )
    assert action == "skip" and "not one of the policy's trigger rules" in reason
    assert unheard_rule(None, TriggerKind.RULE, "drift") is not None  # no policy: skipped too
    assert unheard_rule(RetrainingPolicy(trigger_rules=["*"]), TriggerKind.RULE, "drift") is None
    assert unheard_rule(None, TriggerKind.MANUAL, None) is None  # only rule triggers


def test_cooldown_skips_until_it_has_passed() -> None:
    policy = RetrainingPolicy(cooldown="PT6H")
    recent = TrainingHistory(recent_starts=[NOW - timedelta(hours=5)])
    action, reason = decide(policy, history=recent)
    assert action == "skip" and reason.startswith("cooldown") and "2026-05-05T13:00:00Z" in reason
    assert decide(policy, history=TrainingHistory(recent_starts=[NOW - timedelta(hours=6)]))[0] == "train"


def test_the_daily_cap_counts_starts_since_local_midnight() -> None:
    policy = RetrainingPolicy(max_per_day=2)
    two_today = TrainingHistory(recent_starts=[MIDNIGHT + timedelta(hours=1), MIDNIGHT + timedelta(hours=2)])
    action, reason = decide(policy, history=two_today)
    assert action == "skip" and reason.startswith("daily cap")
    yesterday = TrainingHistory(recent_starts=[MIDNIGHT - timedelta(hours=1), MIDNIGHT + timedelta(hours=2)])
    assert decide(policy, history=yesterday)[0] == "train"


def test_too_little_new_data_skips_with_the_counts() -> None:
    policy = RetrainingPolicy(min_new_points=500)
    history = TrainingHistory(last_completed_points=10_000)
    action, reason = decide(policy, history=history, points=10_300)
    assert action == "skip" and "300 new points" in reason and "at least 500" in reason
    assert decide(policy, history=history, points=10_500)[0] == "train"


def test_a_manual_trigger_bypasses_the_guards_but_a_rule_must_be_listed() -> None:
    capped = TrainingHistory(recent_starts=[NOW - timedelta(minutes=1)] * 9)
    assert decide(None, TriggerKind.MANUAL, capped)[0] == "train"
    assert decide(None, TriggerKind.CRON)[0] == "skip"
    assert decide(RetrainingPolicy(enabled=False), TriggerKind.CRON)[0] == "skip"
    policy = RetrainingPolicy(trigger_rules=["drift-demand"])
    assert decide(policy, TriggerKind.RULE, rule_id="drift-demand")[0] == "train"
    action, reason = decide(policy, TriggerKind.RULE, rule_id="live-mae")
    assert action == "skip" and "live-mae" in reason
    assert decide(RetrainingPolicy(trigger_rules=["*"]), TriggerKind.RULE, rule_id="live-mae")[0] == "train"


def comparison(
    challenger: float | None, champion: float | None, champion_id: str = "champ"
) -> HoldoutComparison:
    return HoldoutComparison(
        champion_job_id=champion_id, challenger_mae=challenger, champion_mae=champion, windows=40
    )


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "promoted"),
    [
        (0.8, 1.0, 0.0, True),
        (1.0, 1.0, 0.0, False),  # equal is not better
        (1.2, 1.0, 0.0, False),  # worse: never
        (0.96, 1.0, 0.05, False),  # better, but not by the margin
        (0.94, 1.0, 0.05, True),
        (None, 1.0, 0.0, False),
        (float("nan"), 1.0, 0.0, False),
    ],
)
def test_a_challenger_is_promoted_only_when_better_by_the_margin(
    challenger: float | None, champion: float, margin: float, promoted: bool
) -> None:
    verdict = decide_promotion(
        comparison(challenger, champion), champion_job_id="champ", margin=margin, pinned=False, now=NOW
    )
    assert verdict.promoted is promoted
    assert verdict.reason


def test_no_promotion_over_a_pinned_champion_or_another_one_than_scored() -> None:
    better = comparison(0.1, 1.0)
    pinned = decide_promotion(better, champion_job_id="champ", margin=0.0, pinned=True, now=NOW)
    assert not pinned.promoted and "pinned" in pinned.reason
    moved = decide_promotion(better, champion_job_id="other", margin=0.0, pinned=False, now=NOW)
    assert not moved.promoted and "not scored against the current champion" in moved.reason
    first = decide_promotion(None, champion_job_id=None, margin=0.0, pinned=False, now=NOW)
    assert first.promoted and "no champion" in first.reason


def test_the_queue_starts_in_order_without_head_of_line_blocking_across_tenants() -> None:
    limits = ConcurrencyLimits(global_limit=3, tenant_limit=1)
    # "a" already runs one: its queued jobs wait, "b" and "c" go ahead in order
    assert admit_in_order(["a", "b", "a", "c", "b"], {"a": 1}, limits) == [1, 3]
    assert admit_in_order(["a", "b"], {"x": 3}, limits) == []
    assert admit_in_order(["a", "a", "a"], {}, ConcurrencyLimits()) == [0, 1, 2]


def test_estimated_waits_follow_the_order_and_typical_duration() -> None:
    limits = ConcurrencyLimits(global_limit=1)
    waits = estimate_waits([("a", 100.0)], ["a", "b", "c"], limits, typical_seconds=300.0)
    assert waits == [200.0, 500.0, 800.0]
    assert estimate_waits([], ["a"], limits, typical_seconds=None) == [None]
