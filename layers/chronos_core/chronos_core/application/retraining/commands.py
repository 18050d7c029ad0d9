"""Commands of the retraining use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chronos_core.domain.auth import Principal
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.retraining import RetrainingPolicy, TriggerKind


@dataclass(frozen=True, kw_only=True)
class ModelCommand:
    principal: Principal
    model_id: ModelId


@dataclass(frozen=True, kw_only=True)
class PutPolicy(ModelCommand):
    """Create or replace the model's policy; ``now`` is when (the current time when None)."""

    policy: RetrainingPolicy
    now: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Retrain(ModelCommand):
    """``POST /models/{id}/retrain``: a manual trigger by ``principal``."""

    reason: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestRetraining:
    """One trigger of ``kind`` for ``model_id`` at ``at``, keyed ``key`` (idempotent)."""

    model_id: ModelId
    kind: TriggerKind
    at: datetime
    key: str
    fire_time: datetime | None = None
    rule_id: str | None = None
    user: str | None = None
    reason: str | None = None
    dispatch: bool = True


@dataclass(frozen=True, kw_only=True)
class RetrainTick:
    """One scheduler tick at ``now`` (a test or an operator may choose the time)."""

    now: datetime


@dataclass(frozen=True, kw_only=True)
class SetChampion(ModelCommand):
    """Serve ``job_id`` (pinned: no challenger replaces it until unpinned)."""

    job_id: JobId
    pinned: bool = True


@dataclass(frozen=True, kw_only=True)
class ListModelLog(ModelCommand):
    skip: int = 0
    limit: int = 50
