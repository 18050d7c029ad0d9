"""Evaluating rules: the scheduled tick (:func:`evaluate_due`) and the evaluation of a batch of
claimed rules it shares with the evaluation after a published forecast (:func:`evaluate_rules`).

Contracts:

* **Claims.** Each rule evaluates on its own grid ``created_at + k × evaluation_interval``; a
  tick claims the latest due slot of every enabled rule by inserting a ticket unique per
  ``(rule, slot)``, so concurrent evaluators evaluate each rule once per slot. The evaluation
  after a forecast claims ``(rule, forecast:<generated_at>)`` the same way.
* **Batched reads.** The rules' states, models, jobs, logged forecasts, forecast runs, undecided
  predicted alerts and active alerts are each read once per batch (a database round trip or two
  each, whatever the number of rules); only STH (and a training-failed rule's latest job) is read
  per rule.
* **One pass.** Metrics are measured concurrently (they read STH); then, rule by rule, the
  state machine steps, the episode's alert opens, changes or resolves, every transition is stored
  as an event with the values that caused it, and notifications are created and queued.
  A rule's state is written only when it changed (all changed states at once); every evaluation
  is logged.
* **Failures** of one rule's data are that rule's ``error`` observation; the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from pydantic import BaseModel

from chronos_core.application.monitoring.commands import EvaluationTick
from chronos_core.application.monitoring.deps import EvaluationDeps
from chronos_core.application.monitoring.dispatch import notifications_for, resend_unsent, store_and_queue
from chronos_core.application.monitoring.metrics import (
    Measured,
    RuleContext,
    forecasts_wanted,
    measure,
    reads_undecided,
    runs_wanted,
)
from chronos_core.application.monitoring.retraining import firing_of, request_retrainings
from chronos_core.application.ports.monitoring import EvaluationRecord
from chronos_core.application.ports.retraining import RuleFiring
from chronos_core.domain.errors import ChronosError
from chronos_core.domain.forecasting import advance
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import Model, iso_z
from chronos_core.domain.monitoring import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    AlertStatus,
    RuleState,
    Silence,
    Transition,
    effect_of,
    event_of,
    notification_due,
    open_alert,
    predicted_crossing_of,
    step,
)
from chronos_core.domain.notifications import Notification
from chronos_core.observability import logger

#: Claim tickets inserted per storage call.
CLAIM_BATCH: Final = 500
#: The forecast log is first read back this many forecast intervals beyond what the rules need
#: (a hint that bounds the read; a job with fewer forecasts in it is read in full).
FORECAST_SLACK_INTERVALS: Final = 2


class EvaluationResult(BaseModel):
    """What one tick (or one evaluation after a forecast) did."""

    rules: int = 0
    claimed: int = 0
    evaluated: int = 0
    transitions: int = 0
    firing: int = 0
    resolved: int = 0
    notifications: int = 0
    queued: int = 0
    errors: int = 0
    outcomes: int = 0
    resent: int = 0
    #: Drift and live-accuracy rules that started firing and asked for a retraining.
    retrain_requests: int = 0


def evaluation_slot(rule: AlertRule, now: datetime) -> datetime:
    """The latest slot of the rule's grid at or before ``now``."""
    return advance(rule.created_at, rule.evaluation_interval_seconds, now)[0]


def evaluate_due(deps: EvaluationDeps, command: EvaluationTick) -> EvaluationResult:
    """Claim the current slot of every enabled rule, evaluate the rules won, then queue again
    notifications whose queueing was lost."""
    now = command.now
    rules = deps.alert_rules.enabled(deps.monitoring_settings.max_rules_per_tick)
    keys = [f"{rule.id}|{iso_z(evaluation_slot(rule, now))}" for rule in rules]
    won: list[bool] = []
    for start in range(0, len(keys), CLAIM_BATCH):
        won.extend(deps.alert_evaluations.claim(keys[start : start + CLAIM_BATCH]))
    claimed = [(rule, key) for rule, key, ok in zip(rules, keys, won, strict=True) if ok]
    result = evaluate_rules(deps, claimed, now, command.correlation_id)
    result.rules = len(rules)
    result.resent = resend_unsent(deps, now, command.correlation_id)
    return result


