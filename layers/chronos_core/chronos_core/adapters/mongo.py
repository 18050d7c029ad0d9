"""MongoDB adapters: the client factory, the model repository, indexes and a health probe.

Documents keep ids as UUID strings in ``id`` (``_id`` stays Mongo's own) and datetimes as BSON
dates in UTC. The code uses only features that FerretDB v1 also implements, so any real MongoDB
works unchanged.
"""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from chronos_core.application.ports import DependencyCheck, ModelFilter, Page
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.model import (
    FiwareSource,
    Hyperparameters,
    Model,
    ModelStatus,
    flatten,
)

Document = dict[str, Any]

MODELS = "models"
TRAINING_JOBS = "training_jobs"

# (collection, keys, options) — created idempotently by ensure_indexes.
INDEXES: list[tuple[str, list[tuple[str, int]], dict[str, Any]]] = [
    (MODELS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (MODELS, [("created_at", DESCENDING)], {"name": "created_at"}),
    (MODELS, [("status", ASCENDING)], {"name": "status"}),
    (MODELS, [("model_type", ASCENDING)], {"name": "model_type"}),
    (MODELS, [("entity_id", ASCENDING)], {"name": "entity_id"}),
    (MODELS, [("feature", ASCENDING)], {"name": "feature"}),
    (MODELS, [("model_type", ASCENDING), ("status", ASCENDING)], {"name": "model_type_status"}),
    (MODELS, [("entity_id", ASCENDING), ("feature", ASCENDING)], {"name": "entity_id_feature"}),
    (TRAINING_JOBS, [("id", ASCENDING)], {"unique": True, "name": "id_unique"}),
    (TRAINING_JOBS, [("model_id", ASCENDING), ("created_at", DESCENDING)], {"name": "model_id_created_at"}),
    (TRAINING_JOBS, [("prediction_config.enabled", ASCENDING)], {"name": "prediction_enabled"}),
    (TRAINING_JOBS, [("next_prediction_at", ASCENDING)], {"name": "next_prediction_at"}),
]


def create_client(uri: str, timeout_ms: int) -> MongoClient[Document]:
    """A client that returns timezone-aware UTC datetimes and fails fast when the server is away."""
    return MongoClient(
        uri,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 5, 10_000),
        maxPoolSize=10,
        uuidRepresentation="standard",
        appname="chronos",
    )


def ensure_indexes(db: Database[Document]) -> None:
    """Create every index in :data:`INDEXES`; safe to call on every cold start."""
    for collection, keys, options in INDEXES:
        db[collection].create_index(keys, **options)


def model_to_document(model: Model) -> Document:
    doc = flatten(model)
    doc["patience_is_derived"] = model.patience_is_derived
    return doc


def document_to_model(doc: Document) -> Model:
    hyper = {name: doc[name] for name in Hyperparameters.model_fields if name in doc}
    source = {name: doc[name] for name in FiwareSource.model_fields if name in doc}
    return Model.model_validate(
        {
            "id": doc["id"],
            "name": doc["name"],
            "description": doc["description"],
            "model_type": doc["model_type"],
            "status": doc["status"],
            "hyperparameters": hyper,
            "patience_is_derived": doc.get("patience_is_derived", True),
            "source": source,
            "has_successful_training": doc.get("has_successful_training", False),
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
        }
    )


class MongoModelRepository:
    """:class:`~chronos_core.application.ports.ModelRepository` on the ``models`` collection."""

    def __init__(self, db: Database[Document]) -> None:
        self._models: Collection[Document] = db[MODELS]

    def add(self, model: Model) -> None:
        try:
            self._models.insert_one(model_to_document(model))
        except DuplicateKeyError as exc:
            raise ConflictError(f"Model {model.id} already exists") from exc

    def get(self, model_id: str) -> Model | None:
        doc = self._models.find_one({"id": model_id}, {"_id": 0})
        return document_to_model(doc) if doc else None

    def list(self, filters: ModelFilter, skip: int, limit: int) -> Page[Model]:
        query: Document = {}
        if filters.model_type is not None:
            query["model_type"] = filters.model_type.value
        if filters.status is not None:
            query["status"] = filters.status.value
        if filters.entity_id is not None:
            query["entity_id"] = filters.entity_id
        if filters.feature is not None:
            query["feature"] = filters.feature
        total = self._models.count_documents(query)
        cursor = (
            self._models.find(query, {"_id": 0})
            .sort([("created_at", DESCENDING), ("id", ASCENDING)])
            .skip(skip)
            .limit(limit)
        )
        return Page(items=[document_to_model(d) for d in cursor], total=total, skip=skip, limit=limit)

    def replace_if_status(self, model: Model, expected_status: ModelStatus) -> bool:
        result = self._models.replace_one(
            {"id": model.id, "status": expected_status.value}, model_to_document(model)
        )
        return result.matched_count == 1

    def delete(self, model_id: str) -> bool:
        return self._models.delete_one({"id": model_id}).deleted_count == 1


class MongoHealthProbe:
    """Pings the database; the Chronos store is a required dependency."""

    name = "mongodb"
    required = True

    def __init__(self, client: MongoClient[Document]) -> None:
        self._client = client

    def check(self) -> DependencyCheck:
        started = time.perf_counter()
        try:
            self._client.admin.command("ping")
        except PyMongoError as exc:
            return DependencyCheck(
                name=self.name,
                status="down",
                latency_ms=_elapsed_ms(started),
                message=type(exc).__name__,
            )
        return DependencyCheck(name=self.name, status="up", latency_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
