"""Alerts as the API shows them: the active ones (or all, filtered, paged), one with its events
and deliveries, and acknowledging one (no more repeats until it resolves)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

from chronos_core.application.monitoring.commands import AcknowledgeAlert, AlertCommand, ListAlerts
from chronos_core.application.monitoring.deps import AlertQueryDeps
from chronos_core.application.ports.models import Page
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import ConflictError, NotFoundError
from chronos_core.domain.model import utcnow
from chronos_core.domain.monitoring import Alert, AlertEvent
from chronos_core.domain.notifications import Notification

MAX_EVENTS = 200


class AlertDetail(BaseModel):
    """An alert with its events (newest first) and its notifications (every delivery attempt)."""

    alert: Alert
    events: list[AlertEvent]
    deliveries: list[Notification]


def list_alerts(deps: AlertQueryDeps, command: ListAlerts) -> Page[Alert]:
    filters = replace(command.filters, services=command.principal.visible_services())
    return deps.alerts.list_alerts(filters, command.skip, command.limit)


def get_alert(deps: AlertQueryDeps, command: AlertCommand) -> AlertDetail:
    alert = visible_alert(deps, command.principal, command.alert_id)
    events = deps.alerts.events(alert_id=alert.id, limit=MAX_EVENTS).items
    return AlertDetail(alert=alert, events=events, deliveries=deps.notifications.for_alert(alert.id))


def acknowledge_alert(deps: AlertQueryDeps, command: AcknowledgeAlert) -> Alert:
    """Acknowledge an active alert (ConflictError once resolved): it is no longer repeated."""
    alert = visible_alert(deps, command.principal, command.alert_id)
    command.principal.require_tenant_for_write(alert.fiware_service)
    if not alert.active:
        raise ConflictError(
            f"Alert {alert.id} is resolved", details=[{"field": "status", "message": "resolved"}]
        )
    now = utcnow()
    acknowledged = alert.model_copy(
        update={
            "acknowledged_at": now,
            "acknowledged_by": command.principal.subject,
            "acknowledgement_comment": command.comment or None,
            "updated_at": now,
        }
    )
    deps.alerts.save_alert(acknowledged)
    return acknowledged


def visible_alert(deps: AlertQueryDeps, principal: Principal, alert_id: str) -> Alert:
    alert = deps.alerts.get_alert(alert_id)
    if alert is None:
        raise NotFoundError(f"Alert {alert_id} not found")
    principal.require_tenant(alert.fiware_service, resource=f"Alert {alert_id}")
    return alert
