"""Routes for forecasts of a trained job: on demand, recurring (toggle) and history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, field_serializer

from chronos_core import wiring
from chronos_core.adapters.fiware.iot_agent import generate_api_key
from chronos_core.api.deps import ArtifactStoreDep, ModelRepositoryDep, SeriesSourceDep, TrainingJobsDep
from chronos_core.api.schemas import ErrorResponse, JobId, ModelId
from chronos_core.api.security import Operator, Reader
from chronos_core.application import forecasts as use_cases
from chronos_core.application.forecasts import (
    ForecastSchedule,
    ForecastSettings,
    HistoryPort,
    IotAgentPort,
    OrionPort,
    ToggleRequest,
)
from chronos_core.domain.model import iso_z
from chronos_core.ml.inference import load_forecaster

router = APIRouter(prefix="/models/{model_id}/training-jobs/{job_id}", tags=["Predictions"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model or job (for this caller)."},
    409: {"model": ErrorResponse, "description": "The job has no trained model."},
    502: {"model": ErrorResponse, "description": "A FIWARE component failed or returned too few points."},
    503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
}


def forecast_schedule() -> ForecastSchedule:
    return wiring.forecast_schedule()


def forecast_settings() -> ForecastSettings:
    return wiring.forecast_settings()


def orion() -> OrionPort:
    return wiring.orion_client()


def iot_agent() -> IotAgentPort:
    return wiring.iot_agent_client()


def sth() -> HistoryPort:
    return wiring.sth_client()


ScheduleDep = Annotated[ForecastSchedule, Depends(forecast_schedule)]
ForecastSettingsDep = Annotated[ForecastSettings, Depends(forecast_settings)]
OrionDep = Annotated[OrionPort, Depends(orion)]
IotAgentDep = Annotated[IotAgentPort, Depends(iot_agent)]
SthDep = Annotated[HistoryPort, Depends(sth)]


class _UtcModel(BaseModel):
    @staticmethod
    def _z(value: datetime | None) -> str | None:
        return iso_z(value) if value else None


class HistoryItem(_UtcModel):
    generated_at: datetime
    horizon: int | None
    points: list[dict[str, Any]]

    @field_serializer("generated_at")
    def _ts(self, value: datetime) -> str | None:
        return self._z(value)


class HistoryResponse(BaseModel):
    """Published forecasts, newest first."""

    entity_id: str
    entity_type: str
    items: list[HistoryItem]
    total: int
    skip: int
    limit: int


@router.post("/predict", response_model=use_cases.Prediction, responses=_ERRORS)
def predict(
    principal: Operator,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    artifacts: ArtifactStoreDep,
    series: SeriesSourceDep,
    model_id: ModelId,
    job_id: JobId,
) -> use_cases.Prediction:
    """Forecast now with the job's model from the latest ``lookback_window`` STH points."""
    result = use_cases.predict(models, jobs, artifacts, series, load_forecaster, principal, model_id, job_id)
    return result


@router.post("/prediction-toggle", response_model=use_cases.ToggleResult, responses=_ERRORS)
def toggle(
    principal: Operator,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    schedule: ScheduleDep,
    orion_client: OrionDep,
    iot_agent_client: IotAgentDep,
    settings: ForecastSettingsDep,
    model_id: ModelId,
    job_id: JobId,
    request: ToggleRequest,
) -> use_cases.ToggleResult:
    """Enable (provisioning FIWARE resources idempotently) or disable recurring forecasts."""
    result = use_cases.toggle(
        models,
        jobs,
        schedule,
        orion_client,
        iot_agent_client,
        settings,
        generate_api_key,
        principal,
        model_id,
        job_id,
        request,
    )
    return result


@router.get("/predictions/history", response_model=HistoryResponse, responses=_ERRORS)
def prediction_history(
    principal: Reader,
    models: ModelRepositoryDep,
    jobs: TrainingJobsDep,
    sth_client: SthDep,
    settings: ForecastSettingsDep,
    model_id: ModelId,
    job_id: JobId,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryResponse:
    """Published forecasts of the job from STH-Comet, newest first."""
    page = use_cases.history(models, jobs, sth_client, settings, principal, model_id, job_id, skip, limit)
    return HistoryResponse.model_validate(page.model_dump())
