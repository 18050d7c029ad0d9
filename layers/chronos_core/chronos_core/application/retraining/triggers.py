"""One trigger through the model's single training lease.

A trigger (cron, rule or manual) is first decided by the guards
(:func:`~chronos_core.domain.retraining.guard`), then claimed by inserting its run (its key is
unique: a trigger delivered twice, or a fire time seen by two schedulers, is acted on once),
then carried out:

* ``attached``: a training of the model runs or waits in the queue; the trigger joins its
  ``triggers`` as one more reason and nothing else starts;
* ``started`` / ``queued``: a training was admitted (its execution started, or it waits for a
  slot in the training queue);
* ``skipped``: a guard said no (no policy, cooldown, daily cap, too little new data) or the
  training could not be admitted; the reason is recorded and no training starts.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.retraining.commands import RequestRetraining, Retrain
from chronos_core.application.retraining.deps import RetrainDeps
from chronos_core.application.training.admission import Admission, admit_training
from chronos_core.domain.errors import ConflictError, NotFoundError, ValidationError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import Model, utcnow
from chronos_core.domain.retraining import (
    GuardDecision,
    RetrainingPolicy,
    RetrainingRun,
    StoredPolicy,
    TrainingHistory,
    TriggerKind,
    guard,
    run_key,
    unheard_rule,
)
from chronos_core.observability import logger

#: How long an attach waits for the job of a training another trigger is starting.
ATTACH_WAIT_SECONDS = 2.0


def retrain(deps: RetrainDeps, command: Retrain) -> RetrainingRun:
    """``POST /models/{id}/retrain``: a manual trigger (the caller must see the model). It
    bypasses the policy's guards but not the lease: during a training it is attached to it."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    now = utcnow()
    request = RequestRetraining(
        model_id=model.id,
        kind=TriggerKind.MANUAL,
        at=now,
        key=run_key(model.id, TriggerKind.MANUAL, command.request_id or f"{now.isoformat()}"),
        user=command.principal.subject,
        reason=command.reason or "requested through POST /retrain",
    )
    return request_retraining(deps, request)


def request_retraining(deps: RetrainDeps, command: RequestRetraining) -> RetrainingRun:
    """Decide, claim and carry out one trigger (see the module docstring). Raises NotFoundError
    for a missing model, UpstreamError when STH cannot count the new points."""
    model = deps.models.get(command.model_id)
    if model is None:
        raise NotFoundError(f"Model {command.model_id} not found")
    stored = deps.policies.get(model.id)
    if unheard_rule(stored.policy if stored else None, command.kind, command.rule_id) is not None:
        history = TrainingHistory()  # skipped whatever the trainings are: not read
    else:
        history = deps.jobs.histories([model.id], _since(deps, command.at))[model.id]
    points = points_needed(deps, model, stored, history, command.kind)
    decision = decide(stored, command, history, points)
    run = new_run(command, decision)
    if not deps.runs.claim([run])[0]:
        return next((r for r in deps.runs.list_for_model(model.id, 0, 50).items if r.key == run.key), run)
    return carry_out(deps, model, stored, run, decision, history, points, dispatch=command.dispatch)


def _since(deps: RetrainDeps, at: datetime) -> datetime:
    return at - timedelta(days=deps.retraining_settings.history_days)


def points_needed(
    deps: RetrainDeps, model: Model, stored: StoredPolicy | None, history: TrainingHistory, kind: TriggerKind
) -> int | None:
    """The stored points (one STH count), when a guard or the admission will need them."""
    if history.running_job_id is not None:
        return None
    if kind != TriggerKind.MANUAL and (stored is None or not stored.policy.enabled):
        return None
    return deps.series.count(model.source)


def decide(
    stored: StoredPolicy | None, command: RequestRetraining, history: TrainingHistory, points: int | None
) -> GuardDecision:
    policy = stored.policy if stored else None
    zone = policy.schedule.zone if policy and policy.schedule else None
    local = command.at.astimezone(zone) if zone else command.at
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return guard(
        policy,
        command.kind,
        history,
        command.at,
        points_now=points,
        zone_day_start=day_start,
        rule_id=command.rule_id,
    )


