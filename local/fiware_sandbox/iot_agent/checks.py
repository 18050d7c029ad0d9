"""IoT Agent north-port request checks shared by the routers: errors, tenant headers, JSON bodies
and the validation of config groups and devices.

Every check raises :class:`IotaError`; the app renders it as ``{name, message}`` with the given
status. Names and messages are iotagent-node-lib 4.x's (``fiware-contract.md`` §3).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

LIB_VERSION = "4.14.0"
VERSION = "3.14.0"
GROUP_FIELDS = {
    "apikey",
    "resource",
    "entity_type",
    "cbHost",
    "trust",
    "timestamp",
    "timezone",
    "attributes",
    "lazy",
    "commands",
    "static_attributes",
    "internal_attributes",
    "explicitAttrs",
    "entityNameExp",
    "defaultEntityNameConjunction",
    "autoprovision",
    "payloadType",
    "transport",
    "endpoint",
    "ngsiVersion",
    "storeLastMeasure",
    "useCBflowControl",
    "cmdMode",
    "description",
    "expressionLanguage",
}
DEVICE_FIELDS = {
    "device_id",
    "entity_name",
    "entity_type",
    "apikey",
    "protocol",
    "transport",
    "endpoint",
    "timezone",
    "timestamp",
    "attributes",
    "lazy",
    "commands",
    "static_attributes",
    "internal_attributes",
    "explicitAttrs",
    "ngsiVersion",
    "payloadType",
    "useCBflowControl",
    "storeLastMeasure",
    "cmdMode",
    "polling",
}
ATTRIBUTE_KEYS = {
    "object_id",
    "name",
    "type",
    "expression",
    "skipValue",
    "entity_name",
    "entity_type",
    "metadata",
}
LAZY_KEYS = {"object_id", "name", "type"}
COMMAND_KEYS = {
    "object_id",
    "name",
    "type",
    "value",
    "expression",
    "payloadType",
    "contentType",
    "headers",
    "mqtt",
}
FORBIDDEN = set("<>();'=\"")


class IotaError(Exception):
    """An IoT Agent error answer: ``status`` with body ``{"name": name, "message": message}``."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def wrong_syntax() -> IotaError:
    """400 ``WRONG_SYNTAX``: the body does not have the shape the route expects."""
    return IotaError(400, "WRONG_SYNTAX", "Wrong syntax in request: Errors found validating request.")


def missing_headers(names: list[str]) -> IotaError:
    """400 ``MISSING_HEADERS`` naming ``names`` (the group routes name missing query parameters too)."""
    return IotaError(
        400, "MISSING_HEADERS", f"Some headers were missing from the request: {json.dumps(names)}"
    )


def tenant_of(request: Request) -> tuple[str, str]:
    """``(service lowercased, subservice)`` from the two mandatory tenant headers; 400
    ``MISSING_HEADERS`` listing the absent (or empty) ones."""
    missing = [h for h in ("fiware-service", "fiware-servicepath") if not request.headers.get(h)]
    if missing:
        raise missing_headers(missing)
    return request.headers["fiware-service"].lower(), request.headers["fiware-servicepath"]


def check_attr_list(items: Any, allowed: set[str]) -> None:
    """``WRONG_SYNTAX`` unless ``items`` is absent or a list of objects with only ``allowed`` keys
    whose ``object_id``/``name``/``type`` are strings free of ``<>();'="``."""
    if items is None:
        return
    if not isinstance(items, list):
        raise wrong_syntax()
    for item in items:
        if not isinstance(item, dict) or set(item) - allowed:
            raise wrong_syntax()
        for key in ("object_id", "name", "type"):
            value = item.get(key)
            if value is not None and (not isinstance(value, str) or any(c in FORBIDDEN for c in value)):
                raise wrong_syntax()


def paging_of(request: Request) -> tuple[int | None, int | None]:
    """``(offset, limit)`` of a listing: each only when given as a decimal number."""
    params = request.query_params
    offset = int(params["offset"]) if params.get("offset", "").isdigit() else None
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else None
    return offset, limit


async def body_of(request: Request) -> Any:
    """The JSON body (``None`` when empty); ``WRONG_SYNTAX`` when it is not JSON."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise wrong_syntax() from None


def items_of(payload: Any, key: str) -> list[Any]:
    """The non-empty list ``payload[key]`` of a create body; ``WRONG_SYNTAX`` otherwise."""
    items = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise wrong_syntax()
    return items


def check_lists(item: dict[str, Any]) -> None:
    """:func:`check_attr_list` on the ``attributes``, ``lazy`` and ``commands`` of a group or device."""
    check_attr_list(item.get("attributes"), ATTRIBUTE_KEYS)
    check_attr_list(item.get("lazy"), LAZY_KEYS)
    check_attr_list(item.get("commands"), COMMAND_KEYS)


def validate_groups(items: list[Any]) -> None:
    """Check every group of a create before any is stored: an object with ``apikey`` and
    ``resource`` (else ``WRONG_SYNTAX``), an ``entity_type`` (else 400 ``MISSING_CONFIG_PARAMS``),
    valid attribute lists."""
    for item in items:
        if not isinstance(item, dict) or not item.get("apikey") or not item.get("resource"):
            raise wrong_syntax()
        if not item.get("entity_type"):
            raise IotaError(
                400,
                "MISSING_CONFIG_PARAMS",
                "Mandatory configuration parameters missing: entity_type",
            )
        check_lists(item)


def validate_devices(items: list[Any]) -> None:
    """Check every device of a create before any is stored: an object (else ``WRONG_SYNTAX``) with
    a ``device_id`` (else 400 ``MISSING_ATTRIBUTES``), valid attribute lists."""
    for item in items:
        if not isinstance(item, dict):
            raise wrong_syntax()
        if not item.get("device_id"):
            raise IotaError(
                400, "MISSING_ATTRIBUTES", "Some of the required attributes were missing: device_id"
            )
        check_lists(item)
