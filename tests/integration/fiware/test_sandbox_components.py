"""The sandbox serving only some components (``serve --components``, what ``local/stack.py up``
starts when the others are real FIWARE), and seeding through the public FIWARE APIs (what the demo
does against real FIWARE), both on a real MongoDB-compatible server."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronos_core.adapters.fiware import IotAgentClient, OrionClient, SthCometClient
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from local.fiware_sandbox import seed as seeding
from local.fiware_sandbox.testing import Sandbox, start_sandbox

pytestmark = pytest.mark.integration


def refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) != 0


def test_a_sandbox_serving_only_sth_binds_no_other_port() -> None:
    partial = start_sandbox(components=("sth",))
    try:
        assert httpx.get(f"{partial.sth_url}/version", timeout=5).status_code == 200
        assert refuses(partial.orion_url) and refuses(partial.iota_url)
        info = httpx.get(f"{partial.sth_url}/_sandbox/info", timeout=5).json()
        assert list(info["ports"]) == ["sth"]
        partial.clear_faults()  # the control API is there
    finally:
        partial.stop()


def test_a_sandbox_serving_orion_and_the_iot_agent_has_its_control_api_on_both() -> None:
    partial = start_sandbox(components=("orion", "iota"))
    try:
        assert refuses(partial.sth_url)
        assert httpx.get(f"{partial.orion_url}/version", timeout=5).status_code == 200
        assert httpx.get(f"{partial.iota_url}/iot/about", timeout=5).status_code == 200
        for url in (partial.orion_url, partial.iota_url):
            assert set(httpx.get(f"{url}/_sandbox/info", timeout=5).json()["ports"]) == {"orion", "iota"}
    finally:
        partial.stop()


def test_seeding_through_the_public_apis_replaces_the_history(sandbox: Sandbox, service: str) -> None:
    """What the demo does against real FIWARE: no sandbox database (``mongodb_uri`` unused)."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    stamps = [start + timedelta(minutes=30 * i, milliseconds=137) for i in range(450)]
    common: dict[str, Any] = {
        "mongodb_uri": "mongodb://127.0.0.1:1/",  # never connected to
        "sth_url": sandbox.sth_url,
        "orion_url": sandbox.orion_url,
        "iota_url": sandbox.iota_url,
        "service": service,
        "servicepath": "/seeded",
        "entity_type": "ElectricityMeter",
        "entity_id": "urn:ngsi-ld:ElectricityMeter:api",
        "attr": "demand",
        "register_device": True,
        "batch_size": 100,
    }
    seeding.seed_series(values=[float(i) for i in range(450)], stamps=stamps, **common)
    # Again, with other values: the history is replaced, the device kept (409 is fine).
    result = seeding.seed_series(values=[i + 0.5 for i in range(450)], stamps=stamps, **common)
    assert result.points == 450 and result.device_id == "api"

    tenant = FiwareTenant(service, "/seeded")
    series = SeriesRef(
        entity_type="ElectricityMeter", entity_id="urn:ngsi-ld:ElectricityMeter:api", attribute="demand"
    )
    with SthCometClient(sandbox.sth_url) as sth:
        points = sth.fetch_all(tenant, series)
    assert [p.as_float() for p in points] == [i + 0.5 for i in range(450)]
    assert [p.recv_time for p in points] == stamps
    with OrionClient(sandbox.orion_url) as orion:
        entity = orion.find_entity(tenant, "urn:ngsi-ld:ElectricityMeter:api", entity_type="ElectricityMeter")
    assert entity is not None and entity["demand"]["value"] == "449.5"
    with IotAgentClient(sandbox.iota_url) as iota:
        [device] = iota.list_devices(tenant).devices
    assert device.entity_name == "urn:ngsi-ld:ElectricityMeter:api"


def test_seeding_only_the_external_components_through_their_apis(sandbox: Sandbox, service: str) -> None:
    """STH in the sandbox database, Orion and the IoT Agent through their APIs (``CHRONOS_ORION_URL``
    and ``CHRONOS_IOT_AGENT_URL`` set, the sandbox's STH)."""
    if sandbox.database is None or sandbox.mongodb_uri is None:
        pytest.skip("writes into the sandbox database, unknown for an external sandbox")
    stamps = [datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(60)]
    seeding.seed_series(
        mongodb_uri=sandbox.mongodb_uri,
        database=sandbox.database,
        orion_url=sandbox.orion_url,
        iota_url=sandbox.iota_url,
        values=[float(i) for i in range(60)],
        stamps=stamps,
        service=service,
        servicepath="/mixed",
        entity_type="Room",
        entity_id="Room1",
        attr="temperature",
        register_device=True,
    )
    tenant = FiwareTenant(service, "/mixed")
    with SthCometClient(sandbox.sth_url) as sth:
        points = sth.fetch_all(
            tenant, SeriesRef(entity_type="Room", entity_id="Room1", attribute="temperature")
        )
    assert [p.recv_time for p in points] == stamps
    with OrionClient(sandbox.orion_url) as orion:
        entity = orion.find_entity(tenant, "Room1", entity_type="Room")
    assert entity is not None and entity["temperature"]["value"] == "59"
    with IotAgentClient(sandbox.iota_url) as iota:
        assert [d.device_id for d in iota.list_devices(tenant).devices] == ["Room1"]
