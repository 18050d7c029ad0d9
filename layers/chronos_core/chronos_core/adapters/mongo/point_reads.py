"""Reading a handful of documents by a unique key: one equality query per key, run together.

FerretDB v1 (the local server, on SQLite or PostgreSQL) pushes only equality filters down to its
backend: ``{"id": {"$in": keys}}`` scans and decodes the whole collection (170 ms over 1,000 job
documents on PostgreSQL, growing with the fleet), while ten ``{"id": key}`` reads take 15 ms
together. On MongoDB both use the unique index, and a few concurrent point reads cost about one
round trip. So up to :data:`POINT_READ_LIMIT` keys are read one by one, concurrently on a
process-wide pool; more than that are one ``$in`` query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from threading import Lock
from typing import Any

from pymongo.collection import Collection

POINT_READ_LIMIT = 25
_POOL_WORKERS = 10

_pool: ThreadPoolExecutor | None = None
_pool_lock = Lock()


def shared_pool() -> ThreadPoolExecutor:
    """The process-wide pool of concurrent point reads (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_POOL_WORKERS, thread_name_prefix="mongo-read")
        return _pool


def find_by_keys(
    collection: Collection[Any], field: str, keys: Sequence[Any], projection: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """The documents whose ``field`` is one of ``keys`` (each key at most once, unknown keys
    absent), in no particular order. ``field`` must be unique in the collection."""
    unique = list(dict.fromkeys(keys))
    if len(unique) > POINT_READ_LIMIT:
        yield from collection.find({field: {"$in": unique}}, projection)
        return
    if len(unique) <= 1:
        found = [collection.find_one({field: key}, projection) for key in unique]
    else:
        found = list(shared_pool().map(lambda key: collection.find_one({field: key}, projection), unique))
    yield from (doc for doc in found if doc is not None)
