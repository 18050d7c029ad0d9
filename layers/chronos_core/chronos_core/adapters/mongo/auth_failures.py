"""Authentication failures per client on ``auth_failures``."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pymongo.collection import Collection
from pymongo.database import Database

from chronos_core.adapters.mongo.client import AUTH_FAILURES, Document, with_retries


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
