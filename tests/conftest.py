"""Fixtures shared by every tier."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from chronos_core.adapters import mongo

MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27118/")


@pytest.fixture(scope="session")
def mongo_client() -> Iterator[MongoClient[mongo.Document]]:
    """A client to the real MongoDB-compatible server; fails loudly when none answers."""
    client = mongo.create_client(MONGODB_URI, 3000)
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        pytest.fail(
            f"No MongoDB-compatible server at {MONGODB_URI} ({type(exc).__name__}). "
            "Start the local stack (make up) or set MONGODB_URI."
        )
    yield client
    client.close()


@pytest.fixture
def mongo_db(mongo_client: MongoClient[mongo.Document]) -> Iterator[Database[mongo.Document]]:
    """A fresh database with Chronos's indexes, dropped after the test."""
    name = f"chronos_test_{uuid.uuid4().hex[:12]}"
    db = mongo_client[name]
    mongo.ensure_indexes(db)
    yield db
    mongo_client.drop_database(name)
