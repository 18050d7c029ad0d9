"""FerretDB/MongoDB fixtures for the forecasting-core integration tests.

One database per test session (``chronos_ml_test_<random>``), dropped at the end. The URI comes
from ``MONGODB_URI`` (default ``mongodb://127.0.0.1:27118/``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27118/")


@pytest.fixture(scope="session")
def ml_db() -> Iterator[Database[Any]]:
    client: MongoClient[Any] = MongoClient(
        MONGODB_URI, serverSelectionTimeoutMS=3000, uuidRepresentation="standard"
    )
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        pytest.fail(f"No MongoDB-compatible server at {MONGODB_URI} ({type(exc).__name__}); set MONGODB_URI.")
    name = f"chronos_ml_test_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.close()
