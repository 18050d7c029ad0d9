"""Client behaviour against hand-written responses (httpx.MockTransport)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronos_core.adapters.fiware import (
    FiwareConflictError,
    FiwareProtocolError,
    IotAgentClient,
    IotDevice,
    OrionClient,
    RetryPolicy,
    ServiceGroup,
    SthCometClient,
    notification_subscription,
)
from chronos_core.adapters.fiware.health import HealthStatus, check_fiware, probe_orion
from chronos_core.application.devices.listing import ListDevices, list_devices_by_entity_type
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.config import Settings
from chronos_core.domain.auth import Principal, Role
from chronos_core.domain.errors import PermissionDeniedError, ValidationError
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.forecasting import ForecastPoint, ForecastQuality, ForecastSeries

TENANT = FiwareTenant("smart", "/")
SERIES = SeriesRef(entity_type="Room", entity_id="Room1", attribute="temperature")
FAST = RetryPolicy(max_attempts=2, initial_delay=0, max_delay=0)


def points(n: int, start: int = 0) -> list[dict[str, Any]]:
    """Raw points shaped as real STH-Comet 2.11 returns them (``_id`` and ``attrName`` included)."""
    base = datetime(2024, 3, 1, tzinfo=UTC)
    return [
        {
            "_id": f"65e1a8c0f1d2c3b4{i:08x}",
            "recvTime": (base + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
            "attrName": "temperature",
            "attrType": "Number",
            "attrValue": str(i) if i % 2 else i,
        }
        for i in range(start, start + n)
    ]


class FakeSth:
    """Serves ``total`` points with STH's raw-mode rules; records requests."""

    def __init__(self, total: int) -> None:
        self.data = points(total)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        q = request.url.params
        assert request.headers["fiware-service"] == "smart" and request.headers["fiware-servicepath"] == "/"
        if "lastN" in q:
            n = int(q["lastN"])
            assert 1 <= n <= 100
            body = self.data[-n:]
        else:
            limit, offset = int(q["hLimit"]), int(q["hOffset"])
            assert 1 <= limit <= 100
            body = self.data[offset : offset + limit]
        headers = {"Fiware-Total-Count": str(len(self.data))} if q.get("count") == "true" else {}
        return httpx.Response(200, json={"type": "StructuredValue", "value": body}, headers=headers)


def test_sth_points_parse_strings_numbers_and_utc() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        value = [
            {"recvTime": "2024-03-01T12:00:00.000+02:00", "attrType": "Number", "attrValue": "21.5"},
            {"recvTime": "2024-03-01T10:01:00.000Z", "attrType": "Number", "attrValue": 21},
            {"recvTime": "2024-03-01T10:02:00Z", "attrType": "Text", "attrValue": "n/a"},
            {"recvTime": "2024-03-01T10:03:00Z", "attrType": "StructuredValue", "attrValue": {"a": 1}},
        ]
        return httpx.Response(200, json={"type": "StructuredValue", "value": value})

    client = SthCometClient("http://sth", transport=httpx.MockTransport(handler))
    result = client.last_n(TENANT, SERIES, 4)
    assert result[0].recv_time == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert result[0].recv_time.tzinfo is UTC
    assert [p.as_float() for p in result] == [21.5, 21.0, None, None]
    assert result[3].value == {"a": 1}


def test_sth_points_tolerate_the_fields_real_sth_adds() -> None:
    """Real STH returns every stored field: ``_id`` (ObjectId hex) and ``attrName`` as well."""

    def handler(request: httpx.Request) -> httpx.Response:
        value = [
            {
                "_id": "65e1a8c0f1d2c3b4a5968701",
                "recvTime": "2024-03-01T10:00:00.000Z",
                "attrName": "temperature",
                "attrType": "Number",
                "attrValue": 11,
            }
        ]
        return httpx.Response(200, json={"type": "StructuredValue", "value": value})

    client = SthCometClient("http://sth", transport=httpx.MockTransport(handler))
    (point,) = client.last_n(TENANT, SERIES, 1)
    assert point.recv_time == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert (point.attr_type, point.value, point.as_float()) == ("Number", 11, 11.0)


def test_sth_request_shape_v2_and_count_header_case_insensitive() -> None:
    fake = FakeSth(250)
    client = SthCometClient("http://sth", transport=httpx.MockTransport(fake))
    assert client.count(TENANT, SERIES) == 250
    request = fake.requests[-1]
    assert request.url.path == "/STH/v2/entities/Room1/attrs/temperature"
    assert dict(request.url.params) == {"hLimit": "1", "hOffset": "0", "type": "Room", "count": "true"}


