"""Retraining as values and rules: a model's policy, the triggers that ask for a training, the
guards that let one through, the champion/challenger decision, and the training queue's order
and estimated waits. No I/O: the use cases in ``application/retraining`` load what these rules
need and store what they decide.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chronos_core.domain.schedule import Schedule, fixed_duration_seconds

#: Most points a training window may name (the admission's own bound).
MAX_WINDOW_POINTS: Final = 1_000_000
#: Longest training window by time and longest cooldown.
MAX_WINDOW_SECONDS: Final = 3650 * 86_400
MAX_COOLDOWN_SECONDS: Final = 366 * 86_400
#: Rule ids a policy may list; ``*`` means any rule.
ANY_RULE: Final = "*"

RunOutcome = Literal["started", "queued", "attached", "skipped"]


class TriggerKind(StrEnum):
    """What asked for a training: the policy's schedule, a monitoring rule, or a user."""

    CRON = "cron"
    RULE = "rule"
    MANUAL = "manual"


class Trigger(BaseModel):
    """One reason a training runs, as the job records it. ``key`` makes a trigger idempotent:
    the cron fire time, the rule and its event time, or the manual request's id."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: TriggerKind
    at: datetime
    key: str = Field(min_length=1, max_length=300)
    fire_time: datetime | None = None
    rule_id: str | None = None
    user: str | None = None
    reason: str | None = Field(default=None, max_length=500)


# ---------------------------------------------------------------------------------- the policy


class TrainingWindow(BaseModel):
    """What a retraining trains on: the most recent ``last_n`` points, or the points of the last
    ``duration`` (an ISO-8601 duration of fixed length, e.g. ``P90D``), or every stored point
    (up to the admission's limit) when neither is given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    last_n: int | None = Field(default=None, ge=1, le=MAX_WINDOW_POINTS, strict=True)
    duration: str | None = Field(default=None, min_length=2, max_length=40)

    @field_validator("duration")
    @classmethod
    def _fixed(cls, value: str | None) -> str | None:
        if value is None:
            return None
        seconds = fixed_duration_seconds(value, field="window.duration")
        if not 3600 <= seconds <= MAX_WINDOW_SECONDS:
            raise ValueError("a training window lasts between one hour and ten years")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if self.last_n is not None and self.duration is not None:
            raise ValueError("give last_n or duration, not both")
        return self

    @property
    def duration_seconds(self) -> float | None:
        return fixed_duration_seconds(self.duration) if self.duration else None


class RetrainingPolicy(BaseModel):
    """How a model keeps itself fresh (the body of ``PUT /models/{id}/retraining-policy``).

    * ``schedule``: when cron retraining fires (None: only rules and users trigger it).
    * ``window``: what each retraining trains on.
    * ``min_new_points``: a cron or rule trigger is skipped while STH holds fewer new points than
      this since the last completed training (counted in stored points).
    * ``cooldown``: no cron or rule training starts within this long of the previous start.
    * ``max_per_day``: at most this many trainings start per day (the schedule's zone).
    * ``promotion_margin``: a challenger is promoted only if its MAE is below
      ``(1 - promotion_margin)`` x the champion's on the same holdout.
    * ``trigger_rules``: the monitoring rules whose firing triggers a retraining (``*``: any).
    * ``warm_start``: the challenger starts from the champion's weights (same architecture).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, strict=True)
    schedule: Schedule | None = None
    window: TrainingWindow = Field(default_factory=TrainingWindow)
    min_new_points: int = Field(default=0, ge=0, le=MAX_WINDOW_POINTS, strict=True)
    cooldown: str | None = Field(
        default=None, min_length=2, max_length=40, description="ISO-8601 duration, e.g. PT6H."
    )
    max_per_day: int = Field(default=4, ge=1, le=1440, strict=True)
    promotion_margin: float = Field(default=0.0, ge=0.0, lt=1.0, strict=True)
    trigger_rules: list[str] = Field(default_factory=list, max_length=50)
    warm_start: bool = Field(default=False, strict=True)

    @field_validator("cooldown")
    @classmethod
    def _cooldown(cls, value: str | None) -> str | None:
        if value is None:
            return None
        seconds = fixed_duration_seconds(value, field="cooldown")
        if not 0 < seconds <= MAX_COOLDOWN_SECONDS:
            raise ValueError("a cooldown lasts more than zero and at most 366 days")
        return value

    @field_validator("trigger_rules")
    @classmethod
    def _rules(cls, value: list[str]) -> list[str]:
        for rule in value:
            if not 1 <= len(rule) <= 128 or any(c.isspace() for c in rule):
                raise ValueError("a rule id has 1 to 128 characters and no spaces")
        return sorted(set(value))

    @property
    def cooldown_seconds(self) -> float:
        return fixed_duration_seconds(self.cooldown) if self.cooldown else 0.0

    def listens_to(self, rule_id: str) -> bool:
        return ANY_RULE in self.trigger_rules or rule_id in self.trigger_rules


class StoredPolicy(BaseModel):
    """A policy as stored: the model it belongs to, its tenant, and since when its schedule
    holds (a fire time before ``schedule_since`` never fires: setting a policy does not replay
    the past)."""

    model_config = ConfigDict(extra="ignore")

    model_id: str
    fiware_service: str
    policy: RetrainingPolicy
    schedule_since: datetime
    created_at: datetime
    updated_at: datetime

    def due_fire(self, now: datetime) -> datetime | None:
        """The fire time a tick at ``now`` acts on: the latest at or before ``now`` (every missed
        one coalesced into it), or None (disabled, no schedule, or none since ``schedule_since``)."""
        schedule = self.policy.schedule
        if not self.policy.enabled or schedule is None:
            return None
        fire = schedule.latest_at_or_before(now, anchor=self.schedule_since)
        return fire if fire is not None and fire >= self.schedule_since else None


class RetrainingRun(BaseModel):
    """One trigger as the retraining log records it: what asked, when, and what came of it
    (``started``/``queued`` a training, ``attached`` to the running one, or ``skipped`` with the
    reason). ``key`` is unique per model and trigger (for a cron trigger: its fire time), so a
    fire time is acted on once, whatever the number of schedulers."""

    model_config = ConfigDict(extra="ignore")

    key: str
    model_id: str
    kind: TriggerKind
    at: datetime
    fire_time: datetime | None = None
    rule_id: str | None = None
    user: str | None = None
    #: Why the trigger asked (a rule's reason, a user's note, "fire time ...").
    reason: str | None = None
    outcome: RunOutcome | Literal["pending"] = "pending"
    #: Why it came to that outcome (the guard that skipped it, the job it joined).
    outcome_reason: str | None = None
    job_id: str | None = None

    def trigger(self) -> Trigger:
        return Trigger(
            kind=self.kind,
            at=self.at,
            key=self.key,
            fire_time=self.fire_time,
            rule_id=self.rule_id,
            user=self.user,
            reason=self.reason,
        )


def run_key(model_id: str, kind: TriggerKind, detail: str) -> str:
    """The key of a trigger: ``<model>|<kind>|<detail>`` (cron: the fire time in ISO-8601 UTC)."""
    return f"{model_id}|{kind.value}|{detail}"


class ModelEvent(BaseModel):
    """Something a user should know about a model's serving (Smart Data Models' ``Alert``
    severity): a promotion, a challenger kept and why, a pin, a rollback."""

    model_config = ConfigDict(extra="ignore")

    model_id: str
    at: datetime
    kind: Literal["promoted", "challenger_kept", "pinned", "unpinned", "rolled_back", "champion_removed"]
    severity: Literal["informational", "low", "medium", "high", "critical"] = "informational"
    message: str
    job_id: str | None = None
    champion_job_id: str | None = None


# ---------------------------------------------------------------------------------- the guards


class TrainingHistory(BaseModel):
    """What the guards need to know of a model's trainings: the one running (or queued), when
    recent ones started, and how many points the last completed one was admitted with."""

    model_config = ConfigDict(frozen=True)

    running_job_id: str | None = None
    recent_starts: list[datetime] = Field(default_factory=list)
    last_completed_points: int | None = None


class GuardDecision(BaseModel):
    """``train`` (start or queue one), ``attach`` (add the trigger to the running one) or
    ``skip`` (record why, start nothing)."""

    model_config = ConfigDict(frozen=True)

    action: Literal["train", "attach", "skip"]
    reason: str


def guard(
    policy: RetrainingPolicy | None,
    kind: TriggerKind,
    history: TrainingHistory,
    now: datetime,
    *,
    points_now: int | None,
    zone_day_start: datetime,
    rule_id: str | None = None,
) -> GuardDecision:
    """Decide what a trigger does. A rule trigger the policy does not listen to is skipped
    first (:func:`unheard_rule`: it is no reason for any training). A training that runs or waits
    absorbs every other trigger (one lease per model). Otherwise a manual trigger always trains; a
    cron or rule trigger must pass, in order: the policy exists and is enabled (and lists the
    rule), the cooldown since the last start, the daily cap (starts since ``zone_day_start``,
    local midnight), and the minimum of new points since the last completed training
    (``points_now`` from STH)."""
    unheard = unheard_rule(policy, kind, rule_id)
    if unheard is not None:
        return unheard
    if history.running_job_id is not None:
        return GuardDecision(
            action="attach", reason=f"a training is running or queued ({history.running_job_id})"
        )
    if kind == TriggerKind.MANUAL:
        return GuardDecision(action="train", reason="requested by a user")
    if policy is None or not policy.enabled:
        return GuardDecision(action="skip", reason="the model has no enabled retraining policy")
    if kind == TriggerKind.RULE and (rule_id is None or not policy.listens_to(rule_id)):
        return GuardDecision(action="skip", reason=f"rule {rule_id} is not one of the policy's trigger rules")
    last = max(history.recent_starts, default=None)
    cooldown = policy.cooldown_seconds
    if last is not None and cooldown and now < last + timedelta(seconds=cooldown):
        until = last + timedelta(seconds=cooldown)
        return GuardDecision(
            action="skip",
            reason=f"cooldown: the last training started at {_iso(last)}; none before {_iso(until)}",
        )
    today = sum(1 for start in history.recent_starts if start >= zone_day_start)
    if today >= policy.max_per_day:
        return GuardDecision(
            action="skip", reason=f"daily cap: {today} trainings started today (at most {policy.max_per_day})"
        )
    if policy.min_new_points > 0 and points_now is not None:
        new = points_now - (history.last_completed_points or 0)
        if new < policy.min_new_points:
            return GuardDecision(
                action="skip",
                reason=f"not enough new data: {max(0, new)} new points since the last training "
                f"(at least {policy.min_new_points})",
            )
    return GuardDecision(action="train", reason=f"{kind.value} trigger passed the policy's guards")


def unheard_rule(
    policy: RetrainingPolicy | None, kind: TriggerKind, rule_id: str | None
) -> GuardDecision | None:
    """The skip of a rule trigger that no enabled policy listens to, or None (any other trigger,
    or a rule the policy lists). Needs nothing but the policy, so a tick of many firing rules
    answers most of them without reading the model's trainings."""
    if kind != TriggerKind.RULE:
        return None
    if policy is None or not policy.enabled:
        return GuardDecision(action="skip", reason="the model has no enabled retraining policy")
    if rule_id is None or not policy.listens_to(rule_id):
        return GuardDecision(action="skip", reason=f"rule {rule_id} is not one of the policy's trigger rules")
    return None


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------- champion and challenger


