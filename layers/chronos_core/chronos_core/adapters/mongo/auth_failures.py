"""Authentication failures per client on ``auth_failures``, in a sliding window.

Each failure is one inserted document ``{client, at, expires_at}``: an insert is atomic on every
MongoDB-compatible server, so concurrent failures from many function instances are all counted
(a read-then-increment would lose some), and the count is of the failures within the last
``window_seconds`` whenever it is asked, so no window edge lets a burst through. Expired
documents are removed by a TTL index where the server has one, and now and then by this adapter
(FerretDB v1 has none).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from pymongo.collection import Collection
from pymongo.database import Database

from chronos_core.adapters.mongo.client import AUTH_FAILURES, Document, with_retries


class MongoAuthFailureCounter:
    """:class:`~chronos_core.application.ports.auth.FailureCounter` on MongoDB."""

    def __init__(self, db: Database[Document], window_seconds: int, attempts: int = 3) -> None:
        self._failures: Collection[Document] = db[AUTH_FAILURES]
        self._window = timedelta(seconds=window_seconds)
        self._attempts = attempts

    @with_retries
    def record_failure(self, client: str) -> tuple[int, int]:
        now = datetime.now(UTC)
        self._failures.insert_one({"client": client, "at": now, "expires_at": now + self._window})
        since = now - self._window
        recent = self._failures.count_documents({"client": client, "at": {"$gt": since}})
        oldest = self._failures.find_one({"client": client, "at": {"$gt": since}}, sort=[("at", 1)])
        leaves_in = (oldest["at"] + self._window - now).total_seconds() if oldest else 0.0
        if random.random() < 0.05:  # noqa: S311 - housekeeping where TTL indexes are missing
            self._failures.delete_many({"expires_at": {"$lt": now}})
        return recent, max(1, int(leaves_in + 0.999))

    @with_retries
    def failures(self, client: str) -> int:
        """Failures of ``client`` within the window ending now."""
        since = datetime.now(UTC) - self._window
        return self._failures.count_documents({"client": client, "at": {"$gt": since}})