@dataclass
class _Batch:
    """What evaluating a batch of rules writes, gathered so that it is written in few calls."""

    new_alerts: list[Alert] = field(default_factory=list)
    changed_alerts: dict[str, Alert] = field(default_factory=dict)
    events: list[AlertEvent] = field(default_factory=list)
    states: list[RuleState] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    records: list[EvaluationRecord] = field(default_factory=list)
    retrain_firings: list[RuleFiring] = field(default_factory=list)


def evaluate_rules(
    deps: EvaluationDeps,
    claimed: Sequence[tuple[AlertRule, str]],
    now: datetime,
    correlation_id: str,
    forecast: PublishedForecast | None = None,
) -> EvaluationResult:
    """Evaluate claimed ``(rule, claim key)`` pairs at ``now`` (with ``forecast``: the forecast
    just published) and store what changed."""
    result = EvaluationResult(claimed=len(claimed))
    if not claimed:
        return result
    rules = [rule for rule, _ in claimed]
    states = deps.rule_states.get_many([r.id for r in rules])
    contexts = _contexts(deps, rules, states, now, forecast)
    measured = _measure_all(deps, contexts)
    active_ids = [s.alert_id for s in states.values() if s.alert_id]
    alerts = deps.alerts.get_alerts(active_ids) if active_ids else {}
    silences: dict[str, list[Silence]] = {}
    batch = _Batch()
    for (rule, key), ctx, found in zip(claimed, contexts, measured, strict=True):
        if rule.fiware_service not in silences:
            silences[rule.fiware_service] = deps.silences.active(rule.fiware_service, now)
        _apply(deps, batch, ctx, found, key, alerts, silences[rule.fiware_service], result)
    _store(deps, batch, result, correlation_id)
    result.evaluated = len(claimed)
    return result


def _contexts(
    deps: EvaluationDeps,
    rules: Sequence[AlertRule],
    states: dict[str, RuleState],
    now: datetime,
    forecast: PublishedForecast | None,
) -> list[RuleContext]:
    models = {m.id: m for m in deps.models.get_many(sorted({ModelId(r.model_id) for r in rules}))}
    job_ids = {
        JobId(job_id) for rule in rules if (job_id := _job_of(rule, models.get(ModelId(rule.model_id))))
    }
    jobs = deps.jobs.get_many(sorted(job_ids)) if job_ids else {}
    contexts = []
    for rule in rules:
        model = models.get(ModelId(rule.model_id))
        job_id = _job_of(rule, model)
        job = jobs.get(JobId(job_id)) if job_id else None
        state = states.get(rule.id) or RuleState(rule_id=rule.id, since=now)
        contexts.append(RuleContext(rule=rule, state=state, model=model, job=job, now=now, forecast=forecast))
    _read_forecasts(deps, contexts, now)
    _read_undecided(deps, contexts)
    _read_runs(deps, contexts, now)
    return contexts


def _read_forecasts(deps: EvaluationDeps, contexts: list[RuleContext], now: datetime) -> None:
    """The logged forecasts every rule needs, in one batched read for all their jobs."""
    wanted: dict[JobId, int] = {}
    horizon = 0.0  # how far back the rules' forecasts are expected to reach
    for ctx in contexts:
        n = forecasts_wanted(ctx)
        if n and ctx.job is not None:
            wanted[ctx.job.id] = max(n, wanted.get(ctx.job.id, 0))
            if ctx.job.prediction_config is not None:
                reach = (n + FORECAST_SLACK_INTERVALS) * ctx.job.prediction_config.interval_seconds
                horizon = max(horizon, reach)
    if not wanted:
        return
    newer_than = now - timedelta(seconds=horizon) if horizon else None
    try:
        logged = deps.forecast_log.recent_many(wanted, newer_than)
    except ChronosError as exc:
        for ctx in contexts:
            if forecasts_wanted(ctx):
                ctx.read_error = exc
        return
    for ctx in contexts:
        if (n := forecasts_wanted(ctx)) and ctx.job is not None:
            ctx.forecasts = logged.get(ctx.job.id, [])[:n]


