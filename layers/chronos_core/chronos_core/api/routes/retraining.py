"""Routes for a model's retraining: its policy, manual retraining, the run log, the champion
(pin, rollback), its events, and on-demand forecasts with the champion."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response

from chronos_core.api.deps import ModelIdPath, ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.retraining import ChampionRequest, RetrainRequest
from chronos_core.api.security import Operator, Reader
from chronos_core.application.forecasting import predict as on_demand
from chronos_core.application.forecasting.commands import PredictModel
from chronos_core.application.forecasting.predict import Prediction
from chronos_core.application.ports.models import Page
from chronos_core.application.retraining import champion, policies, triggers
from chronos_core.application.retraining.champion import ChampionView
from chronos_core.application.retraining.commands import (
    ListModelLog,
    ModelCommand,
    PutPolicy,
    Retrain,
    SetChampion,
)
from chronos_core.application.retraining.policies import PolicyView
from chronos_core.domain.retraining import ModelEvent, RetrainingPolicy, RetrainingRun

router = APIRouter(prefix="/models/{model_id}", tags=["Retraining"], route_class=AuthenticatedRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such model (for this caller), or no policy."},
    409: {"model": ErrorResponse, "description": "The model's state forbids this."},
    422: {"model": ErrorResponse, "description": "Invalid input; details name the fields."},
    502: {"model": ErrorResponse, "description": "STH-Comet answered with an error."},
    503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
}

Skip = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.put("/retraining-policy", response_model=PolicyView, responses=_ERRORS)
def put_policy(
    principal: Operator,
    services: ServicesDep,
    model_id: ModelIdPath,
    policy: Annotated[RetrainingPolicy, Body()],
) -> PolicyView:
    """Create or replace the policy; the answer previews the next five fire times (local and
    UTC) and the daylight-saving notes."""
    return policies.put_policy(services, PutPolicy(principal=principal, model_id=model_id, policy=policy))


@router.get("/retraining-policy", response_model=PolicyView, responses={404: _ERRORS[404]})
def get_policy(principal: Reader, services: ServicesDep, model_id: ModelIdPath) -> PolicyView:
    """The policy with its preview and its latest runs."""
    return policies.get_policy(services, ModelCommand(principal=principal, model_id=model_id))


@router.delete("/retraining-policy", status_code=204, responses={404: _ERRORS[404]})
def delete_policy(principal: Operator, services: ServicesDep, model_id: ModelIdPath) -> Response:
    """Delete the policy: no more cron or rule retraining (manual still works)."""
    policies.delete_policy(services, ModelCommand(principal=principal, model_id=model_id))
    return Response(status_code=204)


@router.post("/retrain", status_code=202, response_model=RetrainingRun, responses=_ERRORS)
def retrain(
    principal: Operator,
    services: ServicesDep,
    response: Response,
    model_id: ModelIdPath,
    request: Annotated[RetrainRequest | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> RetrainingRun:
    """A manual retraining: it starts (or waits in the training queue), or joins the training
    that runs as one more reason (``outcome: attached``). ``Idempotency-Key`` makes a retried
    request one trigger."""
    run = triggers.retrain(
        services,
        Retrain(
            principal=principal,
            model_id=model_id,
            reason=request.reason if request else None,
            request_id=idempotency_key,
        ),
    )
    if run.job_id:
        response.headers["Location"] = f"/models/{model_id}/training-jobs/{run.job_id}"
    return run


@router.get("/retraining-runs", response_model=Page[RetrainingRun], responses={404: _ERRORS[404]})
def list_runs(
    principal: Reader, services: ServicesDep, model_id: ModelIdPath, skip: Skip = 0, limit: Limit = 50
) -> Page[RetrainingRun]:
    """Every trigger and what came of it (started, queued, attached, skipped with the reason)."""
    return policies.list_runs(
        services, ListModelLog(principal=principal, model_id=model_id, skip=skip, limit=limit)
    )


@router.get("/champion", response_model=ChampionView, responses={404: _ERRORS[404]})
def get_champion(principal: Reader, services: ServicesDep, model_id: ModelIdPath) -> ChampionView:
    """The serving job, pinned or not, earlier champions and the latest challengers."""
    return champion.champion_view(services, ModelCommand(principal=principal, model_id=model_id))


@router.put("/champion", response_model=ChampionView, responses=_ERRORS)
def put_champion(
    principal: Operator, services: ServicesDep, model_id: ModelIdPath, request: ChampionRequest
) -> ChampionView:
    """Serve a chosen completed job (pinned by default: no challenger replaces it), or unpin."""
    command = SetChampion(
        principal=principal, model_id=model_id, job_id=request.training_job_id, pinned=request.pinned
    )
    return champion.set_champion(services, command)


@router.post("/champion/rollback", response_model=ChampionView, responses=_ERRORS)
def rollback(principal: Operator, services: ServicesDep, model_id: ModelIdPath) -> ChampionView:
    """Serve the previous champion again."""
    return champion.rollback_champion(services, ModelCommand(principal=principal, model_id=model_id))


@router.get("/events", response_model=Page[ModelEvent], responses={404: _ERRORS[404]})
def list_events(
    principal: Reader, services: ServicesDep, model_id: ModelIdPath, skip: Skip = 0, limit: Limit = 50
) -> Page[ModelEvent]:
    """Promotions, challengers kept (and why), pins and rollbacks, newest first."""
    return champion.list_events(
        services, ListModelLog(principal=principal, model_id=model_id, skip=skip, limit=limit)
    )


@router.post("/predict", response_model=Prediction, responses=_ERRORS)
def predict(principal: Operator, services: ServicesDep, model_id: ModelIdPath) -> Prediction:
    """Forecast now with the model's champion."""
    return on_demand.predict_with_champion(services, PredictModel(principal=principal, model_id=model_id))
