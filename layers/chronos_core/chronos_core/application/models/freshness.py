"""How fresh a model's data is: the newest point STH-Comet holds and whether it is stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from chronos_core.application.models.commands import GetModel, ReadDataFreshness
from chronos_core.application.models.definitions import get_model
from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.pipeline import SeriesSource
from chronos_core.application.ports.training_jobs import JobLookup
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model
from chronos_core.domain.sampling import MONTH_SECONDS, parse_sampling_interval

#: The data is stale once its newest point is older than this many sampling intervals.
STALE_AFTER_INTERVALS: Final = 3


class FreshnessDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> JobLookup: ...

    @property
    def series(self) -> SeriesSource: ...


@dataclass(frozen=True, kw_only=True)
class DataFreshness:
    """``latest_time`` and ``age_seconds`` are None when STH holds no point; ``interval_seconds``
    (and with it ``stale_after_seconds`` and ``stale``) is None when neither the definition
    states an interval nor a champion training measured one."""

    latest_time: datetime | None
    age_seconds: float | None
    interval_seconds: float | None
    stale_after_seconds: float | None
    stale: bool | None


def data_freshness(deps: FreshnessDeps, command: ReadDataFreshness) -> DataFreshness:
    """The newest point of the model's series (one STH ``lastN=1`` read) and its age at
    ``command.now``. The interval is the definition's ``sampling_interval`` (a month counting
    :data:`MONTH_SECONDS`), else the champion training's measured one; the data is stale when
    the age exceeds :data:`STALE_AFTER_INTERVALS` intervals, and also when STH holds no point.

    Raises NotFoundError (no such model for this caller), UpstreamError and
    DependencyUnavailableError (STH failed).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    interval = _interval_seconds(deps, model)
    stale_after = interval * STALE_AFTER_INTERVALS if interval else None
    points = deps.series.last_n(model.source, 1)
    if not points:
        return DataFreshness(
            latest_time=None,
            age_seconds=None,
            interval_seconds=interval,
            stale_after_seconds=stale_after,
            stale=True,
        )
    latest = points[-1][0]
    age = max(0.0, (command.now - latest).total_seconds())
    return DataFreshness(
        latest_time=latest,
        age_seconds=age,
        interval_seconds=interval,
        stale_after_seconds=stale_after,
        stale=None if stale_after is None else age > stale_after,
    )


def _interval_seconds(deps: FreshnessDeps, model: Model) -> float | None:
    stated = model.hyperparameters.sampling_interval
    if stated is not None:
        interval = parse_sampling_interval(stated)
        return interval.step * MONTH_SECONDS if interval.unit == "months" else interval.step
    champion = deps.jobs.get(JobId(model.champion_job_id)) if model.champion_job_id else None
    return champion.sampling_interval_seconds if champion else None
