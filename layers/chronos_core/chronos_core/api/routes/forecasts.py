"""Routes for forecasts of a trained job: on demand, recurring (toggle) and history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from chronos_core.api.deps import JobIdPath, ModelIdPath, ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.forecasts import ToggleRequest
from chronos_core.api.security import Operator, Reader
from chronos_core.application.forecasting import history, provisioning
from chronos_core.application.forecasting import predict as on_demand
from chronos_core.application.forecasting.commands import Predict, ReadHistory, ToggleForecasts
from chronos_core.application.forecasting.history import HistoryPage
from chronos_core.application.forecasting.predict import Prediction
from chronos_core.application.forecasting.provisioning import ToggleResult

router = APIRouter(
    prefix="/models/{model_id}/training-jobs/{job_id}", tags=["Predictions"], route_class=AuthenticatedRoute
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model or job (for this caller)."},
    409: {"model": ErrorResponse, "description": "The job has no trained model."},
    502: {"model": ErrorResponse, "description": "A FIWARE component failed or holds no valid point."},
    503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
}


@router.post("/predict", response_model=Prediction, responses=_ERRORS)
def predict(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, job_id: JobIdPath
) -> Prediction:
    """Forecast now with the job's model from the latest ``lookback_window`` STH points."""
    return on_demand.predict(services, Predict(principal=principal, model_id=model_id, job_id=job_id))


@router.post("/prediction-toggle", response_model=ToggleResult, responses=_ERRORS)
def toggle(
    principal: Operator,
    services: ServicesDep,
    model_id: ModelIdPath,
    job_id: JobIdPath,
    request: ToggleRequest,
) -> ToggleResult:
    """Enable (provisioning FIWARE resources idempotently) or disable recurring forecasts."""
    command = ToggleForecasts(
        principal=principal,
        model_id=model_id,
        job_id=job_id,
        enabled=request.enabled,
        interval_seconds=request.interval_seconds,
        follow_champion=request.follow_champion,
    )
    return provisioning.toggle_forecasts(services, command)


@router.get("/predictions/history", response_model=HistoryPage, responses=_ERRORS)
def prediction_history(
    principal: Reader,
    services: ServicesDep,
    model_id: ModelIdPath,
    job_id: JobIdPath,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryPage:
    """Published forecasts of the job from STH-Comet, newest first."""
    command = ReadHistory(principal=principal, model_id=model_id, job_id=job_id, skip=skip, limit=limit)
    return history.history(services, command)
