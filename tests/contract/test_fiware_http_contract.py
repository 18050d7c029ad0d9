"""Contract tests: the SAME assertions run against responses recorded from fiware-contract.md and
against the live sandbox. A failure on ``recorded`` means the check misreads the contract; a
failure on ``sandbox`` means the sandbox drifted from the real components."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.fiware_sandbox.testing import Sandbox

CASES_FILE = Path(__file__).parent / "recorded" / "fiware_http_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text())["cases"]
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
#: A raw point as real STH-Comet 2.11 returns it: every stored field, ``_id`` first.
STH_POINT_KEYS = ["_id", "recvTime", "attrName", "attrType", "attrValue"]


@dataclass
class Resp:
    status: int
    headers: httpx.Headers  # case-insensitive, like the clients read them
    body: Any


# ------------------------------------------------------------------------------------- assertions


def sth_points_ok(points: list[dict[str, Any]], values: list[Any], attr_name: str = "temperature") -> None:
    assert [p["attrValue"] for p in points] == values  # numbers stored by Cygnus come back as strings
    assert all(list(p) == STH_POINT_KEYS for p in points)
    assert all(OBJECT_ID.match(p["_id"]) and ISO_MS_Z.match(p["recvTime"]) for p in points)
    assert all(p["attrName"] == attr_name and p["attrType"] == "Number" for p in points)
    assert len({p["_id"] for p in points}) == len(points)
    assert [p["recvTime"] for p in points] == sorted(p["recvTime"] for p in points)


def v2_error(r: Resp, status: int, description: str | None = None) -> None:
    assert r.status == status
    assert set(r.body) == {"error", "description"}
    if description is not None:
        assert r.body["description"] == description


def iota_error(r: Resp, status: int, name: str) -> None:
    assert r.status == status
    assert set(r.body) == {"name", "message"} and r.body["name"] == name


def check_sth_v2_lastn(r: Resp) -> None:
    assert r.status == 200 and r.body["type"] == "StructuredValue"
    sth_points_ok(r.body["value"], ["21.5", "21.7", "21.9"])
    assert "fiware-total-count" not in r.headers and r.headers.get("fiware-correlator")


def check_sth_integral_numbers(r: Resp) -> None:
    assert r.status == 200 and r.body["type"] == "StructuredValue"
    sth_points_ok(r.body["value"], [11, 11.5, "11.0"])  # JavaScript writes the double 11 as 11
    assert [type(p["attrValue"]) for p in r.body["value"]] == [int, float, str]


def check_sth_v1_count(r: Resp) -> None:
    assert r.status == 200
    assert r.headers["Fiware-Total-Count"] == "3"  # spelled as Orion does: lookup is case-insensitive
    (response,) = r.body["contextResponses"]
    element = response["contextElement"]
    assert (element["id"], element["type"], element["isPattern"]) == ("Room1", "Room", False)
    assert response["statusCode"] == {"code": "200", "reasonPhrase": "OK"}
    (attribute,) = element["attributes"]
    assert attribute["name"] == "temperature"
    sth_points_ok(attribute["values"], ["21.5", "21.7"])


def check_sth_no_count(r: Resp) -> None:
    assert r.status == 200 and "fiware-total-count" not in r.headers
    sth_points_ok(r.body["value"], ["21.7", "21.9"])


def check_sth_v1_page_guard(r: Resp) -> None:
    assert r.status == 400
    assert r.body["statusCode"] == 400 and r.body["error"] == "Bad Request"
    assert r.body["message"] == "hLimit <= lastN <= config.maxPageSize"


def check_sth_unknown_param(r: Resp) -> None:
    assert r.status == 400 and r.body["statusCode"] == 400
    assert r.body["message"] == '"type" is not allowed'


def check_sth_empty_zero_count(r: Resp) -> None:
    assert r.status == 200 and r.body == {"type": "StructuredValue", "value": []}
    assert r.headers["fiware-total-count"] == "0"


def check_orion_version(r: Resp) -> None:
    assert r.status == 200
    assert all(isinstance(v, str) for v in r.body["orion"].values())
    assert re.match(r"^\d+\.\d+\.\d+", r.body["orion"]["version"])


def check_created(location: str) -> Callable[[Resp], None]:
    def check(r: Resp) -> None:
        assert r.status == 201 and r.headers["Location"] == location and not r.body

    return check


def check_upsert(r: Resp) -> None:
    assert r.status == 204 and r.headers["location"] == "/v2/entities/Room1?type=Room" and not r.body


def check_orion_entity(r: Resp) -> None:
    assert r.status == 200
    assert r.body["temperature"]["metadata"]["TimeInstant"] == {
        "type": "DateTime", "value": "2024-03-01T10:00:00.000Z"}  # fmt: skip
    assert r.body["name"] == {"type": "Text", "value": "Kitchen", "metadata": {}}


def check_subscription_created(r: Resp) -> None:
    assert r.status == 201 and not r.body
    assert re.fullmatch(r"/v2/subscriptions/[0-9a-f]{24}", r.headers["location"])


def check_iota_about(r: Resp) -> None:
    assert r.status == 200 and set(r.body) >= {"libVersion", "port", "baseRoot", "version"}


def check_iota_list_total(r: Resp) -> None:
    assert r.status == 200 and r.body["count"] == 2 and len(r.body["devices"]) == 1
    device = r.body["devices"][0]
    assert device["device_id"] == "dev01" and device["entity_name"] == "Sensor:dev01"
    assert device["service_path"] == "/"


CHECKS: dict[str, Callable[[Resp], None]] = {
    "sth_version": lambda r: (
        (r.status == 200 and re.match(r"^\d+\.\d+\.\d+$", r.body["version"])) or pytest.fail()
    ),
    "sth_v2_lastN_numbers_as_strings": check_sth_v2_lastn,
    "sth_integral_numbers_render_as_integers": check_sth_integral_numbers,
    "sth_v1_page_with_count_header": check_sth_v1_count,
    "sth_no_count_header_without_count_true": check_sth_no_count,
    "sth_hlimit_above_100_is_400": lambda r: v2_error(r, 400, "hLimit <= lastN <= config.maxPageSize"),
    "sth_lastN_above_100_is_400_v1": check_sth_v1_page_guard,
    "sth_hlimit_without_hoffset_is_400": lambda r: v2_error(
        r,
        400,
        "A combination of the following query params is required: lastN, hLimit and hOffset, "
        "filetype, or aggrMethod and aggrPeriod",
    ),  # fmt: skip
    "sth_unknown_parameter_is_400": check_sth_unknown_param,
    "sth_v2_requires_type": lambda r: v2_error(r, 400, 'child "type" fails because ["type" is required]'),
    "sth_missing_service_header_is_400": lambda r: v2_error(r, 400),
    "sth_unknown_series_is_empty_with_zero_count": check_sth_empty_zero_count,
    "sth_offset_past_end_is_empty": lambda r: (r.status == 200 and r.body["value"] == []) or pytest.fail(),
    "orion_version": check_orion_version,
    "orion_create_is_201_with_location": check_created("/v2/entities/Room1?type=Room"),
    "orion_upsert_is_204": check_upsert,
    "orion_duplicate_create_is_422": lambda r: v2_error(r, 422, "Already Exists"),
    "orion_get_entity_normalized": check_orion_entity,
    "orion_missing_entity_is_404": lambda r: v2_error(r, 404),
    "orion_bad_tenant_is_400": lambda r: v2_error(
        r, 400, "bad character in tenant name - only underscore and alphanumeric characters are allowed"
    ),
    "orion_forbidden_value_is_400": lambda r: v2_error(r, 400, "Invalid characters in attribute value"),
    "orion_limit_above_1000_is_400": lambda r: v2_error(r, 400, "Bad pagination limit: /2000/ [max: 1000]"),
    "orion_subscription_is_201_with_location": check_subscription_created,
    "orion_subscription_without_entities_is_400": lambda r: v2_error(r, 400, "subject entities is empty"),
    "iota_about": check_iota_about,
    "iota_create_group_is_201": lambda r: (r.status == 201 and r.body == {}) or pytest.fail(),
    "iota_duplicate_group_is_409": lambda r: iota_error(r, 409, "DUPLICATE_GROUP"),
    "iota_duplicate_device_is_409": lambda r: iota_error(r, 409, "DUPLICATE_DEVICE_ID"),
    "iota_list_count_is_total": check_iota_list_total,
    "iota_empty_list_is_200": lambda r: (
        (r.status == 200 and r.body == {"count": 0, "devices": []}) or pytest.fail()
    ),
    "iota_missing_headers_is_400": lambda r: iota_error(r, 400, "MISSING_HEADERS"),
    "iota_missing_device_is_404": lambda r: iota_error(r, 404, "DEVICE_NOT_FOUND"),
    "iota_delete_device_is_204": lambda r: (r.status == 204 and not r.body) or pytest.fail(),
}


def test_every_recorded_case_has_a_check() -> None:
    assert {case["name"] for case in CASES} == set(CHECKS)


# ------------------------------------------------------------------------------------ the sources


def fill(value: Any, mapping: dict[str, str]) -> Any:
    text = json.dumps(value)
    for key, replacement in mapping.items():
        text = text.replace("{" + key + "}", replacement)
    return json.loads(text)


def recorded_response(case: dict[str, Any]) -> Resp:
    recorded = case["recorded"]
    return Resp(recorded["status"], httpx.Headers(recorded.get("headers") or {}), recorded.get("body"))


def live_response(sandbox: Sandbox, case: dict[str, Any]) -> Resp:
    mapping = {"service": f"c{uuid.uuid4().hex[:12]}", "uid": uuid.uuid4().hex[:12]}
    case = fill(case, mapping)
    urls = {"sth": sandbox.sth_url, "orion": sandbox.orion_url, "iota": sandbox.iota_url}
    with httpx.Client(timeout=10) as client:
        for step in case.get("setup", []):
            response = client.request(
                step["method"],
                urls[step["component"]] + step["path"],
                params=step.get("params"),
                headers=step.get("headers"),
                json=step.get("json"),
            )
            assert response.status_code < 300, response.text
        request = case["request"]
        response = client.request(
            request["method"],
            urls[case["component"]] + request["path"],
            params=request.get("params"),
            headers=request.get("headers"),
            json=request.get("json"),
        )
    body = response.json() if response.content else None
    return Resp(response.status_code, response.headers, body)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_recorded(case: dict[str, Any]) -> None:
    CHECKS[case["name"]](recorded_response(case))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_sandbox(case: dict[str, Any], contract_sandbox: Sandbox) -> None:
    CHECKS[case["name"]](live_response(contract_sandbox, case))
