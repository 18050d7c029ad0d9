"""Exclusive leases on ``leases``: one document per lease, ``_id`` = its name.

Taking a lease is inserting its document: the unique ``_id`` lets exactly one of any number of
concurrent inserts succeed on every MongoDB-compatible server (a conditional update would not on
FerretDB v1). An expired lease (its holder crashed) is deleted, then taken by insert again.
"""

from __future__ import annotations

from datetime import timedelta

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chronos_core.adapters.mongo.client import LEASES, Document, with_retries
from chronos_core.domain.model import utcnow


class MongoLeases:
    """:class:`~chronos_core.application.ports.leases.Leases` on MongoDB."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._leases: Collection[Document] = db[LEASES]
        self._attempts = attempts

    @with_retries
    def acquire(self, name: str, holder: str, seconds: float) -> bool:
        if self._insert(name, holder, seconds):
            return True
        self._leases.delete_one({"_id": name, "until": {"$lt": utcnow()}})
        return self._insert(name, holder, seconds)

    def _insert(self, name: str, holder: str, seconds: float) -> bool:
        now = utcnow()
        try:
            self._leases.insert_one(
                {"_id": name, "holder": holder, "until": now + timedelta(seconds=seconds)}
            )
        except DuplicateKeyError:
            return False
        return True

    @with_retries
    def release(self, name: str, holder: str) -> None:
        self._leases.delete_one({"_id": name, "holder": holder})
