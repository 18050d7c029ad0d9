"""Alerts published into FIWARE: every firing and resolved alert is upserted in Orion, in the
model's tenant, as a Smart Data Models ``Alert`` entity, so Perseo, QuantumLeap or any app
subscribed to Orion receives it without a new integration.

Entity ``urn:ngsi-ld:Alert:chronos:<alert id>`` (type ``Alert`` unless the channel says
otherwise) with ``category``, ``subCategory`` (the rule type, camelCase), ``severity``,
``dateIssued`` (this notification), ``validFrom`` (the alert started), ``validTo`` (it resolved;
absent while firing), ``alertSource`` (Relationship to the job's forecast entity, else the
sensor's entity), ``name``, ``description`` and ``data`` (status, rule, model, job, values).
Orion forbids ``< > " ' = ; ( )`` in text, so text is made safe first (:func:`orion_safe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from chronos_core.adapters.fiware.errors import FiwareUnavailableError, FiwareUpstreamError
from chronos_core.adapters.fiware.orion import OrionClient
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import FiwareTenant
from chronos_core.domain.model import iso_z, utcnow
from chronos_core.domain.notifications import (
    Channel,
    DeliveryOutcome,
    Notification,
    OrionConfig,
    outcome_of_status,
)

_REPLACEMENTS: Final = str.maketrans(
    {"(": "[", ")": "]", "<": "‹", ">": "›", '"': "”", "'": "’", "=": ":", ";": ","}
)
#: Fields of the alert's values too large to be worth copying into the entity.
_BULKY: Final = frozenset({"forecast", "per_step", "probabilities"})


def orion_safe(value: Any) -> Any:
    """``value`` with Orion's forbidden characters replaced in every string (keys included)."""
    if isinstance(value, str):
        return value.translate(_REPLACEMENTS)
    if isinstance(value, Mapping):
        return {orion_safe(str(k)): orion_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [orion_safe(v) for v in value]
    return value


def alert_entity_id(alert_id: str) -> str:
    return f"urn:ngsi-ld:Alert:chronos:{alert_id}"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def sdm_alert_entity(notification: Notification, config: OrionConfig) -> dict[str, Any]:
    """The normalized NGSI v2 entity of the notification's alert."""
    alert: dict[str, Any] = notification.payload.get("alert", {})
    values = {k: v for k, v in (alert.get("values") or {}).items() if k not in _BULKY}
    entity: dict[str, Any] = {
        "id": alert_entity_id(str(alert["id"])),
        "type": config.entity_type,
        "category": {"type": "Text", "value": config.category},
        "subCategory": {"type": "Text", "value": camel(str(alert.get("rule_type", "alert")))},
        "severity": {"type": "Text", "value": str(alert.get("severity", "medium"))},
        "name": {"type": "Text", "value": orion_safe(str(alert.get("rule_name", "")))[:256]},
        "description": {"type": "Text", "value": orion_safe(str(alert.get("message", "")))[:1000]},
        "dateIssued": {"type": "DateTime", "value": iso_z(utcnow())},
        "validFrom": {"type": "DateTime", "value": alert["started_at"]},
        "data": {
            "type": "StructuredValue",
            "value": orion_safe(
                {
                    "status": notification.payload.get("status"),
                    "state": alert.get("state"),
                    "fingerprint": alert.get("fingerprint"),
                    "ruleId": alert.get("rule_id"),
                    "modelId": alert.get("model_id"),
                    "jobId": alert.get("job_id"),
                    "entityId": alert.get("entity_id"),
                    "attribute": alert.get("attribute"),
                    "value": alert.get("value"),
                    "threshold": alert.get("threshold"),
                    "predicted": alert.get("predicted"),
                    "values": values,
                }
            ),
        },
    }
    if alert.get("resolved_at"):
        entity["validTo"] = {"type": "DateTime", "value": alert["resolved_at"]}
    source = alert.get("source_entity_id") or alert.get("entity_id")
    if source:
        entity["alertSource"] = {"type": "Relationship", "value": str(source)}
    return entity


class OrionAlertPublisher:
    """Upserts alert entities (``POST /v2/entities?options=upsert``) in the alert's tenant."""

    def __init__(self, orion: OrionClient) -> None:
        self._orion = orion

    def send(self, channel: Channel, notification: Notification) -> DeliveryOutcome:
        config = channel.config
        assert isinstance(config, OrionConfig)
        alert = notification.payload.get("alert", {})
        try:
            tenant = FiwareTenant(
                str(alert.get("fiware_service")), str(alert.get("fiware_servicepath") or "/")
            )
            self._orion.upsert_entity(tenant, sdm_alert_entity(notification, config))
        except FiwareUnavailableError as exc:
            return DeliveryOutcome(ok=False, retryable=True, reason=exc.message[:300])
        except FiwareUpstreamError as exc:
            outcome = outcome_of_status(exc.status_code)
            return outcome.model_copy(update={"reason": exc.message[:300]})
        except ValidationError as exc:
            return DeliveryOutcome(ok=False, retryable=False, reason=exc.message[:300])
        return DeliveryOutcome(ok=True, status_code=204)
