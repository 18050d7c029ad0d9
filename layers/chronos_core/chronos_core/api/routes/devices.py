"""Devices known to the IoT Agent, for choosing what to forecast."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chronos_core import wiring
from chronos_core.adapters.fiware import FiwareTenant
from chronos_core.api.schemas import ErrorResponse
from chronos_core.api.security import Reader
from chronos_core.application.devices import DeviceDirectory, DevicesByEntityType, list_devices_by_entity_type
from chronos_core.config import get_settings

router = APIRouter(prefix="/devices", tags=["Devices"])


def device_directory() -> DeviceDirectory:
    return wiring.iot_agent_client()


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
    directory: Annotated[DeviceDirectory, Depends(device_directory)],
    service: Annotated[str, Query(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_]+$")],
    servicepath: Annotated[str, Query(min_length=1, max_length=1024)] = "/",
) -> DevicesByEntityType:
    """Devices of one FIWARE tenant grouped by entity type, without Chronos's forecast devices."""
    principal.require_tenant_for_write(service)
    settings = get_settings()
    return list_devices_by_entity_type(
        directory,
        FiwareTenant(service, servicepath),
        forecast_entity_type=settings.fiware_forecast_entity_type,
        forecast_group_resource=settings.fiware_forecast_group_resource,
    )