def _read_runs(deps: EvaluationDeps, contexts: list[RuleContext], now: datetime) -> None:
    """The statuses of the newest forecast runs of the forecast-failure rules' jobs, in one read."""
    wanted: dict[JobId, int] = {}
    horizon = 0.0
    for ctx in contexts:
        if (n := runs_wanted(ctx)) and ctx.job is not None:
            wanted[ctx.job.id] = max(n, wanted.get(ctx.job.id, 0))
            if (config := ctx.job.prediction_config) is not None:
                horizon = max(horizon, (n + FORECAST_SLACK_INTERVALS) * config.interval_seconds)
    if not wanted:
        return
    newer_than = now - timedelta(seconds=horizon) if horizon else None
    try:
        statuses = deps.forecast_runs.recent_statuses_many(wanted, newer_than)
    except ChronosError as exc:
        for ctx in contexts:
            if runs_wanted(ctx):
                ctx.read_error = ctx.read_error or exc
        return
    for ctx in contexts:
        if (n := runs_wanted(ctx)) and ctx.job is not None:
            ctx.run_statuses = statuses.get(ctx.job.id, [])[:n]


def _read_undecided(deps: EvaluationDeps, contexts: list[RuleContext]) -> None:
    """The undecided predicted alerts of the predicted-crossing rules, in one read."""
    settling = [ctx for ctx in contexts if reads_undecided(ctx)]
    if not settling:
        return
    try:
        undecided = deps.alerts.undecided_outcomes_of([ctx.rule.id for ctx in settling])
    except ChronosError as exc:
        for ctx in settling:
            ctx.read_error = ctx.read_error or exc
        return
    for ctx in settling:
        ctx.undecided = undecided.get(ctx.rule.id, [])


def _job_of(rule: AlertRule, model: Model | None) -> str | None:
    """The job a rule watches: its own, else the one its model serves."""
    return rule.job_id or (model.serving.training_job_id if model and model.serving else None)


def _measure_all(deps: EvaluationDeps, contexts: list[RuleContext]) -> list[Measured]:
    workers = min(deps.monitoring_settings.evaluation_concurrency, len(contexts))
    if workers <= 1:
        return [measure(deps, ctx) for ctx in contexts]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alert-eval") as pool:
        return list(pool.map(lambda ctx: measure(deps, ctx), contexts))


def _apply(
    deps: EvaluationDeps,
    batch: _Batch,
    ctx: RuleContext,
    found: Measured,
    key: str,
    alerts: dict[str, Alert],
    silences: list[Silence],
    result: EvaluationResult,
) -> None:
    """Step the rule's state machine with one measurement and gather what it changes."""
    rule, before, now = ctx.rule, ctx.state, ctx.now
    observation = found.observation
    state, transition = step(rule, before, effect_of(rule, observation.outcome), now)
    state = _remember(state, found)
    alert = alerts.get(before.alert_id) if before.alert_id else None
    if transition is not None:
        alert = _alert_after(batch, rule, ctx, transition, found, alert, now)
        if alert is not None and transition.starts_episode:
            state = state.model_copy(update={"alert_id": alert.id})
        batch.events.append(event_of(rule, transition, observation, alert.id if alert else None, now))
        if (firing := firing_of(rule, transition, alert, observation, now)) is not None:
            batch.retrain_firings.append(firing)
        result.transitions += 1
        result.firing += transition.starts_episode
        result.resolved += transition.ends_episode
    elif alert is not None and found.horizon_end and state.state.active:
        _extend_deadline(batch, alert, found, now)
    for settled in found.settled:
        batch.changed_alerts[settled.id] = settled
        result.outcomes += 1
    if alert is not None:
        state = _notify(deps, batch, rule, state, transition, alert, silences, now)
    if state != before:
        batch.states.append(state.model_copy(update={"version": before.version + 1}))
    result.errors += observation.outcome.value == "error"
    slot = key.split("|", 1)[1]
    batch.records.append(
        EvaluationRecord(
            rule_id=rule.id,
            slot=slot,
            at=now,
            outcome=observation.outcome,
            state=state.state,
            value=observation.value,
            message=observation.message[:300],
        )
    )


