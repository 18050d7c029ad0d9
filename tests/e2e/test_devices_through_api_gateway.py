"""Devices discovered through the IoT Agent, and FIWARE health, through API Gateway."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_devices_grouped_by_entity_type(api: httpx.Client, stack: dict[str, Any], local_token: Any) -> None:
    service = f"dev{uuid.uuid4().hex[:8]}"
    headers = {"fiware-service": service, "fiware-servicepath": "/site"}
    devices = [
        {
            "device_id": "t1",
            "entity_name": "urn:ngsi-ld:Room:1",
            "entity_type": "Room",
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        },
        {
            "device_id": "t2",
            "entity_name": "urn:ngsi-ld:Room:2",
            "entity_type": "Room",
            "attributes": [{"object_id": "h", "name": "humidity", "type": "Number"}],
        },
        {
            "device_id": "m1",
            "entity_name": "urn:ngsi-ld:Meter:1",
            "entity_type": "Meter",
            "attributes": [{"object_id": "p", "name": "power", "type": "Number"}],
        },
        {
            "device_id": "f1",
            "entity_name": "urn:ngsi-ld:Chronos:Prediction:x",
            "entity_type": "Prediction",
            "attributes": [{"object_id": "fs", "name": "forecastSeries", "type": "StructuredValue"}],
        },
    ]
    created = httpx.post(f"{stack['IotAgentUrl']}/iot/devices", json={"devices": devices}, headers=headers)
    assert created.status_code == 201, created.text

    response = api.get("/devices/", params={"service": service, "servicepath": "/site"})
    assert response.status_code == 200, response.text
    body = response.json()
    groups = {g["entity_type"]: [e["entity_name"] for e in g["entities"]] for g in body["devices"]}
    assert groups == {"Meter": ["urn:ngsi-ld:Meter:1"], "Room": ["urn:ngsi-ld:Room:1", "urn:ngsi-ld:Room:2"]}
    assert body["total"] == 3

    other_tenant = {"Authorization": f"Bearer {local_token(['reader'], ['someone_else'])}"}
    forbidden = api.get("/devices/", params={"service": service}, headers=other_tenant)
    assert forbidden.status_code == 403
    invalid = api.get("/devices/", params={"service": "bad-service!"})
    assert invalid.status_code == 422


def test_health_includes_fiware(api: httpx.Client) -> None:
    body = api.get("/health").json()
    status = {d["name"]: d["status"] for d in body["dependencies"]}
    assert status["orion"] == status["sth_comet"] == status["iot_agent"] == "up"
    assert status["stepfunctions"] == "up"