class HoldoutComparison(BaseModel):
    """The champion and the challenger scored on the same most recent holdout: the challenger's
    test split, H-step MAE in original units of each one's served forecaster, on the windows
    both can forecast (interpolated targets left out)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    champion_job_id: str
    challenger_mae: float | None
    champion_mae: float | None
    windows: int = Field(ge=0)
    champion_serving: str | None = None
    challenger_serving: str | None = None
    note: str | None = None


class PromotionVerdict(BaseModel):
    """Whether a finished training became the model's champion, and why."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    promoted: bool
    reason: str
    margin: float = 0.0
    champion_job_id: str | None = None
    challenger_mae: float | None = None
    champion_mae: float | None = None
    decided_at: datetime | None = None


def decide_promotion(
    comparison: HoldoutComparison | None,
    *,
    champion_job_id: str | None,
    margin: float,
    pinned: bool,
    now: datetime,
) -> PromotionVerdict:
    """Promote a challenger only when it beats the current champion by the margin on the same
    holdout: ``challenger_mae < (1 - margin) x champion_mae``. A worse (or equal) challenger is
    never promoted, nor one compared with another champion, nor any while the champion is
    pinned. The first trained job of a model is its champion."""
    base = {"margin": margin, "champion_job_id": champion_job_id, "decided_at": now}
    if champion_job_id is None:
        return PromotionVerdict(promoted=True, reason="the model had no champion", **base)
    if pinned:
        return PromotionVerdict(promoted=False, reason=f"the champion {champion_job_id} is pinned", **base)
    if comparison is None or comparison.champion_job_id != champion_job_id:
        scored = comparison.champion_job_id if comparison else "none"
        return PromotionVerdict(
            promoted=False,
            reason=f"not scored against the current champion {champion_job_id} (scored against {scored})",
            **base,
        )
    scores = {"challenger_mae": comparison.challenger_mae, "champion_mae": comparison.champion_mae}
    ch, champ = comparison.challenger_mae, comparison.champion_mae
    if (
        ch is None
        or champ is None
        or not (math.isfinite(ch) and math.isfinite(champ))
        or comparison.windows == 0
    ):
        note = f": {comparison.note}" if comparison.note else ""
        return PromotionVerdict(
            promoted=False, reason=f"the holdout could not score both forecasters{note}", **base, **scores
        )
    bar = (1.0 - margin) * champ
    if ch < bar:
        return PromotionVerdict(
            promoted=True,
            reason=f"challenger MAE {ch:.6g} < (1 - {margin:g}) x champion MAE {champ:.6g} on "
            f"{comparison.windows} holdout windows",
            **base,
            **scores,
        )
    return PromotionVerdict(
        promoted=False,
        reason=f"challenger MAE {ch:.6g} does not beat (1 - {margin:g}) x champion MAE {champ:.6g} = "
        f"{bar:.6g} on {comparison.windows} holdout windows: the champion stays",
        **base,
        **scores,
    )


