"""Forecasting from the latest STH points, shared by on-demand and recurring forecasts."""

from __future__ import annotations

from chronos_core.application.forecasting.deps import ForecastContextDeps
from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.domain.errors import InsufficientDataError, UpstreamError
from chronos_core.domain.forecasting import ForecastResult
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import TrainingJob


def forecast_now(
    deps: ForecastContextDeps, model: Model, job: TrainingJob
) -> tuple[ForecastResult, list[TimedPoint]]:
    """Load the job's forecaster, read the most recent points of the model's series (the
    forecaster's ``context_points``) and forecast.

    The forecaster applies the training's gap policy to whatever came back (gaps within the
    limit interpolated; a longer recent gap bridged, or a baseline served, the result's
    ``quality`` saying so), so a forecast is refused only when no usable point exists.

    Returns ``(forecast, context points)``. Raises ConflictError (no trained model) and
    UpstreamError (STH failed, holds no point of the series, or none of its points is valid).
    """
    forecaster = deps.forecasters.load(job.trained_artifacts())
    source = model.source
    try:
        points = deps.series.last_n(source, forecaster.context_points)
    except UpstreamError as exc:
        raise UpstreamError(
            f"STH-Comet could not provide the context window: {exc.message}", details=exc.details
        ) from exc
    if not points:
        raise UpstreamError(
            f"STH-Comet holds no point of {source.entity_id}/{source.feature} to forecast from",
            details=[
                {
                    "component": "STH-Comet",
                    "field": "points",
                    "entity_id": source.entity_id,
                    "feature": source.feature,
                    "required": 1,
                    "got": 0,
                }
            ],
        )
    try:
        result = forecaster.forecast_points(points)
    except InsufficientDataError as exc:
        raise UpstreamError(
            f"The points STH-Comet returned for {source.entity_id}/{source.feature} do not form a "
            f"usable context window: {exc.message}",
            details=exc.details,
        ) from exc
    return result, points
