"""NGSI v2 request checks shared by every Orion router: errors, tenant and service-path headers,
identifiers, attribute normalisation, JSON bodies and ``options``.

Every check raises :class:`OrionError`; the app renders it as ``{error, description}`` with the
given status and a ``Fiware-Correlator`` header. The error texts are Orion 3.12's
(``fiware-contract.md`` §2) and are part of the contract.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from fastapi import Request

from local.fiware_sandbox.sth import fmt_time

VERSION = "3.12.0"
FORBIDDEN = set("<>\"'=;()")
ID_FORBIDDEN = FORBIDDEN | set(" &?/#")
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
ATTRS_FORMATS = {"normalized", "keyValues", "values", "simplifiedNormalized", "simplifiedKeyValues", "legacy"}
RESERVED_ATTRS = {"id", "type", "geo:distance", "*"}
MAX_BODY_BYTES = 1024 * 1024


class OrionError(Exception):
    """An Orion error answer: ``status`` with body ``{"error": error, "description": description}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def bad(description: str) -> OrionError:
    """A 400 ``BadRequest`` with ``description``."""
    return OrionError(400, "BadRequest", description)


# ----------------------------------------------------------------------------------------- checks


def tenant_of(request: Request) -> str:
    """The lowercased ``Fiware-Service`` (``""``, the default tenant, when absent or empty).

    Raises 400 when it is over 50 characters or holds anything but ``[A-Za-z0-9_]``.
    """
    service = request.headers.get("fiware-service")
    if service is None or service == "":
        return ""
    if len(service) > 50:
        raise bad("bad length - a tenant name can be max 50 characters long")
    if not NAME_RE.match(service):
        raise bad("bad character in tenant name - only underscore and alphanumeric characters are allowed")
    return service.lower()


def servicepaths_of(request: Request, *, write: bool) -> list[str]:
    """The ``Fiware-ServicePath`` list, trailing ``/`` dropped; defaults ``["/"]`` (write) or ``["/#"]``.

    Raises 400 for more than ten paths, more than one on a write, a relative path, more than ten
    components, a component over 50 characters or outside ``[A-Za-z0-9_]``, and a trailing ``#``
    on a write PATCH/DELETE.
    """
    raw = request.headers.get("fiware-servicepath")
    if raw is None or raw.strip() == "":
        return ["/"] if write else ["/#"]
    paths = [p.strip() for p in raw.split(",")]
    if len(paths) > 10:
        raise bad("too many service paths - a maximum of ten service paths is allowed")
    if write and len(paths) > 1:
        raise bad("more than one service path in context update request")
    result = []
    for path in paths:
        if not path.startswith("/"):
            raise bad("Only /absolute/ Service Paths allowed [a service path must begin with /]")
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        components = [] if path == "/" else path[1:].split("/")
        if len(components) > 10:
            raise bad("too many components in ServicePath")
        for index, component in enumerate(components):
            if component == "#" and index == len(components) - 1:
                if write and request.method in ("PATCH", "DELETE"):
                    raise bad("a component of ServicePath contains an illegal character")
                continue
            if len(component) > 50:
                raise bad("component-name too long in ServicePath")
            if not NAME_RE.match(component):
                raise bad("a component of ServicePath contains an illegal character")
        result.append(path)
    return result


def sp_query(paths: list[str]) -> dict[str, Any]:
    """The Mongo filter on ``servicepath`` for ``paths``; ``/x/#`` covers ``/x`` and all below it,
    ``/#`` everything (an empty filter)."""
    clauses: list[dict[str, Any]] = []
    for path in paths:
        if path == "/#":
            return {}
        if path.endswith("/#"):
            base = path[:-2]
            clauses.append({"servicepath": base})
            clauses.append({"servicepath": {"$regex": "^" + re.escape(base) + "/"}})
        else:
            clauses.append({"servicepath": path})
    return {"$or": clauses} if len(clauses) > 1 else clauses[0]


def sp_matches(sub_path: str, entity_path: str) -> bool:
    """Whether a subscription on ``sub_path`` (possibly ``.../#``) covers an entity in ``entity_path``."""
    if sub_path == "/#":
        return True
    if sub_path.endswith("/#"):
        base = sub_path[:-2]
        return entity_path == base or entity_path.startswith(base + "/")
    return sub_path == entity_path


def check_id(value: Any, what: str) -> str:
    """Return ``value`` if it is a valid identifier (1-256 printable ASCII characters, none of
    ``<>"'=;() &?/#``); otherwise raise 400 naming ``what``."""
    if not isinstance(value, str):
        raise bad(f"Invalid JSON type for {what}")
    if len(value) < 1:
        raise bad(f"{what} length: 0, min length supported: 1")
    if len(value) > 256:
        raise bad(f"{what} length: {len(value)}, max length supported: 256")
    for char in value:
        if ord(char) < 0x21 or ord(char) > 0x7E or char in ID_FORBIDDEN:
            raise bad(f"Invalid characters in {what}")
    return value


