"""The Smart Data Models ``Anomaly`` entity of a scan's event, and the publisher's upserts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chronos_core.adapters.fiware.anomalies import OrionAnomalyPublisher, anomaly_entity
from chronos_core.domain.anomaly import AnomalyTarget, FlaggedPoint, anomaly_entity_id, merge_events
from chronos_core.domain.fiware import FiwareTenant, validate_entity
from chronos_core.domain.ids import JobId, ModelId, ScanId
from tests.support.builders import T0

TARGET = AnomalyTarget(
    fiware_service="energy",
    fiware_servicepath="/e2e",
    source_entity_id="urn:ngsi-ld:Meter:1",
    source_entity_type="Meter",
    feature="demand",
    scan_id=ScanId("5f0c8a3e-2d4b-4e1f-9a7c-3b6d8e2f1a04"),
    model_id=ModelId("model-1"),
    job_id=JobId("job-1"),
    false_discovery_rate=0.05,
)


def _events() -> list[Any]:
    points = [
        FlaggedPoint(time=T0 + timedelta(minutes=m), value=v, expected=20.0, p_value=p, half_width=3.0)
        for m, v, p in [(10, 31.0, 1e-7), (11, 35.0, 1e-9), (40, 12.0, 1e-5)]
    ]
    return merge_events(points, interval_seconds=60.0, merge_gap=1, min_points=1)


class RecordingOrion:
    def __init__(self, fail_on: str | None = None) -> None:
        self.upserts: list[tuple[FiwareTenant, dict[str, Any]]] = []
        self.fail_on = fail_on

    def upsert_entity(self, tenant: FiwareTenant, entity: dict[str, Any]) -> None:
        self.upserts.append((tenant, entity))
        if entity["id"] == self.fail_on:
            raise RuntimeError("Orion is down")


def test_an_event_becomes_a_valid_smart_data_models_anomaly() -> None:
    event = _events()[0]
    entity = anomaly_entity(TARGET, event)
    validate_entity(entity)  # no character Orion forbids, valid names
    assert (
        entity["id"]
        == anomaly_entity_id(TARGET.scan_id, event)
        == "urn:ngsi-ld:Anomaly:5f0c8a3e2d4b-1767226200000"
    )
    assert entity["type"] == "Anomaly"
    assert entity["anomalousProperty"] == {"type": "Text", "value": "demand"}
    assert entity["dateDetected"] == {"type": "DateTime", "value": "2026-01-01T00:10:00.000Z"}
    assert TARGET.scan_id in entity["detectedBy"]["value"]
    assert entity["thresholdBreach"]["value"] == [
        {
            "dateObserved": "2026-01-01T00:10:00.000Z",
            "measuredValue": 31.0,
            "thresholdType": "UPPER",
            "thresholdValue": 23.0,
        },
        {
            "dateObserved": "2026-01-01T00:11:00.000Z",
            "measuredValue": 35.0,
            "thresholdType": "UPPER",
            "thresholdValue": 23.0,
        },
    ]
    assert entity["refSourceEntity"] == {"type": "Relationship", "value": "urn:ngsi-ld:Meter:1"}
    assert entity["peakValue"]["value"] == 35.0 and entity["severity"]["value"] == "critical"


def test_the_publisher_upserts_every_event_in_the_model_tenant_and_raises_the_first_failure() -> None:
    orion = RecordingOrion()
    events = _events()
    assert OrionAnomalyPublisher(orion).publish(TARGET, events) == 2  # type: ignore[arg-type]
    assert {t for t, _ in orion.upserts} == {FiwareTenant("energy", "/e2e")}
    failing = RecordingOrion(fail_on=anomaly_entity_id(TARGET.scan_id, events[0]))
    with pytest.raises(RuntimeError, match="Orion is down"):
        OrionAnomalyPublisher(failing).publish(TARGET, events)  # type: ignore[arg-type]
    assert len(failing.upserts) == 2  # the others were still tried
