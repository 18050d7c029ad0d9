"""The database as a health dependency."""

from __future__ import annotations

import time

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from chronos_core.adapters.mongo.client import Document
from chronos_core.application.ports.health import DependencyCheck


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