def has_forbidden(value: Any) -> bool:
    """Whether any string in ``value`` (keys of objects included, recursively) holds ``<>"'=;()``."""
    if isinstance(value, str):
        return any(c in FORBIDDEN for c in value)
    if isinstance(value, dict):
        return any(has_forbidden(k) or has_forbidden(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_forbidden(v) for v in value)
    return False


def default_type(value: Any) -> str:
    """The NGSI type Orion infers for an attribute or metadata value given without one."""
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, dict | list):
        return "StructuredValue"
    if value is None:
        return "None"
    return "Text"


def normalize_datetime(value: Any, where: str) -> str:
    """An ISO 8601 date-time (``Z``, ``±hh``, ``±hhmm`` or ``±hh:mm``) as ``YYYY-MM-DDThh:mm:ss.sssZ``
    UTC; 400 ``date has invalid format in <where>`` otherwise."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise bad(f"date has invalid format in {where}")
    text = value.replace("Z", "+00:00")
    match = re.match(r"^(.*[T ].*)([+-]\d{2})(\d{2})$", text)
    if match and ":" not in match.group(2) + match.group(3):
        text = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    if re.search(r"[+-]\d{2}$", text) and "T" in text:
        text += ":00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad(f"date has invalid format in {where}") from None
    return fmt_time(parsed)


def normalize_attr(name: str, raw: Any, key_values: bool) -> dict[str, Any]:
    """Validate one incoming attribute and return ``{type, value, metadata}``.

    ``key_values`` (or a non-object ``raw``) takes ``raw`` as the bare value. The type defaults to
    :func:`default_type`; values with forbidden characters are refused unless the type or a
    ``TextUnrestricted: true`` metadata allows them; ``DateTime``/``ISO8601`` values and metadata
    are normalised by :func:`normalize_datetime`.
    """
    check_id(name, "attribute name")
    if name in RESERVED_ATTRS:
        raise bad("Invalid characters in attribute name")
    if key_values or not isinstance(raw, dict):
        raw = {"value": raw}
    value = raw.get("value")
    attr_type = raw.get("type")
    if attr_type is None:
        attr_type = default_type(value)
    check_id(attr_type, "attribute type")
    metadata_in = raw.get("metadata") or {}
    if not isinstance(metadata_in, dict):
        raise bad("metadata must be a JSON object")
    unrestricted = attr_type == "TextUnrestricted" or (
        isinstance(metadata_in.get("TextUnrestricted"), dict)
        and metadata_in["TextUnrestricted"].get("value") is True
    )
    if not unrestricted and has_forbidden(value):
        raise bad("Invalid characters in attribute value")
    if attr_type in ("DateTime", "ISO8601"):
        value = normalize_datetime(value, "attribute value")
    metadata: dict[str, Any] = {}
    for meta_name, meta in metadata_in.items():
        check_id(meta_name, "metadata name")
        if not isinstance(meta, dict):
            meta = {"value": meta}
        meta_value = meta.get("value")
        meta_type = meta.get("type") or default_type(meta_value)
        check_id(meta_type, "metadata type")
        if has_forbidden(meta_value):
            raise bad("Invalid characters in metadata value")
        if meta_type in ("DateTime", "ISO8601"):
            meta_value = normalize_datetime(meta_value, "metadata value")
        metadata[meta_name] = {"type": meta_type, "value": meta_value}
    return {"type": attr_type, "value": value, "metadata": metadata}


def parse_attrs(body: dict[str, Any], key_values: bool) -> dict[str, dict[str, Any]]:
    """Every attribute of an entity body (all keys but ``id`` and ``type``), normalised."""
    return {
        name: normalize_attr(name, raw, key_values)
        for name, raw in body.items()
        if name not in ("id", "type")
    }


def options_of(request: Request) -> set[str]:
    """The comma-separated ``options`` query parameter as a set (``upsert``, ``keyValues``, ``count``...)."""
    return {o for o in request.query_params.get("options", "").split(",") if o}


async def json_body(request: Request) -> Any:
    """The request's JSON body.

    415 without a ``Content-Type`` or with one other than ``application/json``, 413 over 1 MiB,
    400 ``ParseError`` when it is not JSON.
    """
    content_type = request.headers.get("content-type")
    if not content_type:
        raise OrionError(
            415,
            "UnsupportedMediaType",
            "Content-Type header not used, default application/octet-stream is not supported",
        )
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise OrionError(415, "UnsupportedMediaType", f"not supported content type: {content_type}")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise OrionError(413, "RequestEntityTooLarge", "payload size too large")
    try:
        return json.loads(raw)
    except ValueError:
        raise OrionError(400, "ParseError", "Errors found in incoming JSON buffer") from None


async def write_request(request: Request, what: str) -> tuple[str, str, dict[str, Any], set[str]]:
    """``(tenant, service path, body, options)`` of a write on one entity, checked in this order:
    tenant, the one service path, :func:`json_body`, and 400 ``<what> must be a JSON object``
    when the body is not an object."""
    service = tenant_of(request)
    servicepath = servicepaths_of(request, write=True)[0]
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad(f"{what} must be a JSON object")
    return service, servicepath, body, options_of(request)
