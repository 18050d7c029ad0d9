"""Routes for alerts: the active ones (or resolved, or all), one with its events and deliveries,
and acknowledging one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query

from chronos_core.api.deps import ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.monitoring import AcknowledgeRequest, AlertPage
from chronos_core.api.security import Operator, Reader
from chronos_core.application.monitoring import alerts
from chronos_core.application.monitoring.alerts import AlertDetail
from chronos_core.application.monitoring.commands import AcknowledgeAlert, AlertCommand, ListAlerts
from chronos_core.application.ports.monitoring import AlertFilter
from chronos_core.domain.monitoring import Alert, AlertStatus, Severity

router = APIRouter(prefix="/alerts", tags=["Monitoring"], route_class=AuthenticatedRoute)

AlertIdPath = Annotated[str, Path(description="Alert id (UUID).", min_length=1, max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such alert (for this caller)."},
    409: {"model": ErrorResponse, "description": "The alert is resolved."},
}


@router.get("", response_model=AlertPage)
def list_alerts(
    principal: Reader,
    services: ServicesDep,
    status: Annotated[Literal["firing", "resolved", "all"], Query()] = "firing",
    severity: Annotated[Severity | None, Query()] = None,
    rule_id: Annotated[str | None, Query(max_length=64)] = None,
    model_id: Annotated[str | None, Query(max_length=64)] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertPage:
    """Alerts, most recently started first: the active ones by default (``status=firing``)."""
    filters = AlertFilter(
        status=None if status == "all" else AlertStatus(status),
        severity=severity,
        rule_id=rule_id,
        model_id=model_id,
    )
    page = alerts.list_alerts(
        services, ListAlerts(principal=principal, filters=filters, skip=skip, limit=limit)
    )
    return AlertPage(items=page.items, total=page.total, skip=page.skip, limit=page.limit)


@router.get("/{alert_id}", response_model=AlertDetail, responses={404: _ERRORS[404]})
def get_alert(principal: Reader, services: ServicesDep, alert_id: AlertIdPath) -> AlertDetail:
    """The alert with its events and its notifications (status and every attempt)."""
    return alerts.get_alert(services, AlertCommand(principal=principal, alert_id=alert_id))


@router.post("/{alert_id}/ack", response_model=Alert, responses=_ERRORS)
def acknowledge(
    principal: Operator,
    services: ServicesDep,
    alert_id: AlertIdPath,
    request: Annotated[AcknowledgeRequest | None, Body()] = None,
) -> Alert:
    """Acknowledge an active alert: it is no longer repeated (its resolution is still notified)."""
    comment = request.comment if request else ""
    return alerts.acknowledge_alert(
        services, AcknowledgeAlert(principal=principal, alert_id=alert_id, comment=comment)
    )
