"""FIWARE naming rules (Orion NGSI v2), as pure functions.

These are the checks Orion applies to tenants, service paths, identifiers and string values
(``fiware-contract.md`` §2.1-§2.2). They run *before* anything is sent, so a bad name becomes a
:class:`~chronos_core.domain.errors.ValidationError` whose ``details`` name the offending field,
instead of an upstream 400 whose body we must not echo.

Rules implemented:

* **service** (tenant): 1-50 characters of ``[A-Za-z0-9_]``; returned **lowercased** (Orion lowercases
  it and so do its notifications, which is what STH stores under).
* **service path**: starts with ``/``; ``/`` alone is the root; at most 10 components of 1-50
  characters of ``[A-Za-z0-9_]``; a trailing ``/`` is removed; one path only (no commas). With
  ``allow_hierarchical=True`` the last component may be ``#`` (queries only).
* **NGSI identifiers** (entity id/type, attribute and metadata names/types): 1-256 printable ASCII
  characters, none of space, ``& ? / #`` or the general forbidden set ``< > " ' = ; ( )``.
* **string values**: no ``< > " ' = ; ( )`` anywhere, including inside compound values, unless the
  attribute type is ``TextUnrestricted``.

No I/O, no HTTP imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.errors import ValidationError

if TYPE_CHECKING:
    from chronos_core.domain.model import FiwareSource

#: Where Chronos publishes forecasts unless configured otherwise: the Orion entity type of
#: forecast entities and the IoT Agent service-group resource of forecast devices.
DEFAULT_FORECAST_ENTITY_TYPE: Final = "Prediction"
DEFAULT_FORECAST_GROUP_RESOURCE: Final = "/chronos/forecast"
#: The attributes Chronos writes on a forecast entity.
FORECAST_ATTRIBUTE: Final = "forecastSeries"
#: How the forecast's context relates to the training's gap policy (StructuredValue).
FORECAST_QUALITY_ATTRIBUTE: Final = "forecastQuality"
SOURCE_ENTITY_ATTRIBUTE: Final = "sourceEntity"
FEATURE_ATTRIBUTE: Final = "feature"
MAX_SERVICE_LENGTH: Final = 50
MAX_SERVICEPATH_LEVELS: Final = 10
MAX_SERVICEPATH_COMPONENT_LENGTH: Final = 50
MAX_ID_LENGTH: Final = 256

#: Characters Orion forbids in any string value (and in URLs outside ``q``/``mq``/...).
GENERAL_FORBIDDEN_CHARS: Final = frozenset("<>\"'=;()")
#: Extra characters forbidden in identifiers.
ID_FORBIDDEN_CHARS: Final = GENERAL_FORBIDDEN_CHARS | frozenset(" &?/#")
#: Attribute names Orion rejects outright.
RESERVED_ATTRIBUTE_NAMES: Final = frozenset({"id", "type", "geo:distance", "*"})

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_]+$")


def _fail(field: str, message: str, value: object | None = None) -> ValidationError:
    detail: dict[str, Any] = {"field": field, "message": message}
    if isinstance(value, str) and len(value) <= 300:
        detail["value"] = value
    return ValidationError(f"invalid {field}: {message}", details=[detail])


def validate_service(value: str, field: str = "fiware_service") -> str:
    """Validate a FIWARE service (tenant) and return it lowercased.

    Raises :class:`ValidationError` (details name ``field``) when the value is empty, longer than
    50 characters, or contains anything other than letters, digits and ``_``.
    """
    if not isinstance(value, str) or not value:
        raise _fail(field, "must be a non-empty string", value)
    if len(value) > MAX_SERVICE_LENGTH:
        raise _fail(field, f"at most {MAX_SERVICE_LENGTH} characters are allowed", value)
    if not _NAME_RE.match(value):
        raise _fail(field, "only letters, digits and '_' are allowed", value)
    return value.lower()


def validate_servicepath(
    value: str, field: str = "fiware_servicepath", *, allow_hierarchical: bool = False
) -> str:
    """Validate one FIWARE service path and return its canonical form (no trailing ``/``).

    ``/`` is the root. Components are 1-50 characters of ``[A-Za-z0-9_]``, at most 10 of them.
    Several comma-separated paths are rejected (writes and subscriptions accept only one).
    ``#`` is accepted as the last component only when ``allow_hierarchical`` (read queries).
    """
    if not isinstance(value, str) or not value:
        raise _fail(field, "must be a non-empty string", value)
    if "," in value:
        raise _fail(field, "only one service path is allowed", value)
    if not value.startswith("/"):
        raise _fail(field, "must begin with '/'", value)
    if value == "/":
        return value
    body = value[1:]
    if body.endswith("/"):
        body = body[:-1]
    components = body.split("/")
    if len(components) > MAX_SERVICEPATH_LEVELS:
        raise _fail(field, f"at most {MAX_SERVICEPATH_LEVELS} components are allowed", value)
    for index, component in enumerate(components):
        if component == "#" and allow_hierarchical and index == len(components) - 1:
            continue
        if not component:
            raise _fail(field, "empty component", value)
        if len(component) > MAX_SERVICEPATH_COMPONENT_LENGTH:
            raise _fail(field, f"components are at most {MAX_SERVICEPATH_COMPONENT_LENGTH} characters", value)
        if not _NAME_RE.match(component):
            raise _fail(field, "components may hold only letters, digits and '_'", value)
    return "/" + "/".join(components)


def ngsi_id_problem(value: object) -> str | None:
    """Return why ``value`` is not a valid NGSI identifier, or ``None`` when it is valid."""
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"at most {MAX_ID_LENGTH} characters are allowed"
    for char in value:
        code = ord(char)
        if code < 0x21 or code > 0x7E:
            return "only printable ASCII characters without spaces are allowed"
        if char in ID_FORBIDDEN_CHARS:
            return f"character {char!r} is not allowed"
    return None


def validate_ngsi_id(field_name: str, value: str) -> str:
    """Validate an NGSI identifier (entity id/type, attribute/metadata name/type) and return it.

    Raises :class:`ValidationError` whose details name ``field_name``.
    """
    problem = ngsi_id_problem(value)
    if problem is not None:
        raise _fail(field_name, problem, value)
    return value


def validate_path_addressable(field_name: str, value: str) -> str:
    """Refuse ``.`` and ``..``: valid NGSI identifiers, but no URL path can address them (STH-Comet
    reads a series by ``/entities/{id}/attrs/{attr}``), so a model on them could never train."""
    if value in (".", ".."):
        raise _fail(field_name, "'.' and '..' cannot be addressed in a URL path", value)
    return value


def validate_attribute_name(field_name: str, value: str) -> str:
    """Validate an attribute name: an NGSI identifier that is not reserved (``id``, ``type``...)."""
    validate_ngsi_id(field_name, value)
    if value in RESERVED_ATTRIBUTE_NAMES:
        raise _fail(field_name, "is a reserved attribute name", value)
    return value


def forbidden_value_problem(value: Any) -> str | None:
    """Return a description of the first forbidden character in a (compound) value, else ``None``."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            for char in item:
                if char in GENERAL_FORBIDDEN_CHARS:
                    return f"character {char!r} is not allowed in values"
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                stack.append(key)
                stack.append(sub)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def validate_attribute(field_name: str, name: str, attribute: Mapping[str, Any]) -> None:
    """Validate one normalized NGSI v2 attribute ``{type, value, metadata}`` before sending it.

    Checks the attribute name and type, metadata names and types, and forbidden characters in the
    value and metadata values (skipped for type ``TextUnrestricted``).
    """
    validate_attribute_name(field_name, name)
    if not isinstance(attribute, Mapping):
        raise _fail(field_name, "an attribute must be an object with 'type' and 'value'")
    attr_type = attribute.get("type")
    if attr_type is not None:
        validate_ngsi_id(f"{field_name}.type", attr_type)
    if attr_type != "TextUnrestricted":
        problem = forbidden_value_problem(attribute.get("value"))
        if problem is not None:
            raise _fail(field_name, problem)
    metadata = attribute.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise _fail(f"{field_name}.metadata", "must be an object")
    for meta_name, meta in metadata.items():
        meta_field = f"{field_name}.metadata.{meta_name}"
        validate_ngsi_id(meta_field, meta_name)
        if not isinstance(meta, Mapping):
            raise _fail(meta_field, "must be an object with 'type' and 'value'")
        if meta.get("type") is not None:
            validate_ngsi_id(f"{meta_field}.type", meta["type"])
        problem = forbidden_value_problem(meta.get("value"))
        if problem is not None:
            raise _fail(meta_field, problem)


