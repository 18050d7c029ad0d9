"""System health: probe every dependency concurrently and aggregate."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from chronos_core.application.ports import DependencyCheck, HealthProbe
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
