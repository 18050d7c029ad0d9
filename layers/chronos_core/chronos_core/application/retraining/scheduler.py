"""The retraining scheduler tick (EventBridge, every minute; a test may invoke it at a chosen
time).

1. Read every enabled policy with a schedule and take, for each, its latest fire time at or
   before ``now`` (:meth:`~chronos_core.domain.retraining.StoredPolicy.due_fire`): fire times
   missed while no tick ran are coalesced into that one, never replayed one by one.
2. Drop the fire times already in the run log (acted on by an earlier tick).
3. Load, in three queries for all of them, the models and their training histories; count the
   stored points in STH where a guard needs them; decide each fire time with the guards.
4. Claim: insert every run in one unordered ``insert_many`` (a skipped run is final as
   inserted). Of concurrent schedulers exactly one inserts each fire time, and only it acts.
5. Carry out each won run that trains or attaches (the training lease and the queue), without
   dispatching; then dispatch the training queue once (a run whose job it starts is
   recorded ``started``, one still waiting ``queued``).

A fire time whose STH count fails is not claimed: the next tick tries it again (it stays the
latest fire time until the next one), so an STH outage delays a retraining rather than losing
it.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from pydantic import BaseModel, Field

from chronos_core.application.retraining.commands import RequestRetraining, RetrainTick
from chronos_core.application.retraining.deps import RetrainDeps
from chronos_core.application.retraining.triggers import carry_out, decide, new_run, points_needed
from chronos_core.application.training.queue import dispatch_queue
from chronos_core.domain.errors import ChronosError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import iso_z
from chronos_core.domain.retraining import GuardDecision, RetrainingRun, StoredPolicy, TriggerKind, run_key
from chronos_core.observability import logger


class RetrainTickResult(BaseModel):
    """What one tick did: policies read, fire times due and new, claimed (the others lost to a
    concurrent tick), deferred (STH could not count), and the outcomes."""

    policies: int = 0
    due: int = 0
    claimed: int = 0
    lost: int = 0
    deferred: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    dispatched: int = 0


def schedule_retraining(deps: RetrainDeps, command: RetrainTick) -> RetrainTickResult:
    """Fire every policy's due time once (see the module docstring)."""
    now = command.now
    policies = deps.policies.scheduled(deps.retraining_settings.max_policies_per_tick)
    result = RetrainTickResult(policies=len(policies))
    due = [(p, fire) for p in policies if (fire := p.due_fire(now)) is not None]
    keys = {p.model_id: run_key(p.model_id, TriggerKind.CRON, iso_z(fire)) for p, fire in due}
    done = deps.runs.existing(list(keys.values()))
    fresh = [(p, fire) for p, fire in due if keys[p.model_id] not in done]
    result.due = len(fresh)
    if not fresh:
        return result
    ids = [ModelId(p.model_id) for p, _ in fresh]
    models = {m.id: m for m in deps.models.get_many(ids)}
    histories = deps.jobs.histories(ids, now - timedelta(days=deps.retraining_settings.history_days))
    planned: list[tuple[RetrainingRun, GuardDecision, int | None]] = []
    for stored, fire in fresh:
        model = models.get(ModelId(stored.model_id))
        if model is None:
            continue  # the model was deleted; its policy goes with the next delete
        request = RequestRetraining(
            model_id=model.id,
            kind=TriggerKind.CRON,
            at=now,
            key=keys[model.id],
            fire_time=fire,
            reason=f"fire time {iso_z(fire)} of {_described(stored)}",
            dispatch=False,
        )
        try:
            points = points_needed(deps, model, stored, histories[model.id], TriggerKind.CRON)
        except ChronosError as exc:
            result.deferred += 1
            logger.warning(
                "Retraining deferred: STH-Comet could not count",
                extra={"model_id": model.id, "error": exc.message},
            )
            continue
        decision = decide(stored, request, histories[model.id], points)
        planned.append((new_run(request, decision), decision, points))
    won = deps.runs.claim([run for run, _, _ in planned])
    by_model = {p.model_id: p for p, _ in fresh}
    admitted: list[RetrainingRun] = []
    for (run, decision, points), ok in zip(planned, won, strict=True):
        if not ok:
            result.lost += 1
            continue
        result.claimed += 1
        model = models[ModelId(run.model_id)]
        stored = by_model[run.model_id]
        try:
            recorded = carry_out(
                deps, model, stored, run, decision, histories[model.id], points, dispatch=False
            )
        except ChronosError as exc:
            recorded = run.model_copy(
                update={"outcome": "skipped", "outcome_reason": f"not admitted: {exc.message}"}
            )
            deps.runs.record(recorded)
        admitted.append(recorded)
    if any(run.outcome == "queued" for run in admitted):
        started = set(dispatch_queue(deps))
        result.dispatched = len(started)
        admitted = [_started_if(deps, run, started) for run in admitted]
    result.outcomes = dict(Counter(run.outcome for run in admitted))
    logger.info("Retraining tick", extra=result.model_dump())
    return result


def _described(stored: StoredPolicy) -> str:
    schedule = stored.policy.schedule
    return schedule.describe() if schedule else "no schedule"


def _started_if(deps: RetrainDeps, run: RetrainingRun, started: set[JobId]) -> RetrainingRun:
    """A run whose queued job the dispatch started is recorded ``started``."""
    if run.outcome != "queued" or run.job_id is None or JobId(run.job_id) not in started:
        return run
    run = run.model_copy(update={"outcome": "started"})
    deps.runs.record(run)
    return run
