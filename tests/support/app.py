"""An in-process API wired to the real MongoDB-compatible server and in-memory doubles."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pymongo.database import Database

from chronos_core.adapters.artifact_store import GridFSArtifactStore
from chronos_core.adapters.mongo import (
    Document,
    MongoAuthFailureCounter,
    MongoHealthProbe,
    MongoModelRepository,
)
from chronos_core.adapters.training_jobs import MongoTrainingJobRepository
from chronos_core.api import deps, security
from chronos_core.api.app import create_app
from chronos_core.application.health import HealthCache
from chronos_core.config import Settings
from tests.support.auth import verifier


class MemoryObjectStore:
    """ObjectStore double: JSON documents in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, Any] = {}

    def exists(self, key: str) -> bool:
        return key in self.objects

    def put_json(self, key: str, document: Any) -> None:
        self.objects[key] = document

    def get_json(self, key: str) -> Any:
        return self.objects[key]

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for key in keys:
            del self.objects[key]
        return len(keys)


def build_app(
    mongo_db: Database[Document],
    *,
    settings: Settings | None = None,
    window_seconds: int = 300,
    **overrides: Any,
) -> FastAPI:
    """The real app with every adapter pointed at ``mongo_db``; ``overrides`` map dependency
    names in :mod:`chronos_core.api.deps` to factories (e.g. ``workflow=lambda: fake``)."""
    app = create_app(settings or Settings())
    objects = MemoryObjectStore()
    app.dependency_overrides[deps.model_repository] = lambda: MongoModelRepository(mongo_db)
    app.dependency_overrides[deps.training_jobs] = lambda: MongoTrainingJobRepository(mongo_db)
    app.dependency_overrides[deps.artifact_store] = lambda: GridFSArtifactStore(mongo_db)
    app.dependency_overrides[deps.object_store] = lambda: objects
    app.dependency_overrides[deps.job_cleaners] = lambda: []
    app.dependency_overrides[deps.health_probes] = lambda: [MongoHealthProbe(mongo_db.client)]
    app.dependency_overrides[deps.health_cache] = lambda: HealthCache(ttl_seconds=0)
    app.dependency_overrides[security.token_verifier] = verifier
    app.dependency_overrides[security.failure_counter] = lambda: MongoAuthFailureCounter(
        mongo_db, window_seconds
    )
    for name, factory in overrides.items():
        app.dependency_overrides[getattr(deps, name)] = factory
    return app
