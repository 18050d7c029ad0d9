"""Orion naming rules (domain/fiware.py) and the FiwareTenant value object."""

from __future__ import annotations

import pytest

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import (
    FiwareTenant,
    validate_attribute,
    validate_entity,
    validate_ngsi_id,
    validate_service,
    validate_servicepath,
)


def test_service_is_lowercased_and_limited() -> None:
    assert validate_service("Smart_City1") == "smart_city1"
    assert validate_service("a" * 50) == "a" * 50
    for bad in ("", "a" * 51, "with-dash", "sp ace", "ñ", "a/b"):
        with pytest.raises(ValidationError) as info:
            validate_service(bad)
        assert info.value.details[0]["field"] == "fiware_service"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/", "/"),
        ("/a", "/a"),
        ("/a/b_1/", "/a/b_1"),
        ("/" + "/".join(["x"] * 10), "/" + "/".join(["x"] * 10)),
    ],
)
def test_servicepath_valid(raw: str, canonical: str) -> None:
    assert validate_servicepath(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["", "a", "/a,/b", "/a//b", "/" + "/".join(["x"] * 11), "/" + "x" * 51, "/a-b", "/#", "/a/#"]
)
def test_servicepath_invalid(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_servicepath(raw, field="fiware_servicepath")
    assert info.value.details[0]["field"] == "fiware_servicepath"


def test_servicepath_hierarchical_only_for_queries() -> None:
    assert validate_servicepath("/a/#", allow_hierarchical=True) == "/a/#"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "a" * 257,
        "has space",
        "a/b",
        "a#b",
        "a?b",
        "a&b",
        "a<b",
        "a(b)",
        "a=b",
        "a;b",
        "a'b",
        'a"b',
        "é",
        "\x01",
    ],
)
def test_ngsi_id_invalid(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_ngsi_id("entity_id", bad)
    assert info.value.details[0]["field"] == "entity_id"


def test_ngsi_id_valid() -> None:
    assert validate_ngsi_id("entity_id", "urn:ngsi-ld:Room:001") == "urn:ngsi-ld:Room:001"
    assert validate_ngsi_id("feature", "a" * 256) == "a" * 256


def test_forbidden_characters_in_values_and_text_unrestricted() -> None:
    with pytest.raises(ValidationError):
        validate_attribute("attributes.name", "name", {"type": "Text", "value": "a<b"})
    with pytest.raises(ValidationError):
        validate_attribute("attributes.x", "x", {"type": "StructuredValue", "value": {"k": ["ok", "(bad)"]}})
    validate_attribute("attributes.x", "x", {"type": "TextUnrestricted", "value": "a<b>"})
    with pytest.raises(ValidationError):
        validate_attribute("attributes.id", "id", {"type": "Text", "value": "x"})


def test_validate_entity_checks_ids_and_metadata() -> None:
    validate_entity({"id": "E1", "type": "T", "a": {"type": "Number", "value": 1, "metadata": {}}})
    with pytest.raises(ValidationError):
        validate_entity({"id": "E/1", "type": "T"})
    with pytest.raises(ValidationError):
        validate_entity({"id": "E1", "type": "T", "a": {"value": 1, "metadata": {"bad name": {"value": 1}}}})


def test_tenant_value_object() -> None:
    tenant = FiwareTenant("Energy", "/demo/")
    assert (tenant.service, tenant.servicepath) == ("energy", "/demo")
    assert tenant.headers() == {"Fiware-Service": "energy", "Fiware-ServicePath": "/demo"}
    with pytest.raises(ValidationError):
        FiwareTenant("bad-service", "/")
    with pytest.raises(ValidationError):
        FiwareTenant("ok", "relative")
