"""Persistence of the IoT Agent double: config groups in ``iota_groups``, devices in ``iota_devices``.

A group document is ``{service, subservice, resource, apikey, body}``, ``(resource, apikey)``
unique across services; a device document is ``{service, subservice, apikey, device_id, seq, body}``,
``(service, subservice, apikey, device_id)`` unique, ``apikey`` ``""`` when the device has none and
``seq`` (nanoseconds at creation) ordering listings. ``body`` is the JSON text of the group or
device as provisioned, its known fields only (``seed.py`` writes devices the same way).
"""

from __future__ import annotations

import json
import time
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.cursor import Cursor
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from local.fiware_sandbox.common import SandboxState
from local.fiware_sandbox.iot_agent.checks import IotaError

Doc = dict[str, Any]

GROUPS = "iota_groups"
DEVICES = "iota_devices"


def ensure_indexes(state: SandboxState) -> None:
    """Create the indexes the IoT Agent double relies on (idempotent): the two unique keys above and
    the device listing order ``(service, subservice, seq)``."""
    state.db[GROUPS].create_index([("resource", ASCENDING), ("apikey", ASCENDING)], unique=True)
    state.db[DEVICES].create_index(
        [("service", ASCENDING), ("subservice", ASCENDING), ("apikey", ASCENDING), ("device_id", ASCENDING)],
        unique=True,
    )
    state.db[DEVICES].create_index([("service", ASCENDING), ("subservice", ASCENDING), ("seq", ASCENDING)])


def paged(cursor: Cursor[Doc], offset: int | None, limit: int | None) -> Cursor[Doc]:
    """``cursor`` with ``offset`` skipped and at most ``limit`` (``0`` or ``None``: no limit)."""
    if offset is not None:
        cursor = cursor.skip(offset)
    if limit is not None:
        cursor = cursor.limit(limit)
    return cursor


def insert_unique(collection: Collection[Doc], doc: Doc, conflict: IotaError) -> None:
    """Insert ``doc``; raise ``conflict`` when it would duplicate a unique key."""
    try:
        collection.insert_one(doc)
    except DuplicateKeyError:
        raise conflict from None