def test_sth_missing_count_header_is_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"type": "StructuredValue", "value": []})

    client = SthCometClient("http://sth", transport=httpx.MockTransport(handler))
    with pytest.raises(FiwareProtocolError):
        client.count(TENANT, SERIES)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_sth_fetch_all_pages_exactly_once_in_order(concurrency: int) -> None:
    fake = FakeSth(1234)
    client = SthCometClient("http://sth", transport=httpx.MockTransport(fake), max_concurrency=concurrency)
    result = client.fetch_all(TENANT, SERIES)
    assert [p.as_float() for p in result] == [float(i) for i in range(1234)]
    offsets = sorted(int(r.url.params["hOffset"]) for r in fake.requests)
    assert offsets == list(range(0, 1234, 100))


def test_sth_fetch_range_and_last_n_above_page_size() -> None:
    fake = FakeSth(1000)
    client = SthCometClient("http://sth", transport=httpx.MockTransport(fake), page_size=64)
    chunk = client.fetch_range(TENANT, SERIES, 130, 200, concurrency=3)
    assert [p.as_float() for p in chunk] == [float(i) for i in range(130, 330)]
    tail = client.last_n(TENANT, SERIES, 150)
    assert [p.as_float() for p in tail] == [float(i) for i in range(850, 1000)]
    assert all("lastN" not in r.url.params or int(r.url.params["lastN"]) <= 64 for r in fake.requests)


def test_sth_v1_shape() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path.startswith(
            b"/STH/v1/contextEntities/type/Room/id/Room%231/attributes/temperature?"
        )
        assert "type" not in request.url.params
        body = {
            "contextResponses": [
                {
                    "contextElement": {
                        "attributes": [{"name": "temperature", "values": points(2)}],
                        "id": "Room#1",
                        "isPattern": False,
                        "type": "Room",
                    },
                    "statusCode": {"code": "200", "reasonPhrase": "OK"},
                }
            ]
        }
        return httpx.Response(200, json=body, headers={"fiware-total-count": "2"})

    client = SthCometClient("http://sth", api_version="v1", transport=httpx.MockTransport(handler))
    page = client.fetch_page(
        TENANT,
        SeriesRef(entity_type="Room", entity_id="Room#1", attribute="temperature"),
        0,
        100,
        with_count=True,
    )
    assert page.total_count == 2 and len(page.points) == 2


def test_sth_rejects_page_sizes_outside_its_configurable_range() -> None:
    with pytest.raises(ValueError):
        SthCometClient("http://sth", page_size=10_001)
    with pytest.raises(ValueError):
        SthCometClient("http://sth", page_size=0)
    client = SthCometClient("http://sth", transport=httpx.MockTransport(FakeSth(1)))
    with pytest.raises(ValidationError):
        client.fetch_page(TENANT, SERIES, 0, 101)
    with pytest.raises(ValidationError):
        client.last_n(TENANT, SERIES, 0)


# ------------------------------------------------------------------------------------------ Orion


class Recorder:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def test_orion_upsert_forecast_payload() -> None:
    recorder = Recorder(httpx.Response(204))
    client = OrionClient("http://orion", transport=httpx.MockTransport(recorder))
    generated = datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    series = ForecastSeries(
        generated_at=generated,
        horizon=2,
        points=[
            ForecastPoint(step=1, value=1.5, target_timestamp=generated + timedelta(hours=1)),
            ForecastPoint(step=2, value=2.5, target_timestamp=generated + timedelta(hours=2)),
        ],
        quality=ForecastQuality(status="interpolated", interpolated_points=2),
    )
    client.upsert_forecast(
        FiwareTenant("Energy", "/demo"),
        "urn:Prediction:1",
        "Prediction",
        source_entity_id="urn:Meter:1",
        feature="demand",
        series=series,
        extra_attributes={"modelId": "m-1", "score": 0.5},
    )
    request = recorder.requests[0]
    assert request.method == "POST" and request.url.path == "/v2/entities"
    assert request.url.params["options"] == "upsert"
    assert request.headers["fiware-service"] == "energy" and request.headers["fiware-servicepath"] == "/demo"
    body = json.loads(request.content)
    forecast = body["forecastSeries"]
    assert forecast["type"] == "StructuredValue"
    assert forecast["metadata"] == {"TimeInstant": {"type": "DateTime", "value": "2024-03-01T10:00:00.123Z"}}
    assert forecast["value"]["points"][1] == {
        "step": 2,
        "value": 2.5,
        "targetTimestamp": "2024-03-01T12:00:00.123Z",
    }
    assert body["sourceEntity"] == {"type": "Relationship", "value": "urn:Meter:1"}
    assert body["feature"] == {"type": "Text", "value": "demand"}
    assert body["forecastQuality"]["value"] == {"status": "interpolated", "interpolatedPoints": 2}
    assert body["modelId"] == {"type": "Text", "value": "m-1"} and body["score"]["type"] == "Number"


