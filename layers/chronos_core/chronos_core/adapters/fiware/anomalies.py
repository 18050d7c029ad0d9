"""Anomaly scans' events in Orion: each value-anomaly event upserted as a Smart Data Models
``Anomaly`` entity (``dataModel.Alert``) in the model's tenant.

An entity carries the SDM attributes ``anomalousProperty`` (the model's feature),
``dateDetected`` (the event's first flagged reading), ``detectedBy`` (the scan) and
``thresholdBreach`` (``[{dateObserved, measuredValue, thresholdType: UPPER|LOWER,
thresholdValue}]``: the band around the forecast each of its strongest points left), plus Chronos'
own ``refSourceEntity`` (the sensor), ``dateObservedFrom`` / ``dateObservedTo``, ``peakTime``,
``peakValue``, ``expectedValue``, ``pValue``, ``severity`` (the SDM level), ``severityScore``
(0-100), ``pointsFlagged`` and ``falseDiscoveryRate``. Its id depends only on the scan and the
event's start, so a retried publication upserts the same entities.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from chronos_core.adapters.fiware.orion import OrionClient
from chronos_core.domain.anomaly import AnomalyEvent, AnomalyTarget, anomaly_entity_id
from chronos_core.domain.fiware import FiwareTenant
from chronos_core.domain.model import iso_z

#: The Smart Data Models entity type.
ANOMALY_ENTITY_TYPE: Final = "Anomaly"
#: Upserts in flight at once.
PUBLISH_CONCURRENCY: Final = 4


def anomaly_entity(target: AnomalyTarget, event: AnomalyEvent) -> dict[str, Any]:
    """The normalized NGSI v2 ``Anomaly`` entity of one event (see the module docstring)."""
    return {
        "id": anomaly_entity_id(target.scan_id, event),
        "type": ANOMALY_ENTITY_TYPE,
        "anomalousProperty": {"type": "Text", "value": target.feature},
        "dateDetected": {"type": "DateTime", "value": iso_z(event.start)},
        "detectedBy": {"type": "Text", "value": f"chronos anomaly scan {target.scan_id}"},
        "thresholdBreach": {
            "type": "StructuredValue",
            "value": [
                {
                    "dateObserved": iso_z(b.date_observed),
                    "measuredValue": b.measured_value,
                    "thresholdType": b.threshold_type,
                    "thresholdValue": b.threshold_value,
                }
                for b in event.breaches
            ],
        },
        "refSourceEntity": {"type": "Relationship", "value": target.source_entity_id},
        "dateObservedFrom": {"type": "DateTime", "value": iso_z(event.start)},
        "dateObservedTo": {"type": "DateTime", "value": iso_z(event.end)},
        "peakTime": {"type": "DateTime", "value": iso_z(event.peak_time)},
        "peakValue": {"type": "Number", "value": event.peak_value},
        "expectedValue": {"type": "Number", "value": event.expected},
        "pValue": {"type": "Number", "value": event.p_value},
        "severity": {"type": "Text", "value": event.level},
        "severityScore": {"type": "Number", "value": event.severity},
        "pointsFlagged": {"type": "Number", "value": event.points},
        "falseDiscoveryRate": {"type": "Number", "value": target.false_discovery_rate},
        "refModel": {"type": "Text", "value": target.model_id},
        "refTrainingJob": {"type": "Text", "value": target.job_id},
    }


class OrionAnomalyPublisher:
    """:class:`~chronos_core.application.ports.anomaly.AnomalyPublisher` on Orion (``options=upsert``,
    a few in flight at once; the first failure is raised once the others are done)."""

    def __init__(self, orion: OrionClient, concurrency: int = PUBLISH_CONCURRENCY) -> None:
        self._orion = orion
        self._concurrency = max(1, concurrency)

    def publish(self, target: AnomalyTarget, events: Sequence[AnomalyEvent]) -> int:
        tenant = FiwareTenant(target.fiware_service, target.fiware_servicepath)
        entities = [anomaly_entity(target, event) for event in events]
        if not entities:
            return 0
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="anomaly-publish") as pool:
            results = list(pool.map(lambda e: self._upsert(tenant, e), entities))
        errors = [r for r in results if r is not None]
        if errors:
            raise errors[0]
        return len(entities)

    def _upsert(self, tenant: FiwareTenant, entity: dict[str, Any]) -> Exception | None:
        try:
            self._orion.upsert_entity(tenant, entity)
        except Exception as exc:  # raised by publish() once every upsert has been tried
            return exc
        return None
