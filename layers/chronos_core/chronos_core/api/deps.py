"""FastAPI dependencies. Tests override them with ``app.dependency_overrides``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from chronos_core import wiring
from chronos_core.application.health import HealthCache
from chronos_core.application.ports import HealthProbe, ModelRepository
from chronos_core.config import Settings, get_settings


def model_repository() -> ModelRepository:
    return wiring.model_repository()


def health_probes() -> list[HealthProbe]:
    return wiring.health_probes()


_HEALTH_CACHE = HealthCache(ttl_seconds=5.0)


def health_cache() -> HealthCache:
    """One cache per container: /health probes dependencies at most every 5 s."""
    return _HEALTH_CACHE


ModelRepositoryDep = Annotated[ModelRepository, Depends(model_repository)]
HealthProbesDep = Annotated[list[HealthProbe], Depends(health_probes)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HealthCacheDep = Annotated[HealthCache, Depends(health_cache)]
