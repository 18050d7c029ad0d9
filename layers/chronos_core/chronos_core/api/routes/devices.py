"""Devices known to the IoT Agent, for choosing what to forecast."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from chronos_core.api.deps import ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.security import Reader
from chronos_core.application.devices.listing import (
    DevicesByEntityType,
    ListDevices,
    list_devices_by_entity_type,
)

router = APIRouter(prefix="/devices", tags=["Devices"], route_class=AuthenticatedRoute)


@router.get(
    "/",
    response_model=DevicesByEntityType,
    responses={
        403: {"model": ErrorResponse, "description": "The token does not grant this FIWARE service."},
        502: {"model": ErrorResponse, "description": "The IoT Agent answered with an error."},
        503: {"model": ErrorResponse, "description": "The IoT Agent cannot be reached."},
    },
)
@router.get("", response_model=DevicesByEntityType, include_in_schema=False)
def list_devices(
    principal: Reader,
    services: ServicesDep,
    service: Annotated[str, Query(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_]+$")],
    servicepath: Annotated[str, Query(min_length=1, max_length=1024)] = "/",
) -> DevicesByEntityType:
    """Devices of one FIWARE tenant grouped by entity type, without Chronos's forecast devices."""
    command = ListDevices(principal=principal, service=service, servicepath=servicepath)
    return list_devices_by_entity_type(services, command)