def test_orion_validates_before_sending() -> None:
    recorder = Recorder()
    client = OrionClient("http://orion", transport=httpx.MockTransport(recorder))
    with pytest.raises(ValidationError):
        client.upsert_entity(TENANT, {"id": "a/b", "type": "T"})
    with pytest.raises(ValidationError):
        client.get_entity(TENANT, "../v2/subscriptions")
    with pytest.raises(ValidationError):
        client.upsert_entity(TENANT, {"id": "a", "type": "T", "x": {"type": "Text", "value": "<script>"}})
    assert recorder.requests == []


def test_orion_upsert_expects_204_and_create_201() -> None:
    client = OrionClient(
        "http://orion",
        retry=FAST,
        transport=httpx.MockTransport(
            Recorder(
                httpx.Response(201),
                httpx.Response(422, json={"error": "Unprocessable", "description": "Already Exists"}),
            )
        ),
    )
    with pytest.raises(FiwareProtocolError):
        client.upsert_entity(TENANT, {"id": "a", "type": "T"})
    with pytest.raises(FiwareConflictError):
        client.create_entity(TENANT, {"id": "a", "type": "T"})


def test_orion_subscription_id_from_location() -> None:
    recorder = Recorder(
        httpx.Response(201, headers={"Location": "/v2/subscriptions/65f1c0ffee0000000000abcd"}),
        httpx.Response(201),
        httpx.Response(204),
        httpx.Response(404, json={"error": "NotFound", "description": "x"}),
    )
    client = OrionClient("http://orion", transport=httpx.MockTransport(recorder))
    subscription = notification_subscription("urn:P:1", "Prediction", "http://sth:8666/notify")
    assert client.create_subscription(TENANT, subscription) == "65f1c0ffee0000000000abcd"
    with pytest.raises(FiwareProtocolError):
        client.create_subscription(TENANT, subscription)
    assert client.delete_subscription(TENANT, "65f1c0ffee0000000000abcd") is True
    assert client.delete_subscription(TENANT, "65f1c0ffee0000000000abcd") is False
    assert subscription["notification"]["attrsFormat"] == "legacy"
    with pytest.raises(ValidationError):
        client.create_subscription(TENANT, {"subject": {"entities": []}, "notification": {}})


# -------------------------------------------------------------------------------------- IoT Agent


@dataclass
class DevicesDeps:
    """What the device listing needs: the IoT Agent client and the forecast settings."""

    devices: IotAgentClient
    forecast_settings: ForecastSettings = field(default_factory=ForecastSettings)


def device(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "device_id": f"d{i}",
        "entity_name": f"Sensor:d{i}",
        "entity_type": "Sensor",
        "service": "smart",
        "service_path": "/",
        "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        **extra,
    }


