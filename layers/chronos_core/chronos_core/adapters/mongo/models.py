"""The model repository on ``models``, with the one-training-at-a-time lock on ``training_locks``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chronos_core.adapters.mongo.client import MODELS, TRAINING_LOCKS, Document, with_retries
from chronos_core.adapters.mongo.point_reads import find_by_keys
from chronos_core.application.ports.models import ModelFilter, Page
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import (
    FiwareSource,
    Hyperparameters,
    Model,
    ModelStatus,
    ServingSummary,
    flatten,
)

#: Earlier champions a model remembers (for rollbacks).
MAX_PREVIOUS_CHAMPIONS = 20


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
            "champion_pinned": doc.get("champion_pinned", False),
            "previous_champions": doc.get("previous_champions") or [],
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
        }
    )


class MongoModelRepository:
    """:class:`~chronos_core.application.ports.models.ModelRepository` on ``models``."""

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
    def get(self, model_id: ModelId) -> Model | None:
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
    def delete(self, model_id: ModelId) -> bool:
        """Delete the model, then its lock (in that order: a claim made in between finds no model)."""
        deleted = self._models.delete_one({"id": model_id}).deleted_count == 1
        self._locks.delete_one({"_id": model_id})
        return deleted

    @with_retries
    def claim_for_deletion(self, model_id: ModelId) -> bool:
        """Take the model's lock for its deletion; False while a training is being started (or
        runs). :meth:`delete` or :meth:`release_claim` gives it back."""
        return self._claim_lock(model_id)

    @with_retries
    def release_claim(self, model_id: ModelId) -> None:
        self._locks.delete_one({"_id": model_id})

    def _claim_lock(self, model_id: ModelId) -> bool:
        """Take the lock; a lock older than a minute on a model that is not training was left by
        an interrupted claim and is replaced."""
        if self._take_lock(model_id):
            return True
        model = self._models.find_one({"id": model_id}, {"_id": 0, "status": 1})
        if model is None or model.get("status") == ModelStatus.TRAINING.value:
            return False
        self._locks.delete_one(
            {"_id": model_id, "taken_at": {"$lt": datetime.now(UTC) - timedelta(seconds=60)}}
        )
        return self._take_lock(model_id)

    @with_retries
    def claim_for_training(self, model_id: ModelId) -> bool:
        """Move the model to ``training`` unless it already is; True for exactly one of any number
        of concurrent callers (a unique lock document decides, shared with deletion)."""
        if not self._claim_lock(model_id):
            return False
        result = self._models.update_one(
            {"id": model_id},
            {"$set": {"status": ModelStatus.TRAINING.value, "updated_at": datetime.now(UTC)}},
        )
        if result.matched_count != 1:
            self._locks.delete_one({"_id": model_id})
            return False
        return True

    def _take_lock(self, model_id: ModelId) -> bool:
        try:
            self._locks.insert_one({"_id": model_id, "taken_at": datetime.now(UTC)})
        except DuplicateKeyError:
            return False
        return True

    @with_retries
    def release_after_training(
        self, model_id: ModelId, *, succeeded: bool, serving: ServingSummary | None = None
    ) -> None:
        """Leave ``training``: ``trained`` after a success or an earlier success, else ``draft``.
        A success with ``serving`` also records what the model now serves (None: unchanged)."""
        now = datetime.now(UTC)
        if succeeded:
            changes: Document = {
                "status": ModelStatus.TRAINED.value,
                "has_successful_training": True,
                "updated_at": now,
            }
            if serving is not None:
                changes["serving"] = serving.model_dump()
            self._models.update_one({"id": model_id}, {"$set": changes})
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
    def get_many(self, model_ids: Sequence[ModelId]) -> Sequence[Model]:
        if not model_ids:
            return []
        return [document_to_model(d) for d in self._models.find({"id": {"$in": list(model_ids)}}, {"_id": 0})]

    @with_retries
    def get_batch(self, model_ids: Sequence[ModelId]) -> Sequence[Model]:
        return [document_to_model(d) for d in find_by_keys(self._models, "id", model_ids, {"_id": 0})]

    @with_retries
    def set_champion(
        self,
        model_id: ModelId,
        serving: ServingSummary | None,
        *,
        previous_champions: Sequence[str],
        pinned: bool,
        expected: str | None,
    ) -> bool:
        """Compare and set on ``serving.training_job_id`` (a missing champion matches None)."""
        query: Document = {"id": model_id}
        query["serving.training_job_id" if expected is not None else "serving"] = expected
        result = self._models.update_one(
            query,
            {
                "$set": {
                    "serving": serving.model_dump() if serving else None,
                    "previous_champions": [*previous_champions][-MAX_PREVIOUS_CHAMPIONS:],
                    "champion_pinned": pinned,
                    "updated_at": datetime.now(UTC),
                }
            },
        )
        return result.matched_count == 1

    @with_retries
    def next_version(self, model_id: ModelId) -> int:
        doc = self._models.find_one_and_update(
            {"id": model_id}, {"$inc": {"versions": 1}}, return_document=ReturnDocument.AFTER
        )
        return int((doc or {}).get("versions") or 0)

    @with_retries
    def reset_training_state(self, model_id: ModelId, *, has_success: bool) -> None:
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