def validate_entity(entity: Mapping[str, Any]) -> None:
    """Validate a normalized NGSI v2 entity ``{"id", "type", <attr>: {...}}`` before sending it."""
    validate_ngsi_id("entity_id", entity.get("id"))  # type: ignore[arg-type]
    if entity.get("type") is not None:
        validate_ngsi_id("entity_type", entity["type"])
    validate_attributes({k: v for k, v in entity.items() if k not in ("id", "type")})


def validate_attributes(attributes: Mapping[str, Any]) -> None:
    """Validate a mapping of attribute name to normalized attribute."""
    for name, attribute in attributes.items():
        validate_attribute(f"attributes.{name}", name, attribute)


@dataclass(frozen=True, slots=True)
class FiwareTenant:
    """The tenant of a FIWARE call: ``Fiware-Service`` + ``Fiware-ServicePath``, validated
    (``service`` lowercased, ``servicepath`` one canonical absolute path).

    Every call to STH-Comet, Orion or the IoT Agent takes the tenant of the model being served,
    never a global default. Construction raises :class:`ValidationError` with details naming
    ``fiware_service`` / ``fiware_servicepath``.
    """

    service: str
    servicepath: str = "/"

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", validate_service(self.service))
        object.__setattr__(self, "servicepath", validate_servicepath(self.servicepath))

    @classmethod
    def of(cls, source: FiwareSource) -> FiwareTenant:
        """The tenant a model's series lives in."""
        return cls(source.fiware_service, source.fiware_servicepath)

    def headers(self) -> dict[str, str]:
        """The two tenant headers (servers read header names case-insensitively)."""
        return {"Fiware-Service": self.service, "Fiware-ServicePath": self.servicepath}


class SeriesRef(BaseModel):
    """One stored series: an attribute of an entity (``entity_type``, ``entity_id``, ``attribute``)."""

    model_config = ConfigDict(frozen=True)

    entity_type: str = Field(min_length=1)
    entity_id: str = Field(min_length=1)
    attribute: str = Field(min_length=1)
