"""Routes for model definitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from chronos_core.api.deps import ModelIdPath, ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.models import DataFreshnessResponse, ModelPage, ModelResponse, ModelTypeOption
from chronos_core.api.security import Admin, Reader
from chronos_core.application.models import definitions, freshness, removal
from chronos_core.application.models.commands import (
    CreateModel,
    DeleteModel,
    GetModel,
    ListModels,
    ReadDataFreshness,
    UpdateModel,
)
from chronos_core.application.ports.models import ModelFilter
from chronos_core.domain.model import ModelChanges, ModelDraft, ModelStatus, ModelType

router = APIRouter(prefix="/models", tags=["Models"], route_class=AuthenticatedRoute)

_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorResponse, "description": "No such model."},
    409: {"model": ErrorResponse, "description": "The model's state forbids this."},
    422: {"model": ErrorResponse, "description": "Invalid input; details name the fields."},
}


@router.get("/", response_model=ModelPage, responses={422: _ERRORS[422]})
@router.get("", response_model=ModelPage, include_in_schema=False)
def list_models(
    principal: Reader,
    services: ServicesDep,
    model_type: Annotated[ModelType | None, Query()] = None,
    status: Annotated[ModelStatus | None, Query()] = None,
    entity_id: Annotated[str | None, Query(max_length=256)] = None,
    feature: Annotated[str | None, Query(max_length=256)] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ModelPage:
    """Models matching every given filter, newest first, with the total number of matches."""
    filters = ModelFilter(model_type=model_type, status=status, entity_id=entity_id, feature=feature)
    page = definitions.list_models(
        services, ListModels(principal=principal, filters=filters, skip=skip, limit=limit)
    )
    return ModelPage(
        items=[ModelResponse.of(m) for m in page.items], total=page.total, skip=page.skip, limit=page.limit
    )


@router.get("/types", response_model=list[ModelTypeOption])
def list_model_types(_: Reader) -> list[dict[str, str]]:
    """The recurrent cell types a model can use."""
    return definitions.model_types()


@router.post("/", status_code=201, response_model=ModelResponse, responses={422: _ERRORS[422]})
@router.post("", status_code=201, response_model=ModelResponse, include_in_schema=False)
def create_model(
    principal: Admin, services: ServicesDep, draft: Annotated[ModelDraft, Body()]
) -> ModelResponse:
    """Create a ``draft`` model; omitted fields take their documented defaults."""
    return ModelResponse.of(definitions.create_model(services, CreateModel(principal=principal, draft=draft)))


@router.get("/{model_id}", response_model=ModelResponse, responses={404: _ERRORS[404]})
def get_model(principal: Reader, services: ServicesDep, model_id: ModelIdPath) -> ModelResponse:
    """One model by id."""
    return ModelResponse.of(definitions.get_model(services, GetModel(principal=principal, model_id=model_id)))


@router.patch("/{model_id}", response_model=ModelResponse, responses=_ERRORS)
def update_model(
    principal: Admin, services: ServicesDep, model_id: ModelIdPath, changes: Annotated[ModelChanges, Body()]
) -> ModelResponse:
    """Change fields of a ``draft`` model (409 once it is training or trained)."""
    command = UpdateModel(principal=principal, model_id=model_id, changes=changes)
    return ModelResponse.of(definitions.update_model(services, command))


@router.delete("/{model_id}", status_code=204, responses={404: _ERRORS[404], 409: _ERRORS[409]})
def delete_model(principal: Admin, services: ServicesDep, model_id: ModelIdPath) -> Response:
    """Delete a model that is not training, with its training jobs and everything they left."""
    removal.delete_model(services, DeleteModel(principal=principal, model_id=model_id))
    return Response(status_code=204)


@router.get(
    "/{model_id}/data-freshness",
    response_model=DataFreshnessResponse,
    responses={
        404: _ERRORS[404],
        502: {"model": ErrorResponse, "description": "STH-Comet failed."},
        503: {"model": ErrorResponse, "description": "A dependency cannot be reached."},
    },
)
def data_freshness(principal: Reader, services: ServicesDep, model_id: ModelIdPath) -> DataFreshnessResponse:
    """The newest data point STH-Comet holds for the model, its age, and whether it is stale
    (older than three sampling intervals)."""
    result = freshness.data_freshness(services, ReadDataFreshness(principal=principal, model_id=model_id))
    return DataFreshnessResponse.model_validate(result, from_attributes=True)
