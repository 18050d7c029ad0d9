"""Commands of the training use cases."""

from __future__ import annotations

from dataclasses import dataclass

from chronos_core.domain.auth import Principal
from chronos_core.domain.ids import JobId, ModelId


@dataclass(frozen=True, kw_only=True)
class StartTraining:
    """Train ``model_id`` on its most recent ``last_n`` points (all of them when None)."""

    principal: Principal
    model_id: ModelId
    last_n: int | None = None


@dataclass(frozen=True, kw_only=True)
class JobCommand:
    """A command addressed to one job of one model."""

    principal: Principal
    model_id: ModelId
    job_id: JobId


@dataclass(frozen=True, kw_only=True)
class ListJobs:
    principal: Principal
    model_id: ModelId
    skip: int = 0
    limit: int = 100