def _remember(state: RuleState, found: Measured) -> RuleState:
    update: dict[str, object] = {}
    if found.reference is not None:
        update["reference"] = found.reference
    if found.forecast_at is not None:
        update["last_forecast_at"] = found.forecast_at
    return state.model_copy(update=update) if update else state


def _alert_after(
    batch: _Batch,
    rule: AlertRule,
    ctx: RuleContext,
    transition: Transition,
    found: Measured,
    alert: Alert | None,
    now: datetime,
) -> Alert | None:
    """Open, change or resolve the episode's alert for a transition."""
    if transition.starts_episode:
        source = ctx.job.prediction_config.entity_id if ctx.job and ctx.job.prediction_config else None
        opened = open_alert(rule, transition.to_state, found.observation, now, source_entity_id=source)
        batch.new_alerts.append(opened)
        return opened
    if alert is None:
        return None
    if transition.ends_episode:
        update: dict[str, object] = {
            "status": AlertStatus.RESOLVED,
            "state": AlertState.OK,
            "resolved_at": now,
        }
    else:
        update = {"state": transition.to_state}
        if transition.to_state == AlertState.FIRING and alert.predicted is None:
            update["predicted"] = predicted_crossing_of(rule, found.observation, now)
    changed = alert.model_copy(update={**update, "updated_at": now})
    batch.changed_alerts[changed.id] = changed
    return changed


def _extend_deadline(batch: _Batch, alert: Alert, found: Measured, now: datetime) -> None:
    """A predicted-crossing alert that keeps firing waits for its outcome until the horizon end
    of the last forecast that still predicted the crossing."""
    predicted = alert.predicted
    if predicted is None or found.horizon_end is None or found.observation.outcome.value != "breach":
        return
    if found.horizon_end > predicted.deadline:
        changed = alert.model_copy(
            update={
                "predicted": predicted.model_copy(update={"deadline": found.horizon_end}),
                "updated_at": now,
            }
        )
        batch.changed_alerts[changed.id] = changed


def _notify(
    deps: EvaluationDeps,
    batch: _Batch,
    rule: AlertRule,
    state: RuleState,
    transition: Transition | None,
    alert: Alert,
    silences: list[Silence],
    now: datetime,
) -> RuleState:
    """Create the notifications due now and note them on the state."""
    current = batch.changed_alerts.get(alert.id, alert)
    kind = notification_due(rule, state, transition, now, acknowledged=current.acknowledged_at is not None)
    if kind is None:
        return state
    if kind == "resolved":  # reaches every channel that saw the firing, silenced or not
        batch.notifications.extend(notifications_for(deps, current, kind, rule.channels, now))
        return state
    silenced = any(s.matches(rule, now) for s in silences)
    if silenced and state.notification_silenced:
        return state  # already held back for this episode; sent when the silence ends
    batch.notifications.extend(notifications_for(deps, current, kind, rule.channels, now, silenced=silenced))
    return state.model_copy(update={"last_notified_at": now, "notification_silenced": silenced})


def _store(deps: EvaluationDeps, batch: _Batch, result: EvaluationResult, correlation_id: str) -> None:
    if batch.new_alerts:
        deps.alerts.add_alerts([batch.changed_alerts.pop(a.id, a) for a in batch.new_alerts])
    for alert in batch.changed_alerts.values():
        deps.alerts.save_alert(alert)
    if batch.events:
        deps.alerts.add_events(batch.events)
    if batch.states:
        deps.rule_states.save_many(batch.states)
    deps.alert_evaluations.record(batch.records)
    result.notifications = len(batch.notifications)
    result.queued = store_and_queue(deps, batch.notifications, correlation_id)
    result.retrain_requests = request_retrainings(deps, batch.retrain_firings)
    if result.transitions:
        logger.info(
            "Alert rules changed state",
            extra={"transitions": result.transitions, "firing": result.firing, "resolved": result.resolved},
        )
