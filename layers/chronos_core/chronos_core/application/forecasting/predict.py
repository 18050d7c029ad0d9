"""On-demand forecasts: forecast now, publish and store nothing."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from chronos_core.application.forecasting.commands import Predict, PredictModel
from chronos_core.application.forecasting.context import forecast_now
from chronos_core.application.forecasting.deps import PredictionDeps
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.forecasting import ForecastPoint, ForecastQuality
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model, UtcDateTime, utcnow
from chronos_core.domain.training_job import TrainingJob


class ContextPoint(BaseModel):
    timestamp: UtcDateTime
    value: float | None


class Prediction(BaseModel):
    """An on-demand forecast: the context it used and the ``H`` forecast points, with
    ``forecast[k].target_timestamp = last_observation + step × interval``."""

    model_id: str
    training_job_id: str
    generated_at: UtcDateTime
    interval_seconds: float
    lookback_window: int
    forecast_horizon: int
    last_observation: UtcDateTime
    serving: str = Field(
        description="network, seasonal_naive, last_value or blend: the promotion gate's choice, or the "
        "baseline that ran instead when the context was too broken for it (see quality)"
    )
    quality: ForecastQuality = Field(
        description="ok; interpolated (interpolated_points filled within the model's gap limit, as "
        "in training); or degraded (a longer recent gap was bridged, or a baseline served "
        "instead), with the reason"
    )
    context: list[ContextPoint]
    forecast: list[ForecastPoint]
    metadata: dict[str, Any]


def predict_with_champion(deps: PredictionDeps, command: PredictModel) -> Prediction:
    """``POST /models/{id}/predict``: forecast with the model's champion (its serving job).
    Raises NotFoundError, ConflictError (no champion yet), UpstreamError."""
    model = deps.prediction_refs.model(
        deps.prediction_stamps, deps.models, command.principal, command.model_id
    )
    champion = model.champion_job_id
    if champion is None:
        raise ConflictError(
            f"Model {model.id} has no trained champion yet",
            details=[{"field": "serving", "message": "train the model first"}],
        )
    job = deps.prediction_refs.job(deps.prediction_stamps, deps.jobs, model, JobId(champion))
    return _predict(deps, model, job)


def predict(deps: PredictionDeps, command: Predict) -> Prediction:
    """Forecast on demand with the job's served forecaster.

    Raises NotFoundError (model/job, also another tenant's), ConflictError (no trained model),
    UpstreamError (STH failed, or returned no valid point), DependencyUnavailableError.
    The job and model come from the warm container's :class:`PredictionRefCache` while their
    stored stamps are unchanged.
    """
    refs, stamps = deps.prediction_refs, deps.prediction_stamps
    model_stamp, job_stamp = stamps.stamps(command.model_id, command.job_id)
    model = refs.model(stamps, deps.models, command.principal, command.model_id, model_stamp)
    return _predict(deps, model, refs.job(stamps, deps.jobs, model, command.job_id, job_stamp))


def _predict(deps: PredictionDeps, model: Model, job: TrainingJob) -> Prediction:
    result, points = forecast_now(deps, model, job)
    return Prediction(
        model_id=model.id,
        training_job_id=job.id,
        generated_at=utcnow(),
        interval_seconds=result.interval_seconds,
        lookback_window=model.hyperparameters.lookback_window,
        forecast_horizon=len(result.values),
        last_observation=result.last_observation,
        context=[ContextPoint(timestamp=t, value=v) for t, v in points],
        serving=result.serving,
        quality=result.quality,
        forecast=result.points(),
        metadata={
            "model_name": model.name,
            "model_type": model.model_type.value,
            "entity_type": model.source.entity_type,
            "entity_id": model.source.entity_id,
            "feature": model.source.feature,
            "training_job_id": job.id,
            "model_version": job.model_version,
            "artifacts": job.artifacts.model_dump() if job.artifacts else {},
            "metrics": job.metrics.test.model_dump() if job.metrics else None,
            "serving": result.serving,
            "intervals": {k: v.model_dump() for k, v in result.intervals.items()},
        },
    )
