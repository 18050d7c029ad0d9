"""The deployed stack pointed at FIWARE it did not start: a second sandbox on free ports stands in
for real FIWARE, named by ``CHRONOS_STH_URL``, ``CHRONOS_ORION_URL`` and ``CHRONOS_IOT_AGENT_URL``
and deployed with ``local/stack.py deploy``, as a user would. The functions must then find a device
that only the second sandbox has and probe its three components; afterwards the stack is
redeployed exactly as it was found (the same endpoints, which of them external) and the second
sandbox stopped, since the other end-to-end tests run after this one.

Slow: two ``sam build`` + ``sam deploy`` rounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.fiware_sandbox.testing import Sandbox, start_sandbox
from tests.e2e.conftest import STACK_FILE, SandboxControl, SandboxUnavailableError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
# component, its URL variable, its stack.json key, the sandbox's port variable
COMPONENTS = (
    ("sth", "CHRONOS_STH_URL", "SthUrl", "CHRONOS_SANDBOX_STH_PORT"),
    ("orion", "CHRONOS_ORION_URL", "OrionUrl", "CHRONOS_SANDBOX_ORION_PORT"),
    ("iota", "CHRONOS_IOT_AGENT_URL", "IotAgentUrl", "CHRONOS_SANDBOX_IOTA_PORT"),
)


def deploy(settings: dict[str, str | None]) -> dict[str, Any]:
    """``local/stack.py deploy`` with ``settings`` over this environment (None unsets); the outputs."""
    env = dict(os.environ)
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    subprocess.run(
        [sys.executable, str(ROOT / "local" / "stack.py"), "deploy"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=1200,
    )
    outputs: dict[str, Any] = json.loads(STACK_FILE.read_text())
    return outputs


def settings_of(outputs: dict[str, Any]) -> dict[str, str | None]:
    """The variables that make ``deploy`` pass the endpoints of ``outputs`` again, each FIWARE
    component external or the sandbox's as it was."""
    external = outputs.get("FiwareExternal", [])
    settings: dict[str, str | None] = {
        "MONGODB_URI": outputs["MongoDbUri"],
        "CHRONOS_MONGODB_DATABASE": outputs["MongoDbDatabase"],
        "CHRONOS_LOCALSTACK_PORT": outputs["LocalStackUrl"].rsplit(":", 1)[1],
    }
    for name, url_variable, key, port_variable in COMPONENTS:
        if name in external:
            settings[url_variable] = outputs[key]
        else:
            settings[url_variable] = None
            settings[port_variable] = outputs[key].rsplit(":", 1)[1]
    return settings


def settings_for(sandbox: Sandbox, outputs: dict[str, Any]) -> dict[str, str | None]:
    return {
        **settings_of(outputs),
        "CHRONOS_STH_URL": sandbox.sth_url,
        "CHRONOS_ORION_URL": sandbox.orion_url,
        "CHRONOS_IOT_AGENT_URL": sandbox.iota_url,
    }


def eventually[T](probe: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(1)


def fiware_endpoints(api: httpx.Client) -> dict[str, str]:
    configuration = api.get("/info").json()["configuration"]
    endpoints = configuration["endpoints"]
    return {"sth": endpoints["sth"], "orion": endpoints["orion"], "iota": endpoints["iot_agent"]}


def register_device(sandbox: Sandbox, service: str) -> None:
    headers = {"fiware-service": service, "fiware-servicepath": "/external"}
    device = {
        "device_id": "meter1",
        "entity_name": "urn:ngsi-ld:ElectricityMeter:external1",
        "entity_type": "ElectricityMeter",
        "attributes": [{"object_id": "d", "name": "demand", "type": "Number"}],
    }
    created = httpx.post(
        f"{sandbox.iota_url}/iot/devices", json={"devices": [device]}, headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text


def check_the_functions_use(
    second: Sandbox, deployed: dict[str, Any], api: httpx.Client, stack: dict[str, Any], service: str
) -> None:
    assert deployed["SthUrl"] == second.sth_url
    assert deployed["OrionUrl"] == second.orion_url
    assert deployed["IotAgentUrl"] == second.iota_url
    assert deployed["FiwareExternal"] == ["orion", "sth", "iota"] and deployed["FiwareSandbox"] == []
    assert deployed["ApiUrl"] == stack["ApiUrl"], "the redeploy replaced the API"
    # The e2e tooling refuses the sandbox control API of an external STH.
    with pytest.raises(SandboxUnavailableError, match="is external"):
        SandboxControl.for_stack(deployed)

    wanted = {"sth": second.sth_url, "orion": second.orion_url, "iota": second.iota_url}
    eventually(lambda: fiware_endpoints(api) == wanted, "the functions did not get the new URLs")

    devices = api.get("/devices/", params={"service": service, "servicepath": "/external"})
    assert devices.status_code == 200, devices.text
    assert devices.json()["total"] == 1
    [group] = devices.json()["devices"]
    assert group["entity_type"] == "ElectricityMeter"
    assert [e["entity_name"] for e in group["entities"]] == ["urn:ngsi-ld:ElectricityMeter:external1"]

    since = second.last_seq()

    def probed_all_three() -> dict[str, Any] | None:
        health = api.get("/health")
        seen = {r["component"] for r in second.requests(since=since)}
        return dict(health.json()) if {"sth", "orion", "iota"} <= seen else None

    health = eventually(probed_all_three, "/health did not probe the second sandbox's components")
    status = {d["name"]: d["status"] for d in health["dependencies"]}
    assert status["orion"] == status["sth_comet"] == status["iot_agent"] == "up", health
    paths = {(r["component"], r["path"]) for r in second.requests(since=since, method="GET")}
    assert {("sth", "/version"), ("orion", "/version"), ("iota", "/iot/about")} <= paths


def test_the_stack_talks_to_the_fiware_its_urls_name(api: httpx.Client, stack: dict[str, Any]) -> None:
    original = json.loads(STACK_FILE.read_text())
    restore = settings_of(original)
    service = f"ext{uuid.uuid4().hex[:8]}"
    second = start_sandbox(original["MongoDbUri"])
    try:
        register_device(second, service)  # only the second sandbox knows this tenant
        try:
            deployed = deploy(settings_for(second, original))
            check_the_functions_use(second, deployed, api, stack, service)
        finally:
            try:
                restored = deploy(restore)
            except BaseException:
                STACK_FILE.write_text(json.dumps(original, indent=2))  # the tooling at least points back
                raise
            stack.update(restored)  # the session's copy, for the tests that follow
    finally:
        second.stop()

    for key in ("SthUrl", "OrionUrl", "IotAgentUrl", "MongoDbUri", "ApiUrl"):
        assert restored[key] == original[key], key
    assert restored.get("FiwareExternal", []) == original.get("FiwareExternal", [])
    back = {"sth": original["SthUrl"], "orion": original["OrionUrl"], "iota": original["IotAgentUrl"]}
    eventually(lambda: fiware_endpoints(api) == back, "the functions did not get their URLs back")
    # The stack's own FIWARE never had this tenant.
    assert api.get("/devices/", params={"service": service, "servicepath": "/external"}).json()["total"] == 0
