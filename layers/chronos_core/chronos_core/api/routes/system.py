"""Health and information routes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from chronos_core import __version__
from chronos_core.api.deps import ServicesDep, SettingsDep
from chronos_core.api.schemas.system import DependencyStatus, HealthResponse, InfoResponse
from chronos_core.api.security import Reader
from chronos_core.application.system.health import system_health
from chronos_core.domain.auth import Role
from chronos_core.domain.model import iso_z

router = APIRouter(tags=["System"])

_STARTED_AT = datetime.now(UTC)
_STARTED_MONOTONIC = time.monotonic()


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def health(services: ServicesDep) -> JSONResponse:
    """Probe every dependency; 503 when a required one is down."""
    result = system_health(services)
    body = HealthResponse(
        status=result.status,
        checked_at=iso_z(result.checked_at),
        dependencies=[
            DependencyStatus(
                name=d.name, status=d.status, required=d.required, latency_ms=d.latency_ms, message=d.message
            )
            for d in result.dependencies
        ],
    )
    return JSONResponse(body.model_dump(), status_code=200 if result.healthy else 503)


@router.get("/info", response_model=InfoResponse)
def info(principal: Reader, settings: SettingsDep) -> InfoResponse:
    """Version, uptime and a configuration summary without secrets; internal endpoints only
    for admins."""
    configuration: dict[str, object] = {
        "mongodb_database": settings.mongodb_database,
        "aws_region": settings.aws_region,
        "data_bucket_configured": settings.data_bucket is not None,
        "training_state_machine_configured": settings.training_state_machine_arn is not None,
        "forecast_queue_configured": settings.forecast_queue_url is not None,
        "sth_configured": settings.sth_url is not None,
        "orion_configured": settings.orion_url is not None,
        "iot_agent_configured": settings.iot_agent_url is not None,
    }
    if principal.has_role(Role.ADMIN):
        configuration["endpoints"] = {
            "sth": settings.sth_url,
            "orion": settings.orion_url,
            "iot_agent": settings.iot_agent_url,
            "data_bucket": settings.data_bucket,
        }
    return InfoResponse(
        name="Chronos",
        version=__version__,
        environment=settings.environment,
        started_at=iso_z(_STARTED_AT),
        uptime_seconds=round(time.monotonic() - _STARTED_MONOTONIC, 3),
        configuration=configuration,
    )
