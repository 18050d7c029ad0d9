"""Health probes for the three FIWARE dependencies (for ``GET /health``).

Each probe makes **one** request (no retries, the health timeout) to the component's version
route, which needs no tenant headers:

* Orion ``GET /version`` → ``{"orion": {"version": ...}}``;
* STH-Comet ``GET /version`` → ``{"version": ...}``;
* IoT Agent ``GET /iot/about`` → ``{"version": ..., "libVersion": ...}``.

Status: 2xx → ``up``; 4xx → ``degraded``; 5xx, timeout or connection failure → ``down``; no URL
configured → ``unknown``. ``latency_ms`` is the wall time of the request. Probes never raise and
never copy an upstream body into ``message``; URLs are reported without credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, Field

from chronos_core.adapters.fiware.errors import FiwareUnavailableError, FiwareUpstreamError
from chronos_core.adapters.fiware.http import FiwareHttp, RetryPolicy
from chronos_core.application.ports.health import DependencyCheck
from chronos_core.config import Settings


class HealthStatus(StrEnum):
    """Outcome of one dependency check."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


class DependencyHealth(BaseModel):
    """One dependency's health line."""

    name: str
    status: HealthStatus
    latency_ms: float | None = None
    checked_at: datetime
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _probe(
    name: str,
    base_url: str | None,
    path: str,
    version_of: Callable[[Any], str | None],
    timeout: float,
    transport: httpx.BaseTransport | None,
) -> DependencyHealth:
    checked_at = datetime.now(UTC)
    if not base_url:
        return DependencyHealth(
            name=name, status=HealthStatus.UNKNOWN, checked_at=checked_at, message="URL not configured"
        )
    details: dict[str, Any] = {"url": _safe_url(base_url) + path}
    started = time.perf_counter()
    try:
        with FiwareHttp(
            name, base_url, timeout=timeout, retry=RetryPolicy.none(), transport=transport
        ) as http:
            response = http.request("GET", path, operation="health", ok=range(200, 300))
            latency = (time.perf_counter() - started) * 1000
            details["status_code"] = response.status_code
            try:
                version = version_of(response.json())
            except (ValueError, KeyError, TypeError, AttributeError):
                version = None
            if version:
                details["version"] = version
            return DependencyHealth(
                name=name,
                status=HealthStatus.UP,
                latency_ms=round(latency, 2),
                checked_at=checked_at,
                message="ok",
                details=details,
            )
    except FiwareUpstreamError as exc:
        latency = (time.perf_counter() - started) * 1000
        details["status_code"] = exc.status_code
        status = HealthStatus.DOWN if exc.status_code >= 500 else HealthStatus.DEGRADED
        return DependencyHealth(
            name=name,
            status=status,
            latency_ms=round(latency, 2),
            checked_at=checked_at,
            message=f"HTTP {exc.status_code}",
            details=details,
        )
    except FiwareUnavailableError as exc:
        latency = (time.perf_counter() - started) * 1000
        return DependencyHealth(
            name=name,
            status=HealthStatus.DOWN,
            latency_ms=round(latency, 2),
            checked_at=checked_at,
            message=f"unreachable: {exc.reason}",
            details=details,
        )
    except ValueError as exc:  # malformed base URL
        return DependencyHealth(
            name=name,
            status=HealthStatus.DOWN,
            checked_at=checked_at,
            message=f"invalid URL: {type(exc).__name__}",
            details=details,
        )


def _orion_version(body: Any) -> str | None:
    return str(body["orion"]["version"])


def _plain_version(body: Any) -> str | None:
    return str(body["version"])


def probe_orion(
    base_url: str | None, *, timeout: float = 2.0, transport: httpx.BaseTransport | None = None
) -> DependencyHealth:
    """Probe Orion with ``GET /version`` (dependency name ``orion``)."""
    return _probe("orion", base_url, "/version", _orion_version, timeout, transport)


def probe_sth(
    base_url: str | None, *, timeout: float = 2.0, transport: httpx.BaseTransport | None = None
) -> DependencyHealth:
    """Probe STH-Comet with ``GET /version`` (dependency name ``sth_comet``)."""
    return _probe("sth_comet", base_url, "/version", _plain_version, timeout, transport)


def probe_iot_agent(
    base_url: str | None, *, timeout: float = 2.0, transport: httpx.BaseTransport | None = None
) -> DependencyHealth:
    """Probe the IoT Agent with ``GET /iot/about`` (dependency name ``iot_agent``)."""
    return _probe("iot_agent", base_url, "/iot/about", _plain_version, timeout, transport)


def check_fiware(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> list[DependencyHealth]:
    """Run the three probes concurrently (``settings.health_timeout_seconds`` each).

    Returns ``[orion, sth_comet, iot_agent]`` in that order; never raises for a failing dependency.
    """
    timeout = settings.health_timeout_seconds
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="fiware-health") as pool:
        futures = [
            pool.submit(probe_orion, settings.orion_url, timeout=timeout, transport=transport),
            pool.submit(probe_sth, settings.sth_url, timeout=timeout, transport=transport),
            pool.submit(probe_iot_agent, settings.iot_agent_url, timeout=timeout, transport=transport),
        ]
        return [future.result() for future in futures]


class FiwareProbe:
    """A FIWARE component as a (non-required) health dependency: when it is down the API still
    serves, so the system is ``degraded`` rather than ``down``."""

    required = False

    def __init__(self, name: str, url: str, probe: Callable[..., DependencyHealth], timeout: float) -> None:
        self.name = name
        self._url = url
        self._probe = probe
        self._timeout = timeout

    def check(self) -> DependencyCheck:
        result = self._probe(self._url, timeout=self._timeout)
        return DependencyCheck(
            name=self.name,
            status=result.status.value,
            latency_ms=result.latency_ms,
            required=False,
            message=None if result.status == HealthStatus.UP else result.message,
        )


def fiware_probes(settings: Settings) -> list[FiwareProbe]:
    """A probe for every FIWARE component the settings name."""
    return [
        FiwareProbe(name, url, probe, settings.health_timeout_seconds)
        for name, url, probe in (
            ("orion", settings.orion_url, probe_orion),
            ("sth_comet", settings.sth_url, probe_sth),
            ("iot_agent", settings.iot_agent_url, probe_iot_agent),
        )
        if url
    ]
