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

    Returns ``(forecast, context points)``. Raises ConflictError (no trained model) and
    UpstreamError (STH failed, or returned too few points for the context).
    """
    forecaster = deps.forecasters.load(job.trained_artifacts())
    need = forecaster.context_length
    try:
        points = deps.series.last_n(model.source, forecaster.context_points)
    except UpstreamError as exc:
        raise UpstreamError(
            f"STH-Comet could not provide the context window: {exc.message}", details=exc.details
        ) from exc
    if len(points) < need:
        raise UpstreamError(
            f"STH-Comet returned {len(points)} points for {model.source.entity_id}/"
            f"{model.source.feature}; the model needs the last {need}",
            details=[{"component": "STH-Comet", "required": need, "got": len(points)}],
        )
    try:
        result = forecaster.forecast_points(points)
    except InsufficientDataError as exc:
        raise UpstreamError(
            f"The points STH-Comet returned do not form a usable context window: {exc.message}",
            details=exc.details,
        ) from exc
    return result, points
