"""MongoDB adapters: the client factory, the model repository, indexes and a health probe.

Documents keep ids as UUID strings in ``id`` (``_id`` stays Mongo's own) and datetimes as BSON
dates in UTC. The code uses only features that FerretDB v1 also implements, so any real MongoDB
works unchanged.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, cast

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from chronos_core.application.ports import DependencyCheck, ModelFilter, Page
from chronos_core.domain.errors import ConflictError, DependencyUnavailableError
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
AUTH_FAILURES = "auth_failures"
#: One document per model while it trains (``_id`` = model id). Inserting a unique ``_id`` is
#: atomic on every MongoDB implementation; a conditional update is not on FerretDB v1.
TRAINING_LOCKS = "training_locks"

#: Errors that mean "the server is unreachable or overloaded": worth a retry, then a 503.
TRANSIENT_ERRORS = (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError, ExecutionTimeout)


def call_with_retries[R](operation: Callable[[], R], attempts: int) -> R:
    """Run ``operation``, retrying transient errors ``attempts`` times in all (backoff with
    jitter), then raise DependencyUnavailableError (the API answers 503 with Retry-After)."""
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except TRANSIENT_ERRORS as exc:
            if attempt == attempts:
                raise DependencyUnavailableError("The database is unavailable; retry later") from exc
            time.sleep(min(0.1 * 2**attempt, 1.0) * random.uniform(0.5, 1.0))  # noqa: S311
    raise AssertionError("attempts must be >= 1")


def with_retries[**P, R](
    method: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[Any, P], R]:
    """Decorate a repository method with :func:`call_with_retries` (``self._attempts`` tries)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return call_with_retries(lambda: method(self, *args, **kwargs), getattr(self, "_attempts", 3))

    return cast("Callable[Concatenate[Any, P], R]", wrapper)


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
    (AUTH_FAILURES, [("client", ASCENDING)], {"name": "client"}),
    ("training_chunks", [("job_id", ASCENDING)], {"name": "job_id"}),
]

# Expiry indexes: FerretDB v1 does not implement them, so expired documents are also deleted
# by the code that owns them; on a real MongoDB the server removes them too.
TTL_INDEXES: list[tuple[str, str]] = [(AUTH_FAILURES, "expires_at")]


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
    for collection, field in TTL_INDEXES:
        try:
            db[collection].create_index([(field, ASCENDING)], expireAfterSeconds=0, name=f"{field}_ttl")
        except OperationFailure as exc:
            if exc.code != 238:  # NotImplemented (FerretDB v1)
                raise


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
            "serving": doc.get("serving"),
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
        }
    )