def merged_body(doc: Doc, patch: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The stored body of ``doc`` with the fields of ``patch`` that are in ``fields`` written over it."""
    body: dict[str, Any] = json.loads(doc["body"])
    return {**body, **{k: v for k, v in patch.items() if k in fields}}


def render_group(doc: Doc) -> dict[str, Any]:
    """A group as the agent lists it: its body plus ``service``, ``subservice`` and ``_id``."""
    body = json.loads(doc["body"])
    return {**body, "service": doc["service"], "subservice": doc["subservice"], "_id": str(doc["_id"])}


def render_device(doc: Doc) -> dict[str, Any]:
    """A device as the agent answers it: ``device_id``, ``service``, ``service_path``, the non-null
    body fields, and ``attributes``/``lazy``/``commands``/``static_attributes`` (``[]`` by default)."""
    body = json.loads(doc["body"])
    out = {"device_id": doc["device_id"], "service": doc["service"], "service_path": doc["subservice"]}
    out.update({k: v for k, v in body.items() if v is not None and k != "device_id"})
    for key in ("attributes", "lazy", "commands", "static_attributes"):
        out.setdefault(key, [])
    return out


class GroupStore:
    """The config groups of every tenant (see the module docstring for the document shape)."""

    def __init__(self, db: Database[Doc]) -> None:
        self.collection: Collection[Doc] = db[GROUPS]

    def insert(self, service: str, subservice: str, body: dict[str, Any]) -> None:
        """Store one group; 409 ``DUPLICATE_GROUP`` when its ``(resource, apikey)`` exists in any service."""
        doc = {
            "service": service,
            "subservice": subservice,
            "resource": body["resource"],
            "apikey": body["apikey"],
            "body": json.dumps(body),
        }
        conflict = IotaError(
            409,
            "DUPLICATE_GROUP",
            f"A device configuration already exists for resource {body['resource']} and API Key "
            f"{body['apikey']}",
        )
        insert_unique(self.collection, doc, conflict)

    def listing(
        self, service: str, subservice: str, offset: int | None, limit: int | None
    ) -> tuple[int, list[Doc]]:
        """``(total, groups)`` of the tenant in creation order; subservice ``/*`` means every
        subservice of ``service`` and is the only listing that honours ``offset`` and ``limit``."""
        query: Doc = {"service": service}
        if subservice == "/*":
            cursor = paged(self.collection.find(query).sort("_id", ASCENDING), offset, limit)
        else:
            query["subservice"] = subservice
            cursor = self.collection.find(query).sort("_id", ASCENDING)
        docs = list(cursor)
        return self.collection.count_documents(query), docs

    def locate(self, service: str, subservice: str, resource: str, apikey: str) -> Doc:
        """The group ``(resource, apikey)``; 404 ``DEVICE_GROUP_NOT_FOUND`` when there is none, 403
        ``MISMATCHED_SERVICE`` when it belongs to another service or subservice."""
        doc = self.collection.find_one({"resource": resource, "apikey": apikey})
        if doc is None:
            raise IotaError(
                404,
                "DEVICE_GROUP_NOT_FOUND",
                'Couldn\'t find device group for fields: ["resource","apikey"]',
            )
        if doc["service"] != service or doc["subservice"] != subservice:
            raise IotaError(
                403,
                "MISMATCHED_SERVICE",
                "The declared service didn't match the stored one in the entity",
            )
        return doc

    def entity_type_for(self, service: str, subservice: str, apikey: str) -> str | None:
        """The ``entity_type`` of the tenant's group with ``apikey`` (``None`` without one)."""
        group = self.collection.find_one({"service": service, "subservice": subservice, "apikey": apikey})
        entity_type: str | None = json.loads(group["body"]).get("entity_type") if group else None
        return entity_type

    def replace_body(self, doc: Doc, body: dict[str, Any]) -> None:
        """Store ``body`` as the group's new provisioned form."""
        self.collection.update_one({"_id": doc["_id"]}, {"$set": {"body": json.dumps(body)}})

    def delete(self, doc: Doc) -> None:
        """Remove the stored group ``doc``."""
        self.collection.delete_one({"_id": doc["_id"]})


class DeviceStore:
    """The devices of every tenant (see the module docstring for the document shape)."""

    def __init__(self, db: Database[Doc]) -> None:
        self.collection: Collection[Doc] = db[DEVICES]

    def insert(self, service: str, subservice: str, body: dict[str, Any]) -> None:
        """Store one device; 409 ``DUPLICATE_DEVICE_ID`` when the tenant has it (same apikey) already."""
        doc = {
            "service": service,
            "subservice": subservice,
            "apikey": body.get("apikey") or "",
            "device_id": body["device_id"],
            "seq": time.time_ns(),
            "body": json.dumps(body),
        }
        conflict = IotaError(
            409,
            "DUPLICATE_DEVICE_ID",
            f"A device with the same pair (Service, DeviceId) was found: {body['device_id']}",
        )
        insert_unique(self.collection, doc, conflict)

    def listing(
        self, service: str, subservice: str, offset: int | None, limit: int | None
    ) -> tuple[int, list[Doc]]:
        """``(total, devices)`` of the tenant in creation order, ``offset`` skipped, at most ``limit``."""
        query = {"service": service, "subservice": subservice}
        docs = list(paged(self.collection.find(query).sort("seq", ASCENDING), offset, limit))
        return self.collection.count_documents(query), docs

    def find(self, service: str, subservice: str, device_id: str, apikey: str | None) -> Doc:
        """The tenant's device ``device_id`` (with ``apikey`` when given); 404 ``DEVICE_NOT_FOUND``."""
        query: Doc = {"service": service, "subservice": subservice, "device_id": device_id}
        if apikey:
            query["apikey"] = apikey
        doc = self.collection.find_one(query)
        if doc is None:
            raise IotaError(404, "DEVICE_NOT_FOUND", f"No device was found with id:{device_id}")
        return doc

    def replace_body(self, doc: Doc, body: dict[str, Any]) -> None:
        """Store ``body`` as the device's new provisioned form."""
        self.collection.update_one({"_id": doc["_id"]}, {"$set": {"body": json.dumps(body)}})

    def delete(self, doc: Doc) -> None:
        """Remove the stored device ``doc``."""
        self.collection.delete_one({"_id": doc["_id"]})

    def delete_id(self, service: str, subservice: str, device_id: Any, apikey: str) -> bool:
        """Remove the tenant's device ``(apikey, device_id)``; whether there was one."""
        result = self.collection.delete_one(
            {"service": service, "subservice": subservice, "device_id": device_id, "apikey": apikey}
        )
        return result.deleted_count > 0

    def delete_of_group(self, group: Doc) -> None:
        """Remove every device provisioned under ``group`` (same tenant and apikey)."""
        self.collection.delete_many(
            {"service": group["service"], "subservice": group["subservice"], "apikey": group["apikey"]}
        )
