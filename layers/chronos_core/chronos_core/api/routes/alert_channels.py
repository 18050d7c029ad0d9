"""Routes for notification channels (webhook, SNS, Orion), with their delivery counters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response

from chronos_core.api.deps import ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.monitoring import ChannelPage, ChannelResponse, CreatedChannelResponse
from chronos_core.api.security import Operator, Reader
from chronos_core.application.monitoring import channels
from chronos_core.application.monitoring.commands import (
    ChannelCommand,
    CreateChannel,
    ListChannels,
    UpdateChannel,
)
from chronos_core.domain.notifications import ChannelChanges, ChannelDraft

router = APIRouter(prefix="/alert-channels", tags=["Monitoring"], route_class=AuthenticatedRoute)

ChannelIdPath = Annotated[str, Path(description="Channel id (UUID).", min_length=1, max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such channel (for this caller)."},
    409: {"model": ErrorResponse, "description": "Rules still use the channel."},
    422: {"model": ErrorResponse, "description": "Invalid channel; details name each field."},
}


@router.post("", status_code=201, response_model=CreatedChannelResponse, responses={422: _ERRORS[422]})
def create_channel(
    principal: Operator, services: ServicesDep, response: Response, draft: Annotated[ChannelDraft, Body()]
) -> CreatedChannelResponse:
    """Create a channel; a webhook's signing ``secret`` is in this answer only."""
    created = channels.create_channel(services, CreateChannel(principal=principal, draft=draft))
    response.headers["Location"] = f"/alert-channels/{created.channel.id}"
    shown = ChannelResponse.of(created.channel).model_dump()
    return CreatedChannelResponse(**shown, secret=created.secret)


@router.get("", response_model=ChannelPage)
def list_channels(
    principal: Reader,
    services: ServicesDep,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChannelPage:
    page = channels.list_channels(services, ListChannels(principal=principal, skip=skip, limit=limit))
    return ChannelPage(
        items=[ChannelResponse.of(c) for c in page.items], total=page.total, skip=page.skip, limit=page.limit
    )


@router.get("/{channel_id}", response_model=ChannelResponse, responses={404: _ERRORS[404]})
def get_channel(principal: Reader, services: ServicesDep, channel_id: ChannelIdPath) -> ChannelResponse:
    """The channel and its counters: times sent, last success and failure (with its reason),
    consecutive failures."""
    return ChannelResponse.of(
        channels.get_channel(services, ChannelCommand(principal=principal, channel_id=channel_id))
    )


@router.patch("/{channel_id}", response_model=ChannelResponse, responses=_ERRORS)
def update_channel(
    principal: Operator,
    services: ServicesDep,
    request: Request,
    channel_id: ChannelIdPath,
    changes: Annotated[ChannelChanges, Body()],
) -> ChannelResponse:
    """Change a channel; ``{"enabled": true}`` re-enables a disabled one."""
    correlation = request.headers.get("x-amzn-trace-id") or "api"
    command = UpdateChannel(
        principal=principal, channel_id=channel_id, changes=changes, correlation_id=correlation[:100]
    )
    return ChannelResponse.of(channels.update_channel(services, command))


@router.delete("/{channel_id}", status_code=204, responses={404: _ERRORS[404], 409: _ERRORS[409]})
def delete_channel(principal: Operator, services: ServicesDep, channel_id: ChannelIdPath) -> Response:
    """Delete a channel that no rule names."""
    channels.delete_channel(services, ChannelCommand(principal=principal, channel_id=channel_id))
    return Response(status_code=204)
