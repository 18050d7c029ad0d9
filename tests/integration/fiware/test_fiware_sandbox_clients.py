"""The three clients against the sandbox: paging, retries, typed failures, path injection,
Orion → STH notifications, IoT Agent provisioning and the devices/health use cases."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chronos_core import bootstrap
from chronos_core.adapters.fiware import (
    FiwareNotFoundError,
    FiwareServerError,
    FiwareUnavailableError,
    IotAgentClient,
    IotAttribute,
    IotDevice,
    OrionClient,
    RetryPolicy,
    ServiceGroup,
    SthCometClient,
    generate_api_key,
    notification_subscription,
)
from chronos_core.adapters.fiware.health import HealthStatus, check_fiware
from chronos_core.application.devices.listing import (
    DevicesByEntityType,
    ListDevices,
    list_devices_by_entity_type,
)
from chronos_core.config import Settings
from chronos_core.domain.auth import Principal, Role
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import FiwareTenant, SeriesRef, ngsi_id_problem
from chronos_core.domain.forecasting import ForecastPoint, ForecastQuality, ForecastSeries
from local.fiware_sandbox.testing import ROOT, Sandbox

FAST = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.05)
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def list_devices(iota: IotAgentClient, tenant: FiwareTenant, page_size: int = 100) -> DevicesByEntityType:
    """``GET /devices/``'s use case over the bootstrap's services, with ``iota`` as the directory."""
    services = bootstrap.bootstrap(Settings(), devices=iota)
    reader = Principal(subject="reader", roles=frozenset({Role.READER}), tenants=frozenset({tenant.service}))
    command = ListDevices(
        principal=reader, service=tenant.service, servicepath=tenant.servicepath, page_size=page_size
    )
    return list_devices_by_entity_type(services, command)


def seed(
    sandbox: Sandbox, service: str, n: int, *, entity_id: str = "Meter1", attr: str = "power"
) -> SeriesRef:
    """n points, one a minute, values alternately strings and numbers (both shapes STH returns)."""
    points = [
        {
            "recvTime": (BASE + timedelta(minutes=i, milliseconds=137)).isoformat().replace("+00:00", "Z"),
            "attrValue": str(i) if i % 2 else i,
        }
        for i in range(n)
    ]
    sandbox.seed_sth(
        service=service,
        servicepath="/",
        entity_id=entity_id,
        entity_type="Meter",
        attr_name=attr,
        points=points,
    )
    return SeriesRef(entity_type="Meter", entity_id=entity_id, attribute=attr)


@pytest.mark.parametrize("concurrency", [1, 6])
def test_paging_thousands_of_points_exactly_once_in_order(
    sandbox: Sandbox, service: str, concurrency: int
) -> None:
    series = seed(sandbox, service, 2345)
    tenant = FiwareTenant(service, "/")
    with SthCometClient(sandbox.sth_url, retry=FAST, max_concurrency=concurrency) as sth:
        assert sth.count(tenant, series) == 2345
        result = sth.fetch_all(tenant, series)
        assert [p.as_float() for p in result] == [float(i) for i in range(2345)]
        assert [p.recv_time for p in result] == sorted(p.recv_time for p in result)
        assert result[0].recv_time == BASE + timedelta(milliseconds=137)
        chunk = sth.fetch_range(tenant, series, 1999, 500)
        assert [p.as_float() for p in chunk] == [float(i) for i in range(1999, 2345)]
        assert [p.as_float() for p in sth.last_n(tenant, series, 5)] == [
            2340.0,
            2341.0,
            2342.0,
            2343.0,
            2344.0,
        ]
        assert len(sth.last_n(tenant, series, 250)) == 250
        window = sth.fetch_all(
            tenant,
            series,
            date_from=BASE + timedelta(minutes=10),
            date_to=BASE + timedelta(minutes=19, seconds=59),
        )
        assert [p.as_float() for p in window] == [float(i) for i in range(10, 20)]


def test_v1_and_v2_agree(sandbox: Sandbox, service: str) -> None:
    series = seed(sandbox, service, 321)
    tenant = FiwareTenant(service, "/")
    with SthCometClient(sandbox.sth_url, api_version="v1") as v1, SthCometClient(sandbox.sth_url) as v2:
        assert v1.fetch_all(tenant, series) == v2.fetch_all(tenant, series)


def test_transient_500s_are_retried_and_succeed(sandbox: Sandbox, service: str) -> None:
    series = seed(sandbox, service, 1000)
    tenant = FiwareTenant(service, "/")
    since = sandbox.last_seq()
    sandbox.set_faults(sth_fail_first=2)
    with SthCometClient(sandbox.sth_url, retry=FAST, max_concurrency=4) as sth:
        result = sth.fetch_range(tenant, series, 0, 1000)
    assert [p.as_float() for p in result] == [float(i) for i in range(1000)]
    log = sandbox.requests("sth", since=since)
    assert len(log) == 30  # 10 pages x (2 injected failures + 1 success)
    assert sum(1 for r in log if r["status"] == 500 and r["fault"] == "error") == 20


def test_random_error_rate_is_absorbed_by_retries(sandbox: Sandbox, service: str) -> None:
    series = seed(sandbox, service, 800)
    tenant = FiwareTenant(service, "/")
    sandbox.set_faults(sth_error_rate=0.3, seed=7)
    retry = RetryPolicy(max_attempts=10, initial_delay=0.005, max_delay=0.02)
    with SthCometClient(sandbox.sth_url, retry=retry, max_concurrency=4) as sth:
        assert len(sth.fetch_range(tenant, series, 0, 800)) == 800


def test_persistent_failures_surface_as_typed_errors(sandbox: Sandbox, service: str) -> None:
    series = seed(sandbox, service, 10)
    tenant = FiwareTenant(service, "/")
    sandbox.set_faults(sth_error_rate=1.0)
    sth = SthCometClient(sandbox.sth_url, retry=RetryPolicy(max_attempts=3, initial_delay=0.01))
    with sth, pytest.raises(FiwareServerError) as info:
        sth.fetch_page(tenant, series, 0, 10)
    assert info.value.status_code == 500
    assert "injected" not in info.value.message  # upstream description is never echoed


def test_timeouts_surface_as_unavailable(sandbox: Sandbox, service: str) -> None:
    series = seed(sandbox, service, 10)
    sandbox.set_faults(sth_timeout_rate=1.0, sth_timeout_seconds=1.0)
    with (
        SthCometClient(
            sandbox.sth_url, timeout=0.2, retry=RetryPolicy(max_attempts=2, initial_delay=0.01)
        ) as sth,
        pytest.raises(FiwareUnavailableError),
    ):
        sth.fetch_page(FiwareTenant(service, "/"), series, 0, 10)


def test_orion_outage_and_recovery(sandbox: Sandbox, service: str) -> None:
    tenant = FiwareTenant(service, "/")
    settings = Settings(orion_url=sandbox.orion_url, sth_url=sandbox.sth_url, iot_agent_url=sandbox.iota_url)
    assert [h.status for h in check_fiware(settings)] == [HealthStatus.UP] * 3
    sandbox.set_faults(orion_down=True)
    with OrionClient(sandbox.orion_url, retry=RetryPolicy(max_attempts=2, initial_delay=0.01)) as orion:
        with pytest.raises(FiwareServerError):
            orion.upsert_entity(tenant, {"id": "E1", "type": "T"})
        health = check_fiware(settings)
        assert [h.status for h in health] == [HealthStatus.DOWN, HealthStatus.UP, HealthStatus.UP]
        sandbox.clear_faults()
        orion.upsert_entity(tenant, {"id": "E1", "type": "T"})
        assert orion.get_entity(tenant, "E1", entity_type="T")["id"] == "E1"


def test_orion_attributes_and_entity_listing(sandbox: Sandbox, service: str) -> None:
    tenant = FiwareTenant(service, "/listing")
    with OrionClient(sandbox.orion_url) as orion:
        for i in range(5):
            orion.upsert_entity(tenant, {"id": f"Room{i}", "type": "Room", "temperature": {"value": i}})
        orion.upsert_entity(tenant, {"id": "Pump1", "type": "Pump"})
        orion.update_attributes(
            tenant, "Room0", {"humidity": {"type": "Number", "value": 40}}, entity_type="Room"
        )
        room = orion.get_entity(tenant, "Room0", entity_type="Room")
        assert room["humidity"]["value"] == 40 and room["temperature"]["value"] == 0  # appended, kept
        with pytest.raises(FiwareNotFoundError):
            orion.update_attributes(tenant, "Missing", {"humidity": {"value": 1}})
        with pytest.raises(ValidationError):
            orion.update_attributes(tenant, "Room0", {"bad(name)": {"value": 1}})
        first, total = orion.list_entities(tenant, entity_type="Room", limit=2)
        rest, _ = orion.list_entities(tenant, entity_type="Room", limit=100, offset=2)
        assert total == 5 and len(first) == 2 and len(rest) == 3
        assert {e["id"] for e in first + rest} == {f"Room{i}" for i in range(5)}
        with pytest.raises(ValidationError):
            orion.list_entities(tenant, limit=1001)


@pytest.mark.parametrize(
    "evil", ["../../version", "a#b", "a?hLimit=1000", "x/../../../v2/entities", "%2e%2e"]
)
def test_path_injection_stays_on_the_raw_route(sandbox: Sandbox, service: str, evil: str) -> None:
    tenant = FiwareTenant(service, "/")
    since = sandbox.last_seq()
    with SthCometClient(sandbox.sth_url) as sth:
        series = SeriesRef(entity_type="Meter", entity_id=evil, attribute=evil)
        assert sth.last_n(tenant, series, 5) == []
    (record,) = sandbox.requests("sth", since=since)
    segments = record["path"].split("/")
    assert segments[:4] == ["", "STH", "v2", "entities"] and segments[5] == "attrs" and len(segments) == 7
    assert record["status"] == 200 and record["query"].startswith("lastN=5&type=Meter")
    with IotAgentClient(sandbox.iota_url) as iota, pytest.raises(FiwareNotFoundError):
        iota.get_device(tenant, evil)
    (record,) = sandbox.requests("iota", since=since)
    assert record["path"].startswith("/iot/devices/") and record["path"].count("/") == 3
    with OrionClient(sandbox.orion_url) as orion:
        if ngsi_id_problem(evil) is None:  # a legal NGSI id: encoded, and looked up as such
            with pytest.raises(FiwareNotFoundError):
                orion.get_entity(tenant, evil)
            (record,) = sandbox.requests("orion", since=since)
            assert record["path"].startswith("/v2/entities/") and record["path"].count("/") == 3
        else:  # an illegal one never leaves the client
            with pytest.raises(ValidationError):
                orion.get_entity(tenant, evil)
            assert sandbox.requests("orion", since=since) == []
    with SthCometClient(sandbox.sth_url) as sth, pytest.raises(ValidationError):
        sth.last_n(tenant, SeriesRef(entity_type="Meter", entity_id="..", attribute="a"), 1)


def test_forecast_publication_feeds_sth_through_a_subscription(sandbox: Sandbox, service: str) -> None:
    tenant = FiwareTenant(service, "/forecasts")
    entity_id = "urn:ngsi-ld:Chronos:Prediction:abc"
    with OrionClient(sandbox.orion_url) as orion, SthCometClient(sandbox.sth_url) as sth:
        subscription_id = orion.create_subscription(
            tenant, notification_subscription(entity_id, "Prediction", f"{sandbox.sth_url}/notify")
        )
        assert orion.get_subscription(tenant, subscription_id)["notification"]["attrsFormat"] == "legacy"
        for batch in range(3):
            generated = BASE + timedelta(hours=batch)
            series = ForecastSeries(
                generated_at=generated,
                horizon=2,
                points=[
                    ForecastPoint(
                        step=s, value=batch + s / 10, target_timestamp=generated + timedelta(minutes=30 * s)
                    )
                    for s in (1, 2)
                ],
                quality=ForecastQuality(
                    status="degraded", interpolated_points=batch, reason="Served the last value instead."
                )
                if batch
                else ForecastQuality(),
            )
            orion.upsert_forecast(
                tenant,
                entity_id,
                "Prediction",
                source_entity_id="urn:Meter:1",
                feature="power",
                series=series,
            )
        assert sandbox.drain()
        entity = orion.get_entity(tenant, entity_id, entity_type="Prediction")
        assert entity["forecastSeries"]["value"]["generatedAt"] == "2024-01-01T02:00:00.000Z"
        assert entity["sourceEntity"] == {"type": "Relationship", "value": "urn:Meter:1", "metadata": {}}
        assert entity["forecastQuality"]["value"] == {
            "status": "degraded",
            "interpolatedPoints": 2,
            "reason": "Served the last value instead.",
        }
        history = sth.last_n(
            tenant, SeriesRef(entity_type="Prediction", entity_id=entity_id, attribute="forecastSeries"), 10
        )
        assert [p.recv_time for p in history] == [BASE + timedelta(hours=h) for h in range(3)]
        assert history[-1].value["points"][1]["value"] == 2.2
        assert orion.delete_subscription(tenant, subscription_id) is True
        assert orion.delete_subscription(tenant, subscription_id) is False


def test_iot_agent_provisioning_and_devices_use_case(sandbox: Sandbox, service: str) -> None:
    tenant = FiwareTenant(service, "/")
    forecast_key = generate_api_key()
    with IotAgentClient(sandbox.iota_url) as iota:
        group = ServiceGroup(
            apikey=forecast_key,
            resource="/chronos/forecast",
            entity_type="Prediction",
            cb_host=sandbox.orion_url,
        )
        assert iota.create_group(tenant, group) is True
        assert iota.create_group(tenant, group) is False
        assert [g.cb_host for g in iota.list_groups(tenant)] == [sandbox.orion_url]
        for i in range(5):
            created = iota.create_device(
                tenant,
                IotDevice(
                    device_id=f"meter{i}",
                    entity_name=f"urn:Meter:{i}",
                    entity_type="Meter" if i % 2 else "Room",
                    attributes=[IotAttribute(object_id="p", name="power", type="Number")],
                ),
            )
            assert created is True
        assert iota.create_device(tenant, IotDevice(device_id="meter0")) is False
        assert (
            iota.create_device(tenant, IotDevice(device_id="fc1", apikey=forecast_key, entity_name="urn:P:1"))
            is True
        )
        page = iota.list_devices(tenant, limit=2, offset=0)
        assert page.count == 6 and len(page.devices) == 2
        assert len(list(iota.iter_devices(tenant, page_size=2))) == 6
        result = list_devices(iota, tenant, page_size=2)
        assert result.total == 5
        assert {g.entity_type: len(g.entities) for g in result.devices} == {"Meter": 2, "Room": 3}
        assert iota.delete_device(tenant, "meter0") is True
        assert iota.delete_device(tenant, "meter0") is False
        assert iota.delete_group(tenant, "/chronos/forecast", forecast_key, delete_devices=True) is True
        assert iota.list_devices(tenant).count == 4


def test_seed_cli_csv_and_taylor(sandbox: Sandbox, service: str, tmp_path: Path) -> None:
    if sandbox.database is None or sandbox.mongodb_uri is None:
        pytest.skip("the seed CLI writes into the sandbox database, unknown for an external sandbox")
    csv_file = tmp_path / "series.csv"
    csv_file.write_text(
        "timestamp,value\n" + "".join(f"2024-02-01T00:{m:02d}:00Z,{m * 1.5}\n" for m in range(60))
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}{os.pathsep}{ROOT}"}
    common = ["--mongodb-uri", sandbox.mongodb_uri, "--database", sandbox.database, "--service", service]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "local.fiware_sandbox",
            "seed",
            "--csv",
            str(csv_file),
            "--entity-type",
            "Room",
            "--entity-id",
            "Room1",
            "--attr",
            "temperature",
            *common,
        ],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
    )
    tenant = FiwareTenant(service, "/")
    with SthCometClient(sandbox.sth_url) as sth:
        points = sth.fetch_all(
            tenant, SeriesRef(entity_type="Room", entity_id="Room1", attribute="temperature")
        )
    assert [p.as_float() for p in points] == [m * 1.5 for m in range(60)]
    assert all(
        timedelta(0)
        < p.recv_time - (datetime(2024, 2, 1, tzinfo=UTC) + timedelta(minutes=m))
        < timedelta(seconds=1)
        for m, p in enumerate(points)
    )
    import pmdarima  # noqa: F401  (installed by requirements-dev.txt; must not be skipped)

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "local.fiware_sandbox",
            "seed",
            "--taylor",
            "--entity-type",
            "ElectricityMeter",
            "--entity-id",
            "urn:ngsi-ld:ElectricityMeter:taylor",
            "--attr",
            "demand",
            "--register-device",
            *common,
        ],
        check=True,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert "seeded 4032 points" in done.stdout
    series = SeriesRef(
        entity_type="ElectricityMeter", entity_id="urn:ngsi-ld:ElectricityMeter:taylor", attribute="demand"
    )
    with SthCometClient(sandbox.sth_url) as sth, IotAgentClient(sandbox.iota_url) as iota:
        assert sth.count(tenant, series) == 4032
        assert sth.last_n(tenant, series, 1)[0].recv_time.date() == datetime(2000, 8, 27).date()
        devices = list_devices(iota, tenant)
    assert [g.entity_type for g in devices.devices] == ["ElectricityMeter"]
    assert devices.devices[0].entities[0].attributes[0].name == "demand"
