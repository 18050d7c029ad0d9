"""Routes for silences: hold back the notifications of a rule or of a model for a while."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from chronos_core.api.deps import ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.monitoring import SilencePage
from chronos_core.api.security import Operator, Reader
from chronos_core.application.monitoring import silences
from chronos_core.application.monitoring.commands import CreateSilence, ListSilences, SilenceCommand
from chronos_core.domain.monitoring import Silence, SilenceDraft

router = APIRouter(prefix="/silences", tags=["Monitoring"], route_class=AuthenticatedRoute)

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such silence (for this caller)."},
    422: {"model": ErrorResponse, "description": "Invalid silence; details name each field."},
}


@router.post("", status_code=201, response_model=Silence, responses={422: _ERRORS[422]})
def create_silence(
    principal: Operator, services: ServicesDep, draft: Annotated[SilenceDraft, Body()]
) -> Silence:
    return silences.create_silence(services, CreateSilence(principal=principal, draft=draft))


@router.get("", response_model=SilencePage)
def list_silences(
    principal: Reader,
    services: ServicesDep,
    active: Annotated[bool, Query(description="Only silences that have not ended.")] = True,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SilencePage:
    page = silences.list_silences(
        services, ListSilences(principal=principal, active_only=active, skip=skip, limit=limit)
    )
    return SilencePage(items=page.items, total=page.total, skip=page.skip, limit=page.limit)


@router.delete("/{silence_id}", status_code=204, responses={404: _ERRORS[404]})
def delete_silence(
    principal: Operator,
    services: ServicesDep,
    silence_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    """End a silence now."""
    silences.delete_silence(services, SilenceCommand(principal=principal, silence_id=silence_id))
    return Response(status_code=204)
