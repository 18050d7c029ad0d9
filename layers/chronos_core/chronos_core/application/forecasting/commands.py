"""Commands of the forecast use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chronos_core.application.training.commands import JobCommand
from chronos_core.domain.auth import Principal
from chronos_core.domain.forecasting import ForecastMessage, ForecastShard
from chronos_core.domain.ids import ModelId


@dataclass(frozen=True, kw_only=True)
class Predict(JobCommand):
    """Forecast now with the job's model."""


@dataclass(frozen=True, kw_only=True)
class PredictModel:
    """Forecast now with the model's champion."""

    principal: Principal
    model_id: ModelId


@dataclass(frozen=True, kw_only=True)
class ToggleForecasts(JobCommand):
    """Enable (every ``interval_seconds``, default the training data's interval) or disable the
    job's recurring forecasts. ``now`` anchors the grid (the current time when None)."""

    enabled: bool
    interval_seconds: int | None = None
    now: datetime | None = None
    #: Publish the model's champion's forecasts (a promoted challenger takes over) or this job's.
    follow_champion: bool = True


@dataclass(frozen=True, kw_only=True)
class ReadHistory(JobCommand):
    """Past forecasts, newest first: skip ``skip`` from the newest, at most ``limit``."""

    skip: int = 0
    limit: int = 20


@dataclass(frozen=True, kw_only=True)
class ScheduleTick:
    """One scheduler tick at ``now``, over the jobs of ``shard`` (all jobs when None);
    ``correlation_id`` goes with every message it sends."""

    now: datetime
    correlation_id: str
    shard: ForecastShard | None = None


@dataclass(frozen=True, kw_only=True)
class ExecuteForecast:
    """Run the forecast of one claimed slot; ``attempt`` is SQS's receive count."""

    message: ForecastMessage
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class ExecuteForecastBatch:
    """Run the forecasts of a batch of claimed slots (one SQS batch), each on its own."""

    items: tuple[ExecuteForecast, ...]
