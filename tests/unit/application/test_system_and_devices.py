"""Authentication, health and device discovery use cases over the fakes."""

from __future__ import annotations

import pytest

from chronos_core.application.devices.listing import ListDevices, list_devices_by_entity_type
from chronos_core.application.system.auth import Authenticate, authenticate
from chronos_core.application.system.health import HealthCache, system_health
from chronos_core.domain.auth import Role
from chronos_core.domain.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from chronos_core.domain.fiware import FiwareTenant
from tests.support.auth import token
from tests.support.builders import principal
from tests.support.fakes import (
    FakeAttribute,
    FakeDevice,
    FakeDeviceDirectory,
    FakeGroup,
    FakeProbe,
    InMemoryFailureCounter,
    fake_services,
)


def test_a_valid_token_is_the_principal_and_failures_are_counted_per_client() -> None:
    counter = InMemoryFailureCounter()
    services = fake_services(auth_failures=counter)
    caller = authenticate(
        services, Authenticate(authorization=f"Bearer {token(['reader'], ['energy'])}", client="a")
    )
    assert caller.tenants == frozenset({"energy"})
    assert caller.has_role(Role.READER) and not caller.has_role(Role.OPERATOR)
    for header in (None, "Basic abc", "Bearer ", "Bearer not-a-jwt"):
        with pytest.raises(AuthenticationError):
            authenticate(services, Authenticate(authorization=header, client="a"))
    assert counter.counts == {"a": 4}


def test_a_client_over_the_threshold_is_rate_limited_but_a_valid_token_never_is() -> None:
    counter = InMemoryFailureCounter(window_seconds=42)
    services = fake_services(auth_failures=counter)
    for _ in range(10):  # the threshold's worth of failures: each answered 401
        with pytest.raises(AuthenticationError):
            authenticate(services, Authenticate(authorization="Bearer bad", client="a"))
    with pytest.raises(RateLimitedError) as raised:
        authenticate(services, Authenticate(authorization="Bearer bad", client="a"))
    assert raised.value.retry_after == 42
    # The same address with a valid token (a NAT, the dashboard's backend): accepted, not counted.
    caller = authenticate(services, Authenticate(authorization=f"Bearer {token()}", client="a"))
    assert caller.subject == "tester" and counter.counts["a"] == 11


def test_health_is_down_only_when_a_required_dependency_is_and_is_cached() -> None:
    mongo, orion = FakeProbe("mongodb"), FakeProbe("orion", status="down", required=False)
    cached = fake_services(health_probes=[mongo, orion], health_cache=HealthCache(ttl_seconds=60))
    assert system_health(cached).status == "degraded"
    assert system_health(cached).healthy and (mongo.calls, orion.calls) == (1, 1)
    down = fake_services(health_probes=[FakeProbe("mongodb", status="down")])
    assert system_health(down).status == "down" and not system_health(down).healthy


def test_devices_are_grouped_by_entity_type_without_chronos_forecast_devices() -> None:
    directory = FakeDeviceDirectory(
        devices=[
            FakeDevice(
                "m2", entity_name="urn:Meter:2", entity_type="Meter", attributes=(FakeAttribute("power"),)
            ),
            FakeDevice("m1", entity_name="urn:Meter:1", apikey="meters"),  # type from its group
            FakeDevice("t1"),  # no type anywhere: Thing, default entity name
            FakeDevice("f1", apikey="forecast-key"),  # a Chronos forecast device (by group)
            FakeDevice("f2", entity_type="Prediction"),  # a Chronos forecast device (by type)
        ],
        groups=[
            FakeGroup("meters", "/iot/json", "Meter"),
            FakeGroup("forecast-key", "/chronos/forecast", "Prediction"),
        ],
    )
    services = fake_services(devices=directory)
    listing = list_devices_by_entity_type(services, ListDevices(principal=principal(), service="Energy"))
    assert listing.total == 3 and listing.service == "energy" and listing.servicepath == "/"
    assert [(g.entity_type, [e.entity_name for e in g.entities]) for g in listing.devices] == [
        ("Meter", ["urn:Meter:1", "urn:Meter:2"]),
        ("Thing", ["Thing:t1"]),
    ]
    assert listing.devices[0].entities[1].attributes[0].name == "power"
    assert directory.tenants == [FiwareTenant("energy", "/")]


def test_devices_of_a_tenant_the_caller_does_not_hold_are_forbidden() -> None:
    with pytest.raises(PermissionDeniedError):
        list_devices_by_entity_type(
            fake_services(), ListDevices(principal=principal(tenants=frozenset({"water"})), service="energy")
        )
