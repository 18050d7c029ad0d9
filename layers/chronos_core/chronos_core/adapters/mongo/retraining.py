"""Retraining on MongoDB: policies (``retraining_policies``), the trigger log
(``retraining_runs``) and model events (``model_events``).

A run's ``_id`` is its trigger key (``<model>|cron|<fire time>``...): inserting it is the claim
of that trigger, so of several schedulers inserting the same fire time exactly one succeeds (an
unordered ``insert_many`` per tick: 1,000 runs in a few tens of milliseconds on FerretDB v1,
whose conditional updates are not atomic). Runs older than :data:`KEEP_RUNS` are pruned now and
then (FerretDB v1 has no TTL indexes); they are kept longer than any schedule's period so that a
coalesced fire time is never claimed twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from chronos_core.adapters.mongo.client import (
    MODEL_EVENTS,
    RETRAINING_POLICIES,
    RETRAINING_RUNS,
    Document,
    with_retries,
)
from chronos_core.application.ports.models import Page
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import utcnow
from chronos_core.domain.retraining import ModelEvent, RetrainingRun, StoredPolicy

DUPLICATE_KEY: Final = 11000
#: Runs are kept this long: longer than the longest gap between two fire times (a year).
KEEP_RUNS: Final = timedelta(days=400)
PRUNE_EVERY_SECONDS: Final = 3600.0


class MongoRetrainingPolicies:
    """:class:`~chronos_core.application.ports.retraining.RetrainingPolicies` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._policies: Collection[Document] = db[RETRAINING_POLICIES]
        self._attempts = attempts

    @with_retries
    def put(self, stored: StoredPolicy) -> None:
        doc = stored.model_dump(mode="python")
        self._policies.replace_one({"_id": stored.model_id}, {"_id": stored.model_id, **doc}, upsert=True)

    @with_retries
    def get(self, model_id: ModelId) -> StoredPolicy | None:
        doc = self._policies.find_one({"_id": model_id})
        return StoredPolicy.model_validate(doc) if doc else None

    @with_retries
    def delete(self, model_id: ModelId) -> bool:
        return self._policies.delete_one({"_id": model_id}).deleted_count == 1

    @with_retries
    def scheduled(self, limit: int) -> list[StoredPolicy]:
        cursor = (
            self._policies.find({"policy.enabled": True, "policy.schedule": {"$ne": None}})
            .sort("created_at", ASCENDING)
            .limit(limit)
        )
        return [StoredPolicy.model_validate(d) for d in cursor]


class MongoRetrainingRuns:
    """:class:`~chronos_core.application.ports.retraining.RetrainingRuns` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._runs: Collection[Document] = db[RETRAINING_RUNS]
        self._attempts = attempts
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()

    def claim(self, runs: Sequence[RetrainingRun]) -> list[bool]:
        self._prune_now_and_then()
        if not runs:
            return []
        docs = [{"_id": run.key, **run.model_dump(mode="python")} for run in runs]
        lost: set[int] = set()
        try:
            self._insert(docs)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            lost = {int(error["index"]) for error in errors}
        return [i not in lost for i in range(len(runs))]

    @with_retries
    def _insert(self, docs: list[Document]) -> None:
        self._runs.insert_many(docs, ordered=False)

    @with_retries
    def existing(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        return {d["_id"] for d in self._runs.find({"_id": {"$in": list(keys)}}, {"_id": 1})}

    @with_retries
    def record(self, run: RetrainingRun) -> None:
        self._runs.replace_one(
            {"_id": run.key}, {"_id": run.key, **run.model_dump(mode="python")}, upsert=True
        )

    @with_retries
    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[RetrainingRun]:
        query = {"model_id": model_id}
        total = self._runs.count_documents(query)
        cursor = self._runs.find(query).sort([("at", DESCENDING), ("_id", ASCENDING)]).skip(skip).limit(limit)
        return Page(
            items=[RetrainingRun.model_validate(d) for d in cursor], total=total, skip=skip, limit=limit
        )

    @with_retries
    def delete_for_model(self, model_id: ModelId) -> int:
        return self._runs.delete_many({"model_id": model_id}).deleted_count

    @with_retries
    def prune(self) -> int:
        return self._runs.delete_many({"at": {"$lt": utcnow() - KEEP_RUNS}}).deleted_count

    def _prune_now_and_then(self) -> None:
        with self._prune_lock:
            if time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
                return
            self._pruned_at = time.monotonic()
        self.prune()


class MongoModelEvents:
    """:class:`~chronos_core.application.ports.retraining.ModelEvents` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._events: Collection[Document] = db[MODEL_EVENTS]
        self._attempts = attempts

    @with_retries
    def add(self, event: ModelEvent) -> None:
        self._events.insert_one(event.model_dump(mode="python"))

    @with_retries
    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[ModelEvent]:
        query = {"model_id": model_id}
        total = self._events.count_documents(query)
        cursor = self._events.find(query, {"_id": 0}).sort("at", DESCENDING).skip(skip).limit(limit)
        return Page(items=[ModelEvent.model_validate(d) for d in cursor], total=total, skip=skip, limit=limit)

    @with_retries
    def delete_for_model(self, model_id: ModelId) -> int:
        return self._events.delete_many({"model_id": model_id}).deleted_count