class WarmStart(BaseModel):
    """Whether a challenger started from the champion's weights (same architecture only)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    requested: bool
    applied: bool = False
    from_job_id: str | None = None
    reason: str | None = None


# ---------------------------------------------------------------------------------- the queue


class QueueEntry(BaseModel):
    """A job's place in the training queue: when it was enqueued and, once a slot freed, when it
    was admitted. ``blocked_by`` says which limit held it."""

    model_config = ConfigDict(extra="ignore")

    enqueued_at: datetime
    admitted_at: datetime | None = None
    blocked_by: str | None = None

    @property
    def waiting(self) -> bool:
        return self.admitted_at is None


class ConcurrencyLimits(BaseModel):
    """Trainings that may run at once: in all, and per tenant (0: no limit)."""

    model_config = ConfigDict(frozen=True)

    global_limit: int = Field(default=0, ge=0)
    tenant_limit: int = Field(default=0, ge=0)

    def blocked_by(self, tenant: str, running: int, running_in_tenant: int) -> str | None:
        """Which limit holds a training of ``tenant`` back, or None when it may start."""
        if self.global_limit and running >= self.global_limit:
            return f"global limit of {self.global_limit} concurrent trainings"
        if self.tenant_limit and running_in_tenant >= self.tenant_limit:
            return f"limit of {self.tenant_limit} concurrent trainings for tenant {tenant}"
        return None


def admit_in_order(
    waiting: Sequence[str], running_by_tenant: dict[str, int], limits: ConcurrencyLimits
) -> list[int]:
    """Indices of the ``waiting`` trainings (their tenants, oldest first) that start now: in
    order, each one whose tenant and the whole system have room. A tenant at its limit does not
    hold back the others behind it (FIFO within a tenant, no head-of-line blocking across)."""
    counts = dict(running_by_tenant)
    running = sum(counts.values())
    started: list[int] = []
    for index, tenant in enumerate(waiting):
        if limits.global_limit and running >= limits.global_limit:
            break
        if limits.blocked_by(tenant, running, counts.get(tenant, 0)) is None:
            started.append(index)
            counts[tenant] = counts.get(tenant, 0) + 1
            running += 1
    return started


def estimate_waits(
    running: Sequence[tuple[str, float]],
    waiting: Sequence[str],
    limits: ConcurrencyLimits,
    typical_seconds: float | None,
) -> list[float | None]:
    """Estimated seconds until each waiting training starts, by simulating the queue: every
    training is assumed to last ``typical_seconds`` (the median of recent durations), running
    ones end ``typical_seconds - elapsed`` from now (at least a few seconds), and waiting ones
    start in :func:`admit_in_order`'s order as trainings end. None without a typical duration.

    ``running`` is ``(tenant, elapsed seconds)`` of each training that holds a slot."""
    if typical_seconds is None or typical_seconds <= 0:
        return [None] * len(waiting)
    ends: list[tuple[float, str]] = [(max(5.0, typical_seconds - elapsed), t) for t, elapsed in running]
    heapq.heapify(ends)
    by_tenant: dict[str, int] = {}
    for _, tenant in ends:
        by_tenant[tenant] = by_tenant.get(tenant, 0) + 1
    pending = list(enumerate(waiting))
    waits: list[float | None] = [None] * len(waiting)
    clock = 0.0
    for _ in range(len(waiting) + len(ends) + 1):
        order = [tenant for _, tenant in pending]
        for position in reversed(admit_in_order(order, by_tenant, limits)):
            index, tenant = pending.pop(position)
            waits[index] = clock
            by_tenant[tenant] = by_tenant.get(tenant, 0) + 1
            heapq.heappush(ends, (clock + typical_seconds, tenant))
        if not pending or not ends:
            break
        clock, tenant = heapq.heappop(ends)
        by_tenant[tenant] -= 1
    return waits