class MongoModelRepository:
    """:class:`~chronos_core.application.ports.ModelRepository` on the ``models`` collection."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._models: Collection[Document] = db[MODELS]
        self._locks: Collection[Document] = db[TRAINING_LOCKS]
        self._attempts = attempts

    @with_retries
    def add(self, model: Model) -> None:
        try:
            self._models.insert_one(model_to_document(model))
        except DuplicateKeyError as exc:
            raise ConflictError(f"Model {model.id} already exists") from exc

    @with_retries
    def get(self, model_id: str) -> Model | None:
        doc = self._models.find_one({"id": model_id}, {"_id": 0})
        return document_to_model(doc) if doc else None

    @with_retries
    def list(self, filters: ModelFilter, skip: int, limit: int) -> Page[Model]:
        query: Document = {}
        if filters.services is not None:
            query["fiware_service"] = {"$in": sorted(filters.services)}
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

    @with_retries
    def replace_if_status(self, model: Model, expected_status: ModelStatus) -> bool:
        result = self._models.replace_one(
            {"id": model.id, "status": expected_status.value}, model_to_document(model)
        )
        return result.matched_count == 1

    @with_retries
    def delete(self, model_id: str) -> bool:
        self._locks.delete_one({"_id": model_id})
        return self._models.delete_one({"id": model_id}).deleted_count == 1

    @with_retries
    def claim_for_training(self, model_id: str) -> bool:
        """Move the model to ``training`` unless it already is; True for exactly one of any number
        of concurrent callers (a unique lock document decides)."""
        if not self._take_lock(model_id):
            model = self._models.find_one({"id": model_id}, {"_id": 0, "status": 1})
            if model is None or model.get("status") == ModelStatus.TRAINING.value:
                return False
            # A lock without a training model was left by an interrupted claim: replace it.
            self._locks.delete_one(
                {"_id": model_id, "taken_at": {"$lt": datetime.now(UTC) - timedelta(seconds=60)}}
            )
            if not self._take_lock(model_id):
                return False
        result = self._models.update_one(
            {"id": model_id},
            {"$set": {"status": ModelStatus.TRAINING.value, "updated_at": datetime.now(UTC)}},
        )
        if result.matched_count != 1:
            self._locks.delete_one({"_id": model_id})
            return False
        return True

    def _take_lock(self, model_id: str) -> bool:
        try:
            self._locks.insert_one({"_id": model_id, "taken_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True

    @with_retries
    def release_after_training(
        self, model_id: str, *, succeeded: bool, serving: dict[str, Any] | None = None
    ) -> None:
        """Leave ``training``: ``trained`` after a success or an earlier success, else ``draft``.
        A success also records what the model now serves (``serving``)."""
        now = datetime.now(UTC)
        if succeeded:
            self._models.update_one(
                {"id": model_id},
                {
                    "$set": {
                        "status": ModelStatus.TRAINED.value,
                        "has_successful_training": True,
                        "serving": serving,
                        "updated_at": now,
                    }
                },
            )
            self._locks.delete_one({"_id": model_id})  # after the status: no claim can slip in
            return
        self._models.update_one(
            {"id": model_id, "status": ModelStatus.TRAINING.value, "has_successful_training": True},
            {"$set": {"status": ModelStatus.TRAINED.value, "updated_at": now}},
        )
        self._models.update_one(
            {"id": model_id, "status": ModelStatus.TRAINING.value},
            {"$set": {"status": ModelStatus.DRAFT.value, "updated_at": now}},
        )
        self._locks.delete_one({"_id": model_id})

    @with_retries
    def reset_training_state(self, model_id: str, *, has_success: bool) -> None:
        """After jobs are deleted: ``trained`` only while a completed job remains."""
        self._models.update_one(
            {"id": model_id, "status": {"$ne": ModelStatus.TRAINING.value}},
            {
                "$set": {
                    "status": (ModelStatus.TRAINED if has_success else ModelStatus.DRAFT).value,
                    "has_successful_training": has_success,
                    **({} if has_success else {"serving": None}),
                    "updated_at": datetime.now(UTC),
                }
            },
        )


class MongoAuthFailureCounter:
    """Authentication failures per client in fixed windows, shared by every function instance."""

    def __init__(self, db: Database[Document], window_seconds: int, attempts: int = 3) -> None:
        self._failures: Collection[Document] = db[AUTH_FAILURES]
        self._window = window_seconds
        self._attempts = attempts

    def _window_start(self, now: datetime) -> int:
        epoch = int(now.timestamp())
        return epoch - epoch % self._window

    @with_retries
    def failures(self, client: str) -> tuple[int, int]:
        now = datetime.now(UTC)
        start = self._window_start(now)
        doc = self._failures.find_one({"_id": f"{client}|{start}"})
        remaining = start + self._window - int(now.timestamp())
        return (int(doc["count"]) if doc else 0), remaining

    @with_retries
    def record_failure(self, client: str) -> None:
        now = datetime.now(UTC)
        start = self._window_start(now)
        self._failures.update_one(
            {"_id": f"{client}|{start}"},
            {
                "$inc": {"count": 1},
                "$setOnInsert": {
                    "client": client,
                    "window_start": datetime.fromtimestamp(start, UTC),
                    "expires_at": datetime.fromtimestamp(start, UTC) + timedelta(seconds=self._window),
                },
            },
            upsert=True,
        )
        if random.random() < 0.05:  # noqa: S311 - housekeeping where TTL indexes are missing
            self._failures.delete_many({"expires_at": {"$lt": now}})


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
