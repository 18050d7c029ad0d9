"""FastAPI dependencies. Tests override them with ``app.dependency_overrides``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from chronos_core import wiring
from chronos_core.application.ports import HealthProbe, ModelRepository
from chronos_core.config import Settings, get_settings


def model_repository() -> ModelRepository:
    return wiring.model_repository()


def health_probes() -> list[HealthProbe]:
    return wiring.health_probes()


ModelRepositoryDep = Annotated[ModelRepository, Depends(model_repository)]
HealthProbesDep = Annotated[list[HealthProbe], Depends(health_probes)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
