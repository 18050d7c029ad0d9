"""FastAPI dependencies. Tests override them with ``app.dependency_overrides``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from chronos_core import wiring
from chronos_core.application.health import HealthCache
from chronos_core.application.ports import (
    HealthProbe,
    ModelRepository,
    ObjectStore,
    SeriesSource,
    TrainingJobRepository,
    Workflow,
)
from chronos_core.application.ports_ml import ArtifactStore
from chronos_core.application.training import JobResourceCleaner
from chronos_core.config import Settings, get_settings


def model_repository() -> ModelRepository:
    return wiring.model_repository()


def health_probes() -> list[HealthProbe]:
    return wiring.health_probes()


def training_jobs() -> TrainingJobRepository:
    return wiring.training_job_repository()


def series_source() -> SeriesSource:
    return wiring.series_source()


def workflow() -> Workflow:
    return wiring.workflow()


def artifact_store() -> ArtifactStore:
    return wiring.artifact_store()


def object_store() -> ObjectStore:
    return wiring.object_store()


def job_cleaners() -> list[JobResourceCleaner]:
    """What deleting a job must also remove outside Chronos (FIWARE resources of forecasts)."""
    return wiring.job_cleaners()


_HEALTH_CACHE = HealthCache(ttl_seconds=5.0)


def health_cache() -> HealthCache:
    """One cache per container: /health probes dependencies at most every 5 s."""
    return _HEALTH_CACHE


ModelRepositoryDep = Annotated[ModelRepository, Depends(model_repository)]
HealthProbesDep = Annotated[list[HealthProbe], Depends(health_probes)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HealthCacheDep = Annotated[HealthCache, Depends(health_cache)]
TrainingJobsDep = Annotated[TrainingJobRepository, Depends(training_jobs)]
SeriesSourceDep = Annotated[SeriesSource, Depends(series_source)]
WorkflowDep = Annotated[Workflow, Depends(workflow)]
ArtifactStoreDep = Annotated[ArtifactStore, Depends(artifact_store)]
ObjectStoreDep = Annotated[ObjectStore, Depends(object_store)]
JobCleanersDep = Annotated[list[JobResourceCleaner], Depends(job_cleaners)]
