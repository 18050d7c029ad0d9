"""End-to-end fixtures: the stack deployed into LocalStack by `local/stack.py deploy`."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.auth import token

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = ROOT / ".local" / "stack.json"
JWT_SECRET_FILE = ROOT / ".local" / "jwt-secret"


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    """Outputs of the deployed stack; fails when nothing is deployed."""
    if not STACK_FILE.exists() or not JWT_SECRET_FILE.exists():
        pytest.fail("The stack is not deployed: run `make test` (or local/stack.py up && deploy)")
    return json.loads(STACK_FILE.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def local_token() -> Any:
    """Mint tokens signed with the deployed stack's secret (the one stored in its SSM)."""
    return functools.partial(token, secret=JWT_SECRET_FILE.read_text().strip(), subject="e2e")


@pytest.fixture(scope="session")
def api(stack: dict[str, Any], local_token: Any) -> Iterator[httpx.Client]:
    """An HTTP client on the API Gateway stage in LocalStack, authenticated as an all-tenant admin."""
    headers = {"Authorization": f"Bearer {local_token()}"}
    with httpx.Client(base_url=stack["ApiUrl"].rstrip("/"), timeout=60, headers=headers) as client:
        yield client


class SandboxUnavailableError(RuntimeError):
    """The deployed stack's STH-Comet is real FIWARE: there is no ``/_sandbox`` control API."""


class SandboxControl:
    """Fault injection, request log and seeding of the FIWARE sandbox the stack points at.

    Its control API is the sandbox's ``/_sandbox`` on the STH port, so it needs the stack's STH to be
    the sandbox's (:meth:`for_stack` checks); ``external`` names the components that are real FIWARE,
    which the sandbox's faults cannot reach (``orion_down`` / ``iot_agent_down`` then skip the test).
    """

    def __init__(self, sth_url: str, external: Sequence[str] = ()) -> None:
        self._http = httpx.Client(base_url=sth_url, timeout=30)
        self.external = frozenset(external)

    @classmethod
    def for_stack(cls, stack: dict[str, Any]) -> SandboxControl:
        """The control of the sandbox serving the deployed stack's STH; raises
        :class:`SandboxUnavailableError` when that STH is external (``CHRONOS_STH_URL``)."""
        external = list(stack.get("FiwareExternal", []))
        if "sth" in external:
            raise SandboxUnavailableError(
                f"the deployed stack's STH-Comet {stack['SthUrl']} is external (CHRONOS_STH_URL): it has no "
                "/_sandbox control API, so seeding STH, fault injection and the request log need the "
                "sandbox's STH (deploy without CHRONOS_STH_URL)"
            )
        return cls(stack["SthUrl"], external)

    def faults(self, **config: Any) -> None:
        for fault, component in (("orion_down", "orion"), ("iot_agent_down", "iota")):
            if config.get(fault) and component in self.external:
                pytest.skip(f"{fault}: the stack's {component} is external, the sandbox cannot fail it")
        self._http.post("/_sandbox/faults", json=config).raise_for_status()

    def clear_faults(self) -> None:
        self._http.delete("/_sandbox/faults").raise_for_status()

    def sth_stats(self) -> dict[str, Any]:
        """The sandbox STH's raw-data query counters (requests seen, abandoned, peaks)."""
        response = self._http.get("/_sandbox/sth/stats")
        response.raise_for_status()
        return dict(response.json())

    def reset_sth_stats(self) -> None:
        self._http.delete("/_sandbox/sth/stats").raise_for_status()

    def clear_requests(self) -> None:
        self._http.delete("/_sandbox/requests").raise_for_status()

    def requests(self, component: str = "sth") -> list[dict[str, Any]]:
        response = self._http.get("/_sandbox/requests", params={"component": component, "limit": 100000})
        response.raise_for_status()
        return list(response.json()["requests"])

    @staticmethod
    def seeded_time(index: int, interval_seconds: float = 1800.0, start: datetime | None = None) -> datetime:
        """The reception time :meth:`seed` gives the point at ``index`` (from ``start``, by
        default 2024-01-01)."""
        return (start or datetime(2024, 1, 1, tzinfo=UTC)) + timedelta(
            seconds=index * interval_seconds, milliseconds=137
        )

    def seed(
        self,
        *,
        service: str,
        servicepath: str,
        entity_type: str,
        entity_id: str,
        attr: str,
        values: list[float],
        interval_seconds: float = 1800.0,
        skip: Collection[int] = (),
        start: datetime | None = None,
    ) -> None:
        """Replace the attribute's history with ``values`` at :meth:`seeded_time`; the readings
        whose index is in ``skip`` are left out (dropped readings)."""
        points = [
            {
                "recvTime": self.seeded_time(i, interval_seconds, start).isoformat().replace("+00:00", "Z"),
                "attrValue": str(value),
            }
            for i, value in enumerate(values)
            if i not in skip
        ]
        response = self._http.post(
            "/_sandbox/sth/seed",
            json={
                "service": service,
                "servicepath": servicepath,
                "entity_id": entity_id,
                "entity_type": entity_type,
                "attr_name": attr,
                "attr_type": "Number",
                "points": points,
                "replace": True,
            },
        )
        response.raise_for_status()


@pytest.fixture(scope="session")
def sandbox(stack: dict[str, Any]) -> Iterator[SandboxControl]:
    """The sandbox's control API; skips the tests that need it when the stack's STH is external."""
    try:
        control = SandboxControl.for_stack(stack)
    except SandboxUnavailableError as exc:
        pytest.skip(str(exc))
    control.clear_faults()
    yield control
    control.clear_faults()


@pytest.fixture
def no_faults(sandbox: SandboxControl) -> Iterator[None]:
    """The sandbox without faults before and after the test."""
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


# The dashboard's browser fixtures (dev IdP, headless chromium, a page per test).
from tests.e2e.dashboard_support import browser, dev_idp, page  # noqa: E402, F401
