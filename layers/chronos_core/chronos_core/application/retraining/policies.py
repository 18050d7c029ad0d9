"""``PUT/GET/DELETE /models/{id}/retraining-policy``: a model's policy with a preview of when
it fires (the next fire times in its zone and in UTC, the daylight-saving notes, and what each
run would train on)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.ports.models import Page
from chronos_core.application.retraining.commands import ListModelLog, ModelCommand, PutPolicy
from chronos_core.application.retraining.deps import PolicyDeps
from chronos_core.domain.errors import NotFoundError, ValidationError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import UtcDateTime, utcnow
from chronos_core.domain.retraining import RetrainingPolicy, RetrainingRun, StoredPolicy

PREVIEW_COUNT = 5


class FireTime(BaseModel):
    """One upcoming fire time, in the schedule's zone and in UTC, and the data it would train
    on (``window_from``..``window_to`` for a window by time; null: the latest ``last_n`` points
    or every stored point)."""

    local: str = Field(description="ISO-8601 with the zone's UTC offset, e.g. 2026-03-30T03:00:00+02:00.")
    utc: UtcDateTime
    window_from: UtcDateTime | None = None
    window_to: UtcDateTime | None = None


class PolicyView(BaseModel):
    """A stored policy and its preview."""

    model_id: str
    policy: RetrainingPolicy
    description: str | None = Field(description="The schedule in words.")
    next_fire_times: list[FireTime]
    dst_notes: list[str] = Field(
        description="Daylight-saving transitions of the next year that change a fire time: a local "
        "time that does not exist is skipped, a repeated one fires once (its first occurrence)."
    )
    schedule_since: UtcDateTime
    created_at: UtcDateTime
    updated_at: UtcDateTime
    recent_runs: list[RetrainingRun]


def put_policy(deps: PolicyDeps, command: PutPolicy) -> PolicyView:
    """Create or replace the model's policy. A changed schedule holds from now on (nothing before
    it fires); an unchanged one keeps its fire times. Raises NotFoundError, ValidationError."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    policy = command.policy
    window = policy.window.last_n
    required = model.hyperparameters.minimum_points()
    if window is not None and window < required:
        raise ValidationError(
            f"The training window of {window} points is below the {required} this model needs",
            details=[{"field": "window.last_n", "message": f"at least {required}"}],
        )
    now = command.now or utcnow()
    current = deps.policies.get(model.id)
    same_schedule = current is not None and current.policy.schedule == policy.schedule
    stored = StoredPolicy(
        model_id=model.id,
        fiware_service=model.source.fiware_service,
        policy=policy,
        schedule_since=current.schedule_since if current is not None and same_schedule else now,
        created_at=current.created_at if current is not None else now,
        updated_at=now,
    )
    deps.policies.put(stored)
    return view(deps, stored, now)


def get_policy(deps: PolicyDeps, command: ModelCommand, now: datetime | None = None) -> PolicyView:
    """The model's policy and its preview. Raises NotFoundError (no model, or no policy)."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    stored = deps.policies.get(model.id)
    if stored is None:
        raise NotFoundError(f"Model {model.id} has no retraining policy")
    return view(deps, stored, now or utcnow())


def delete_policy(deps: PolicyDeps, command: ModelCommand) -> None:
    """Delete the model's policy (its run log stays). Raises NotFoundError."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    if not deps.policies.delete(model.id):
        raise NotFoundError(f"Model {model.id} has no retraining policy")


def list_runs(deps: PolicyDeps, command: ListModelLog) -> Page[RetrainingRun]:
    """The model's retraining runs (every trigger and what came of it), newest first."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    return deps.runs.list_for_model(model.id, command.skip, command.limit)


def view(deps: PolicyDeps, stored: StoredPolicy, now: datetime) -> PolicyView:
    policy = stored.policy
    schedule = policy.schedule
    fires: list[FireTime] = []
    notes: list[str] = []
    if schedule is not None:
        zone = schedule.zone
        after = max(now, stored.schedule_since - timedelta(microseconds=1))
        span = policy.window.duration_seconds
        for fire in schedule.upcoming(after, PREVIEW_COUNT, anchor=stored.schedule_since):
            fires.append(
                FireTime(
                    local=fire.astimezone(zone).isoformat(),
                    utc=fire,
                    window_from=fire - timedelta(seconds=span) if span else None,
                    window_to=fire if span else None,
                )
            )
        notes = schedule.dst_notes(now)
    return PolicyView(
        model_id=stored.model_id,
        policy=policy,
        description=schedule.describe() if schedule else None,
        next_fire_times=fires if policy.enabled else [],
        dst_notes=notes,
        schedule_since=stored.schedule_since,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        recent_runs=deps.runs.list_for_model(ModelId(stored.model_id), 0, 5).items,
    )
