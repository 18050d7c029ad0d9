"""System health: probe every dependency concurrently and aggregate."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chronos_core.application.ports.health import DependencyCheck, HealthProbe
from chronos_core.domain.model import utcnow


@dataclass(frozen=True)
class SystemHealth:
    """Aggregate status: ``down`` if any required dependency is down, ``degraded`` if any other
    dependency is not up, otherwise ``up``."""

    status: str
    checked_at: datetime
    dependencies: list[DependencyCheck]

    @property
    def healthy(self) -> bool:
        return self.status != "down"


class HealthCache:
    """Keeps the last result for ``ttl_seconds`` so that an unauthenticated ``/health`` cannot be
    used to fan requests out to every dependency (amplification)."""

    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._value: tuple[float, SystemHealth] | None = None

    def get(self, probes: Sequence[HealthProbe]) -> SystemHealth:
        with self._lock:
            now = time.monotonic()
            if self._value is not None and now - self._value[0] < self._ttl:
                return self._value[1]
            result = check_health(probes)
            self._value = (time.monotonic(), result)
            return result


def check_health(probes: Sequence[HealthProbe]) -> SystemHealth:
    """Run all probes in parallel (each bounded by its own timeout) and aggregate the results."""
    if probes:
        with ThreadPoolExecutor(max_workers=len(probes)) as pool:
            results = list(pool.map(lambda probe: probe.check(), probes))
    else:
        results = []
    if any(r.status == "down" and r.required for r in results):
        status = "down"
    elif any(r.status != "up" for r in results):
        status = "degraded"
    else:
        status = "up"
    return SystemHealth(status=status, checked_at=utcnow(), dependencies=results)


class HealthDeps(Protocol):
    @property
    def health_probes(self) -> Sequence[HealthProbe]: ...

    @property
    def health_cache(self) -> HealthCache: ...


def system_health(deps: HealthDeps) -> SystemHealth:
    """The aggregate health, probed at most once per cache period."""
    return deps.health_cache.get(deps.health_probes)
