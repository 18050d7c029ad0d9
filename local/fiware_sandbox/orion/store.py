"""Persistence of the Orion double: entities in ``orion_entities``, subscriptions in
``orion_subscriptions`` (both in the sandbox database, one document per entity / subscription,
every tenant in the same collection under ``service``).

An entity document is ``{service, id, type, servicepath, attrs, creDate, modDate, seq}``: ``attrs``
is the JSON text of ``{name: {type, value, metadata}}`` (also written by ``seed.py``), ``seq``
(nanoseconds at creation) orders listings.
A subscription document is ``{_id, service, servicepath, body, timesSent, last*...}``: ``body`` is
the JSON text of the subscription as accepted, the ``last*`` fields are the delivery status the
notifier records.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.cursor import Cursor
from pymongo.database import Database

from local.fiware_sandbox.common import SandboxState
from local.fiware_sandbox.orion.ngsi import OrionError, sp_query

Doc = dict[str, Any]
Attrs = dict[str, dict[str, Any]]

ENTITIES = "orion_entities"
SUBSCRIPTIONS = "orion_subscriptions"


def ensure_indexes(state: SandboxState) -> None:
    """Create the indexes the Orion double relies on (idempotent): the unique entity key
    ``(service, id, type, servicepath)``, the listing order ``(service, seq)`` and ``service`` on
    subscriptions."""
    entities = state.db[ENTITIES]
    entities.create_index(
        [("service", ASCENDING), ("id", ASCENDING), ("type", ASCENDING), ("servicepath", ASCENDING)],
        unique=True,
    )
    entities.create_index([("service", ASCENDING), ("seq", ASCENDING)])
    state.db[SUBSCRIPTIONS].create_index([("service", ASCENDING)])


# ------------------------------------------------------------------------------------- attributes


def pack(attrs: Attrs) -> str:
    """The stored form of an entity's attributes."""
    return json.dumps(attrs)


def unpack(doc: Doc) -> Attrs:
    """The attributes of a stored entity document (``{}`` when it has none)."""
    loaded: Attrs = json.loads(doc.get("attrs") or "{}")
    return loaded


def merge(current: Attrs, incoming: Attrs) -> set[str]:
    """Write ``incoming`` over ``current`` in place; return the names whose content changed."""
    changed = set()
    for name, attr in incoming.items():
        if current.get(name) != attr:
            changed.add(name)
        current[name] = attr
    return changed


def render(doc: Doc, *, key_values: bool = False, attrs_filter: list[str] | None = None) -> dict[str, Any]:
    """An entity as Orion answers it: ``{id, type, <name>: {type, value, metadata}}``, or
    ``<name>: value`` with ``key_values``; only the attributes in ``attrs_filter`` when given."""
    attrs = unpack(doc)
    out: dict[str, Any] = {"id": doc["id"], "type": doc["type"]}
    for name, attr in attrs.items():
        if attrs_filter and name not in attrs_filter:
            continue
        out[name] = attr["value"] if key_values else attr
    return out


# --------------------------------------------------------------------------------------- entities


def entity_key(service: str, entity_id: str, entity_type: str, servicepath: str) -> Doc:
    """The unique key of an entity document."""
    return {"service": service, "id": entity_id, "type": entity_type, "servicepath": servicepath}