def test_iot_agent_iterates_pages_against_total_count() -> None:
    all_devices = [device(i) for i in range(7)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/iot/groups":
            return httpx.Response(200, json={"count": 0, "groups": []})
        limit, offset = int(request.url.params["limit"]), int(request.url.params["offset"])
        return httpx.Response(200, json={"count": 7, "devices": all_devices[offset : offset + limit]})

    client = IotAgentClient("http://iota", transport=httpx.MockTransport(handler))
    assert [d.device_id for d in client.iter_devices(TENANT, page_size=3)] == [f"d{i}" for i in range(7)]


def test_iot_agent_duplicates_are_already_there() -> None:
    recorder = Recorder(
        httpx.Response(201, json={}),
        httpx.Response(409, json={"name": "DUPLICATE_GROUP", "message": "x"}),
        httpx.Response(409, json={"name": "DUPLICATE_DEVICE_ID", "message": "x"}),
        httpx.Response(409, json={"name": "DUPLICATE_DEVICE_ID", "message": "x"}),
    )
    client = IotAgentClient("http://iota", transport=httpx.MockTransport(recorder))
    group = ServiceGroup(
        apikey="k", resource="/chronos/forecast", entity_type="Prediction", cb_host="http://orion:1026"
    )
    assert client.create_group(TENANT, group) is True
    assert json.loads(recorder.requests[0].content) == {
        "groups": [
            {
                "apikey": "k",
                "resource": "/chronos/forecast",
                "entity_type": "Prediction",
                "cbHost": "http://orion:1026",
            }
        ]
    }
    assert client.create_group(TENANT, group) is False
    assert client.create_device(TENANT, IotDevice(device_id="d1")) is False
    with pytest.raises(FiwareConflictError):
        client.create_device(TENANT, IotDevice(device_id="d1"), exist_ok=False)
    with pytest.raises(ValidationError):
        client.create_group(TENANT, {"apikey": "k", "resource": "/r", "cbroker": "http://x"})


def test_devices_grouped_by_entity_type_without_forecast_devices() -> None:
    all_devices = [
        device(1),
        device(2, entity_type="Meter", entity_name="urn:Meter:2"),
        device(3, apikey="forecast-key", entity_type="Whatever"),
        device(4, entity_type="Prediction"),
        {"device_id": "d5", "apikey": "group-key", "attributes": []},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/iot/groups":
            return httpx.Response(
                200,
                json={
                    "count": 2,
                    "groups": [
                        {
                            "apikey": "forecast-key",
                            "resource": "/chronos/forecast",
                            "entity_type": "Prediction",
                        },
                        {"apikey": "group-key", "resource": "/iot/json", "entity_type": "Lamp"},
                    ],
                },
            )
        return httpx.Response(200, json={"count": len(all_devices), "devices": all_devices})

    client = IotAgentClient("http://iota", transport=httpx.MockTransport(handler))
    deps = DevicesDeps(devices=client)
    reader = Principal(subject="u", roles=frozenset({Role.READER}), tenants=frozenset({"smart"}))
    result = list_devices_by_entity_type(
        deps, ListDevices(principal=reader, service="smart", servicepath="/")
    )
    assert result.total == 3
    assert [group.entity_type for group in result.devices] == ["Lamp", "Meter", "Sensor"]
    lamp, meter, sensor = result.devices
    assert lamp.entities[0].entity_name == "Lamp:d5"
    assert meter.entities[0].entity_name == "urn:Meter:2"
    assert sensor.entities[0].attributes[0].name == "temperature"
    stranger = Principal(subject="v", roles=frozenset({Role.READER}), tenants=frozenset({"other"}))
    with pytest.raises(PermissionDeniedError):
        list_devices_by_entity_type(deps, ListDevices(principal=stranger, service="smart"))


# ----------------------------------------------------------------------------------------- health


def test_health_probes_classify_statuses() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "orion":
            return httpx.Response(200, json={"orion": {"version": "3.12.0"}})
        if host == "sth":
            return httpx.Response(503, text="down <html>")
        raise httpx.ConnectError("refused", request=request)

    settings = Settings(
        orion_url="http://orion:1026", sth_url="http://sth:8666", iot_agent_url="http://user:pw@iota:4041"
    )
    orion, sth, iota = check_fiware(settings, transport=httpx.MockTransport(handler))
    assert (orion.name, orion.status, orion.details["version"]) == ("orion", HealthStatus.UP, "3.12.0")
    assert orion.latency_ms is not None
    assert sth.status == HealthStatus.DOWN and "html" not in sth.message
    assert iota.status == HealthStatus.DOWN and "pw" not in json.dumps(iota.details)
    degraded = probe_orion("http://orion", transport=httpx.MockTransport(lambda r: httpx.Response(404)))
    assert degraded.status == HealthStatus.DEGRADED
    assert probe_orion(None).status == HealthStatus.UNKNOWN


def test_access_token_is_sent_to_every_component() -> None:
    """A FIWARE deployment behind a PEP proxy gets the configured token as X-Auth-Token."""
    import httpx

    from chronos_core.adapters.fiware import IotAgentClient, OrionClient, SthCometClient
    from chronos_core.domain.fiware import FiwareTenant, SeriesRef

    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-auth-token"))
        if request.url.path.startswith("/STH/"):
            return httpx.Response(
                200, json={"type": "StructuredValue", "value": []}, headers={"fiware-total-count": "0"}
            )
        return httpx.Response(200, json={"count": 0, "devices": [], "orion": {"version": "3.12.0"}})

    transport = httpx.MockTransport(handler)
    tenant = FiwareTenant("smart", "/")
    SthCometClient("http://sth", transport=transport, auth_token="secret-1").count(
        tenant, SeriesRef(entity_type="T", entity_id="e", attribute="a")
    )
    OrionClient("http://orion", transport=transport, auth_token="secret-1").version()
    IotAgentClient("http://iota", transport=transport, auth_token="secret-1").list_devices(tenant)
    OrionClient("http://orion", transport=transport).version()
    assert seen == ["secret-1", "secret-1", "secret-1", None]
