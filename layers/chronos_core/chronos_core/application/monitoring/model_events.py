"""Monitoring's side of the retraining events: a kept challenger is an informational alert.

Contracts:

* **A kept challenger** (``challenger_kept``) opens an ``informational`` alert of rule type
  ``challenger_kept`` (no rule), about the model (``model_id``, ``job_id`` = the challenger, the
  sensor's entity), notified as ``firing`` to every active channel of the model's tenant
  through the same notifications, queue and deliverer as rule alerts. Its ``values`` name the
  challenger, the champion that stays and the reason.
* **One per model.** Its fingerprint is the model's: a later kept challenger resolves the
  earlier alert quietly (an undelivered firing of it is superseded) and opens its own; a
  promotion resolves it and tells the channels that received its firing.
* The other events (pins, rollbacks) raise nothing.
"""

from __future__ import annotations

from datetime import datetime

from chronos_core.application.monitoring.deps import DispatchDeps
from chronos_core.application.monitoring.dispatch import notifications_for, store_and_queue
from chronos_core.domain.model import Model
from chronos_core.domain.monitoring import (
    Alert,
    AlertEvent,
    AlertState,
    AlertStatus,
    Outcome,
    Severity,
    fingerprint,
)
from chronos_core.domain.retraining import ModelEvent

CHALLENGER_KEPT_RULE = "challenger_kept"


def challenger_fingerprint(model: Model) -> str:
    source = model.source
    return fingerprint(
        source.fiware_service,
        source.fiware_servicepath,
        f"model:{model.id}",
        None,
        source.entity_id,
        "challenger",
    )


def alert_on_model_event(deps: DispatchDeps, model: Model, event: ModelEvent) -> Alert | None:
    """Open (``challenger_kept``) or resolve (``promoted``) the model's informational alert;
    returns the alert opened or resolved, None when the event raises nothing."""
    if event.kind == "challenger_kept":
        _resolve(deps, model, event.at, notify=False)
        return _open(deps, model, event)
    if event.kind == "promoted":
        return _resolve(deps, model, event.at, notify=True)
    return None


def _open(deps: DispatchDeps, model: Model, event: ModelEvent) -> Alert:
    source = model.source
    channels = [c.id for c in deps.channels.active_in(source.fiware_service)]
    alert = Alert(
        fingerprint=challenger_fingerprint(model),
        rule_id=None,
        rule_name=f"Challenger kept for model {model.name}",
        rule_type=CHALLENGER_KEPT_RULE,
        severity=Severity.INFORMATIONAL,
        model_id=model.id,
        job_id=event.job_id,
        fiware_service=source.fiware_service,
        fiware_servicepath=source.fiware_servicepath,
        entity_type=source.entity_type,
        entity_id=source.entity_id,
        attribute=source.feature,
        message=event.message[:500],
        values={
            "event": event.kind,
            "challenger_job_id": event.job_id,
            "champion_job_id": event.champion_job_id,
        },
        started_at=event.at,
        updated_at=event.at,
        channels=channels,
    )
    deps.alerts.add_alert(alert)
    deps.alerts.add_events([_event(alert, AlertState.OK, AlertState.FIRING, event.at)])
    store_and_queue(deps, notifications_for(deps, alert, "firing", channels, event.at), _correlation(event))
    return alert


def _resolve(deps: DispatchDeps, model: Model, now: datetime, *, notify: bool) -> Alert | None:
    active = deps.alerts.active_with_fingerprint(challenger_fingerprint(model))
    if active is None:
        return None
    resolved = active.model_copy(
        update={"status": AlertStatus.RESOLVED, "state": AlertState.OK, "resolved_at": now, "updated_at": now}
    )
    deps.alerts.save_alert(resolved)
    deps.alerts.add_events([_event(resolved, AlertState.FIRING, AlertState.OK, now)])
    if notify:
        correlation = f"model-event-{model.id}"
        store_and_queue(
            deps, notifications_for(deps, resolved, "resolved", active.channels, now), correlation
        )
    return resolved


def _event(alert: Alert, from_state: AlertState, to_state: AlertState, now: datetime) -> AlertEvent:
    return AlertEvent(
        rule_id=None,
        alert_id=alert.id,
        fingerprint=alert.fingerprint,
        fiware_service=alert.fiware_service,
        at=now,
        from_state=from_state,
        to_state=to_state,
        outcome=Outcome.BREACH if to_state == AlertState.FIRING else Outcome.OK,
        message=alert.message,
        values=alert.values,
    )


def _correlation(event: ModelEvent) -> str:
    return f"model-event-{event.model_id}-{event.job_id or event.kind}"


class MonitoringModelEventAlerts:
    """:class:`~chronos_core.application.ports.retraining.ModelEventListener` for monitoring."""

    def __init__(self, deps: DispatchDeps) -> None:
        self._deps = deps

    def model_event(self, model: Model, event: ModelEvent) -> None:
        alert_on_model_event(self._deps, model, event)
