"""The anomaly-scan routes over the fakes: roles, 422s naming the field, the scan resource with
its progress, the paged events and data-quality issues, cancel and retry."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from chronos_core.bootstrap import Services
from tests.support.auth import bearer
from tests.unit.application.test_anomaly_scans import MODEL, POINTS, SPIKES, run_scan, world

BASE = f"/models/{MODEL}/anomaly-scans"


@pytest.fixture
def services() -> Services:
    return world()


def client(services: Services, role: str = "operator") -> TestClient:
    return TestClient(create_app(services), headers=bearer([role], ["*"]))


def test_a_scan_is_started_followed_and_its_events_paged(services: Services) -> None:
    api = client(services)
    started = api.post(BASE, json={"last_n": len(POINTS), "sensitivity": "medium", "merge_gap": 1})
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "queued" and body["settings"]["false_discovery_rate"] == 0.05
    assert started.headers["Location"] == f"{BASE}/{body['id']}"
    run_scan(services, body["id"])
    got = api.get(f"{BASE}/{body['id']}").json()
    assert got["status"] == "completed" and got["progress"]["percent"] == 100.0
    assert got["progress"]["chunks_done"] == got["progress"]["chunks_total"] == 3
    assert got["progress"]["points_scored"] > 2900 and got["progress"]["anomalies_so_far"] >= len(SPIKES)
    assert got["summary"]["events"] == len(SPIKES) and got["phases"]["score"]["seconds"] is not None
    page = api.get(f"{BASE}/{body['id']}/events", params={"skip": 1, "limit": 1}).json()
    assert page["total"] == len(SPIKES) and len(page["items"]) == 1
    event = page["items"][0]
    assert {"start", "end", "peak_time", "peak_value", "expected", "severity", "level", "breaches"} <= set(
        event
    )
    assert api.get(f"{BASE}/{body['id']}/data-quality").json()["total"] == 0
    assert [s["id"] for s in api.get(BASE).json()["items"]] == [body["id"]]
    assert api.post(f"{BASE}/{body['id']}/cancel").status_code == 409
    assert api.post(f"{BASE}/{body['id']}/retry").status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_n": "10"}, "last_n"),
        ({"last_n": 0}, "last_n"),
        ({"last_n": 10, "false_discovery_rate": 0.9}, "false_discovery_rate"),
        ({"last_n": 10, "sensitivity": "extreme"}, "sensitivity"),
        ({"last_n": 10, "min_event_points": 0}, "min_event_points"),
        ({"last_n": 10, "colour": "red"}, "colour"),
        ({"date_from": "yesterday"}, "date_from"),
        ({}, "date_from"),
        ({"last_n": 10, "date_to": "2026-01-01T00:00:00Z"}, "date_to"),
        ({"last_n": 10, "sensitivity": "low", "false_discovery_rate": 0.01}, "sensitivity"),
        ({"last_n": 1_000_000}, "last_n"),
        ({"date_from": "2026-01-02T00:00:00", "date_to": "2026-01-01T00:00:00+00:00"}, "date_to"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field(services: Services, body: dict[str, Any], field: str) -> None:
    answer = client(services).post(BASE, json=body)
    assert answer.status_code == 422, answer.text
    assert field in [d["field"].split(".")[-1] for d in answer.json()["details"]], answer.json()


def test_readers_read_and_operators_start(services: Services) -> None:
    assert client(services, "reader").post(BASE, json={"last_n": 100}).status_code == 403
    assert client(services, "reader").get(BASE).status_code == 200
    assert client(services).get(f"{BASE}/no-such-scan").status_code == 404


def test_cancel_then_retry_refused(services: Services) -> None:
    api = client(services)
    scan = api.post(BASE, json={"last_n": 500}).json()
    cancelled = api.post(f"{BASE}/{scan['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.post(f"{BASE}/{scan['id']}/retry").status_code == 409