def new_run(command: RequestRetraining, decision: GuardDecision) -> RetrainingRun:
    """The run to claim: final when skipped, ``pending`` otherwise."""
    return RetrainingRun(
        key=command.key,
        model_id=command.model_id,
        kind=command.kind,
        at=command.at,
        fire_time=command.fire_time,
        rule_id=command.rule_id,
        user=command.user,
        reason=command.reason,
        outcome="skipped" if decision.action == "skip" else "pending",
        outcome_reason=decision.reason,
    )


def carry_out(
    deps: RetrainDeps,
    model: Model,
    stored: StoredPolicy | None,
    run: RetrainingRun,
    decision: GuardDecision,
    history: TrainingHistory,
    points: int | None,
    *,
    dispatch: bool,
) -> RetrainingRun:
    """Act on a claimed run and record its outcome (a skipped run is recorded as claimed)."""
    if decision.action == "skip":
        logger.info(
            "Retraining skipped", extra={"model_id": model.id, "key": run.key, "reason": decision.reason}
        )
        return run
    if decision.action == "attach" and history.running_job_id is not None:
        return _attach(deps, run, model.id, history.running_job_id)
    policy = stored.policy if stored else None
    admission = Admission(
        last_n=_window_points(deps, model, policy),
        triggers=[run.trigger()],
        warm_start=bool(policy and policy.warm_start),
        window_seconds=policy.window.duration_seconds if policy else None,
        dispatch=dispatch,
        points_available=points,
        clamp_to_stored=True,
    )
    try:
        job = admit_training(deps, model, admission)
    except ConflictError:
        return _attach(deps, run, model.id, None)
    except ValidationError as exc:
        return _record(deps, run.model_copy(update={"outcome": "skipped", "outcome_reason": exc.message}))
    outcome = "queued" if job.waiting_in_queue else "started"
    logger.info("Retraining admitted", extra={"model_id": model.id, "job_id": job.id, "outcome": outcome})
    return _record(deps, run.model_copy(update={"outcome": outcome, "job_id": job.id}))


def _window_points(deps: RetrainDeps, model: Model, policy: RetrainingPolicy | None) -> int | None:
    """The window in points: the policy's ``last_n``, or its window by time converted at the
    champion's sampling interval and raw points per grid slot (every point without a policy or
    a champion)."""
    if policy is None or policy.window.last_n is not None:
        return policy.window.last_n if policy else None
    seconds = policy.window.duration_seconds
    champion_id = model.champion_job_id
    champion = deps.jobs.get(JobId(champion_id)) if seconds and champion_id else None
    if champion is None or not champion.sampling_interval_seconds:
        return None
    quality = champion.data_quality
    per_slot = quality.raw_points / quality.observed_points if quality and quality.observed_points else 1.0
    return max(1, math.ceil((seconds or 0.0) / champion.sampling_interval_seconds * max(1.0, per_slot)))


def _attach(deps: RetrainDeps, run: RetrainingRun, model_id: ModelId, job_id: str | None) -> RetrainingRun:
    """Join the training that runs (or is being started by another trigger)."""
    deadline = time.monotonic() + ATTACH_WAIT_SECONDS
    while True:
        running = job_id or _running_id(deps, model_id)
        if running is not None and deps.jobs.add_trigger(JobId(running), run.trigger()):
            return _record(
                deps,
                run.model_copy(
                    update={
                        "outcome": "attached",
                        "job_id": running,
                        "outcome_reason": f"joined training {running}",
                    }
                ),
            )
        job_id = None
        if time.monotonic() >= deadline:
            return _record(
                deps,
                run.model_copy(
                    update={
                        "outcome": "skipped",
                        "outcome_reason": "the model's training lease is held (a training is starting, or "
                        "the model is being deleted) and no running training could be joined",
                    }
                ),
            )
        time.sleep(0.1)


def _running_id(deps: RetrainDeps, model_id: ModelId) -> str | None:
    job = deps.jobs.running_for_model(model_id)
    return job.id if job else None


def _record(deps: RetrainDeps, run: RetrainingRun) -> RetrainingRun:
    deps.runs.record(run)
    return run