class EntityStore:
    """The entities of every tenant (see the module docstring for the document shape)."""

    def __init__(self, db: Database[Doc]) -> None:
        self.collection: Collection[Doc] = db[ENTITIES]

    def find(self, service: str, paths: list[str], entity_id: str, entity_type: str | None) -> Doc:
        """The one entity ``entity_id`` (of ``entity_type`` when given) in ``paths`` of ``service``.

        Raises 404 ``NotFound`` when there is none, 409 ``TooManyResults`` when there are several
        (the same id under several types or service paths).
        """
        query: Doc = {"service": service, "id": entity_id, **sp_query(paths)}
        if entity_type:
            query["type"] = entity_type
        docs = list(self.collection.find(query).limit(2))
        if not docs:
            raise OrionError(404, "NotFound", "The requested entity has not been found. Check type and id")
        if len(docs) > 1:
            raise OrionError(409, "TooManyResults", "More than one matching entity. Please refine your query")
        return docs[0]

    def get(self, key: Doc) -> Doc | None:
        """The entity with exactly this :func:`entity_key`, or ``None``."""
        return self.collection.find_one(key)

    def insert(self, key: Doc, attrs: Attrs) -> Doc:
        """Store a new entity and return its document; ``DuplicateKeyError`` if the key exists."""
        now = time.time()
        doc = {**key, "attrs": pack(attrs), "creDate": now, "modDate": now, "seq": time.time_ns()}
        self.collection.insert_one(doc)
        return doc

    def save(self, doc: Doc, attrs: Attrs) -> None:
        """Replace the attributes of the stored entity ``doc`` (``doc`` is updated too)."""
        doc["attrs"] = pack(attrs)
        doc["modDate"] = time.time()
        self.collection.replace_one({"_id": doc["_id"]}, doc)

    def delete(self, doc: Doc) -> None:
        """Remove the stored entity ``doc``."""
        self.collection.delete_one({"_id": doc["_id"]})

    def page(self, query: Doc, offset: int, limit: int) -> list[Doc]:
        """The entities matching ``query`` in creation order, ``offset`` skipped, at most ``limit``."""
        return list(self.collection.find(query).sort("seq", ASCENDING).skip(offset).limit(limit))

    def count(self, query: Doc) -> int:
        """How many entities match ``query``."""
        return self.collection.count_documents(query)


# ---------------------------------------------------------------------------------- subscriptions


class SubscriptionStore:
    """The subscriptions of every tenant (see the module docstring for the document shape)."""

    def __init__(self, db: Database[Doc]) -> None:
        self.collection: Collection[Doc] = db[SUBSCRIPTIONS]

    def insert(self, service: str, servicepath: str, body: dict[str, Any]) -> str:
        """Store an accepted subscription ``body`` and return its new id (24 hex digits)."""
        sub_id = secrets.token_hex(12)
        self.collection.insert_one(
            {
                "_id": sub_id,
                "service": service,
                "servicepath": servicepath,
                "body": json.dumps(body),
                "timesSent": 0,
            }
        )
        return sub_id

    def find(self, service: str, sub_id: str) -> Doc:
        """The subscription ``sub_id`` of ``service``; 404 ``NotFound`` when there is none."""
        doc = self.collection.find_one({"_id": sub_id, "service": service})
        if doc is None:
            raise OrionError(404, "NotFound", "The requested subscription has not been found. Check id")
        return doc

    def of_service(self, service: str) -> Cursor[Doc]:
        """Every subscription of ``service``, in storage order (read lazily)."""
        return self.collection.find({"service": service})

    def page(self, service: str, offset: int, limit: int) -> list[Doc]:
        """The subscriptions of ``service`` by id, ``offset`` skipped, at most ``limit``."""
        cursor = self.collection.find({"service": service}).sort("_id", ASCENDING)
        return list(cursor.skip(offset).limit(limit))

    def count(self, service: str) -> int:
        """How many subscriptions ``service`` has."""
        return self.collection.count_documents({"service": service})

    def replace_body(self, doc: Doc, body: dict[str, Any]) -> None:
        """Store ``body`` as the subscription's new accepted form."""
        self.collection.update_one({"_id": doc["_id"]}, {"$set": {"body": json.dumps(body)}})

    def record_delivery(self, sub_id: str, status: dict[str, Any]) -> None:
        """Record one notification attempt: set the ``last*`` ``status`` fields, count it in ``timesSent``."""
        self.collection.update_one({"_id": sub_id}, {"$set": status, "$inc": {"timesSent": 1}})

    def delete(self, doc: Doc) -> None:
        """Remove the stored subscription ``doc``."""
        self.collection.delete_one({"_id": doc["_id"]})
