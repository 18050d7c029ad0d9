"""The monitoring API in-process (FastAPI TestClient) on the real MongoDB-compatible server:
alert rules (tenant-scoped, operator to write, 422 naming the field), channels (the secret shown
once, counters), silences, alerts with their events and deliveries, and acknowledgement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo.database import Database

from chronos_core.adapters.mongo import Document, MongoModelRepository, MongoTrainingJobRepository
from chronos_core.api.app import create_app
from chronos_core.bootstrap import Services
from chronos_core.domain.model import utcnow
from chronos_core.domain.notifications import DeliveryOutcome
from tests.support.app import mongo_services
from tests.support.auth import bearer
from tests.support.builders import job
from tests.support.fakes import FakeNotifier, FakeObservedSeries
from tests.support.monitoring import ENTITY, deliver_all, monitored_job, served_model, tick

pytestmark = pytest.mark.integration

HOOK = {"url": "https://hooks.example.com/chronos", "headers": {"Authorization": "Bearer receiver-token"}}


@pytest.fixture
def services(mongo_db: Database[Document]) -> Services:
    built = mongo_services(
        mongo_db, observed_series=FakeObservedSeries({ENTITY: []}), notifier=FakeNotifier()
    )
    MongoModelRepository(mongo_db).add(served_model())
    jobs = MongoTrainingJobRepository(mongo_db)
    jobs.add(monitored_job())
    jobs.add(job("job-other", model_id="model-other"))
    return built


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), headers=bearer(["operator"], ["energy"])) as test_client:
        yield test_client


def channel(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {"name": "ops", "type": "webhook", "fiware_service": "energy", "config": HOOK, **overrides}
    response = client.post("/alert-channels", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def rule_body(**overrides: Any) -> dict[str, Any]:
    return {"type": "observed_threshold", "params": {"threshold": 100}, "model_id": "model-1", **overrides}


def create_rule(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/alert-rules", json=rule_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [d["field"] for d in response.json()["details"]]


# ---------------------------------------------------------------------------------- channels


def test_a_webhook_channel_shows_its_secret_once_and_hides_header_values(client: TestClient) -> None:
    created = channel(client)
    assert created["secret"] and len(created["secret"]) >= 32 and created["secret_set"] is True
    shown = client.get(f"/alert-channels/{created['id']}").json()
    assert "secret" not in shown and shown["secret_set"] is True
    assert shown["config"]["headers"] == ["Authorization"]  # names only: values may be credentials
    assert shown["stats"] == {
        "times_sent": 0, "delivered": 0, "failed": 0, "last_notification": None,
        "last_success": None, "last_success_code": None, "last_failure": None,
        "last_failure_reason": None, "consecutive_failures": 0,
    }  # fmt: skip
    assert client.get("/alert-channels").json()["total"] == 1


def test_channel_validation_and_tenancy(client: TestClient, services: Services) -> None:
    private = client.post(
        "/alert-channels",
        json={
            "name": "x",
            "type": "webhook",
            "fiware_service": "energy",
            "config": {"url": "http://127.0.0.1:9/x"},
        },
    )
    assert fields(private) == ["config.url"]
    assert fields(
        client.post(
            "/alert-channels",
            json={"name": "x", "type": "sns", "fiware_service": "energy", "config": {"topic_arn": "x"}},
        )
    ) == ["config.topic_arn"]
    assert (
        client.post(
            "/alert-channels", json={"name": "x", "type": "orion", "fiware_service": "water"}
        ).status_code
        == 403
    )
    created = channel(client)
    with TestClient(create_app(services), headers=bearer(["operator"], ["water"])) as other:
        assert other.get(f"/alert-channels/{created['id']}").status_code == 404
        assert other.get("/alert-channels").json()["total"] == 0
    with TestClient(create_app(services), headers=bearer(["reader"], ["energy"])) as reader:
        assert (
            reader.post(
                "/alert-channels", json={"name": "x", "type": "orion", "fiware_service": "energy"}
            ).status_code
            == 403
        )
        assert reader.get(f"/alert-channels/{created['id']}").status_code == 200


def test_a_channel_in_use_cannot_be_deleted(client: TestClient) -> None:
    created = channel(client)
    rule = create_rule(client, channels=[created["id"]])
    response = client.delete(f"/alert-channels/{created['id']}")
    assert response.status_code == 409 and rule["rule"]["id"] in response.json()["details"][0]["message"]
    assert client.patch(f"/alert-rules/{rule['rule']['id']}", json={"channels": []}).status_code == 200
    assert client.delete(f"/alert-channels/{created['id']}").status_code == 204


# -------------------------------------------------------------------------------------- rules


def test_create_read_list_update_and_delete_a_rule(client: TestClient) -> None:
    hook = channel(client)
    response = client.post(
        "/alert-rules", json=rule_body(channels=[hook["id"]], severity="high", for_seconds=120)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    rule_id = created["rule"]["id"]
    assert response.headers["location"] == f"/alert-rules/{rule_id}"
    assert created["rule"]["fiware_service"] == "energy" and created["rule"]["entity_id"] == ENTITY
    assert created["state"]["state"] == "ok" and created["last_evaluation"] is None
    assert created["stats"] == {
        "fired": 0, "active": 0, "materialized": 0, "averted": 0, "undecided": 0, "precision": None,
        "median_lead_time_seconds": None,
    }  # fmt: skip
    assert client.get(f"/alert-rules/{rule_id}").json()["rule"] == created["rule"]
    create_rule(client, type="staleness", params={})
    listed = client.get("/alert-rules", params={"type": "staleness"}).json()
    assert listed["total"] == 1 and listed["items"][0]["type"] == "staleness"
    assert client.get("/alert-rules", params={"model_id": "model-1"}).json()["total"] == 2
    changed = client.patch(
        f"/alert-rules/{rule_id}", json={"params": {"threshold": 5, "direction": "below"}, "enabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert (
        changed.json()["rule"]["params"]["direction"] == "below"
        and changed.json()["rule"]["enabled"] is False
    )
    assert client.delete(f"/alert-rules/{rule_id}").status_code == 204
    assert client.get(f"/alert-rules/{rule_id}").status_code == 404


def test_invalid_rules_are_422_naming_the_field(client: TestClient) -> None:
    assert fields(client.post("/alert-rules", json=rule_body(params={}))) == ["params.threshold"]
    assert fields(
        client.post(
            "/alert-rules", json=rule_body(evaluation_interval_seconds=600, repeat_interval_seconds=60)
        )
    ) == ["repeat_interval_seconds"]
    assert fields(client.post("/alert-rules", json=rule_body(channels=["no-such-channel"]))) == [
        "channels[0]"
    ]
    assert fields(client.post("/alert-rules", json=rule_body(model_id="no-such-model"))) == ["model_id"]
    assert fields(client.post("/alert-rules", json=rule_body(job_id="job-other"))) == ["job_id"]
    assert fields(client.post("/alert-rules", json=rule_body(severity="urgent"))) == ["severity"]
    assert fields(
        client.post(
            "/alert-rules",
            json=rule_body(type="predicted_crossing", params={"threshold": 1, "probability": 2}),
        )
    ) == ["params.probability"]
    assert fields(client.post("/alert-rules", json=rule_body(notify_on_resolve="yes"))) == [
        "notify_on_resolve"
    ]
    rule = create_rule(client)
    assert fields(
        client.patch(f"/alert-rules/{rule['rule']['id']}", json={"repeat_interval_seconds": 10})
    ) == ["repeat_interval_seconds"]


def test_rules_are_tenant_scoped_and_written_by_operators(client: TestClient, services: Services) -> None:
    rule = create_rule(client)
    rule_id = rule["rule"]["id"]
    with TestClient(create_app(services), headers=bearer(["admin"], ["water"])) as other:
        assert other.get(f"/alert-rules/{rule_id}").status_code == 404
        assert other.get("/alert-rules").json()["total"] == 0
        assert fields(other.post("/alert-rules", json=rule_body())) == ["model_id"]  # invisible model
        assert other.delete(f"/alert-rules/{rule_id}").status_code == 404
    with TestClient(create_app(services), headers=bearer(["reader"], ["energy"])) as reader:
        assert reader.post("/alert-rules", json=rule_body()).status_code == 403
        assert reader.patch(f"/alert-rules/{rule_id}", json={"name": "x"}).status_code == 403
        assert reader.get(f"/alert-rules/{rule_id}").status_code == 200
    assert TestClient(create_app(services)).get("/alert-rules").status_code == 401


# ------------------------------------------------------------------------ alerts and silences


def test_an_alert_with_its_events_deliveries_and_acknowledgement(
    client: TestClient, services: Services
) -> None:
    hook = channel(client)
    rule = create_rule(client, channels=[hook["id"]])
    rule_id = rule["rule"]["id"]
    now = utcnow()
    services.observed_series.points[ENTITY] = [(now - timedelta(minutes=1), 150.0)]  # type: ignore[attr-defined]
    services.notifier.outcomes[hook["id"]] = [
        DeliveryOutcome(ok=False, status_code=503, retryable=True, reason="HTTP 503")
    ]  # type: ignore[attr-defined]
    tick(services, now)
    deliver_all(services, now)
    active = client.get("/alerts").json()
    assert active["total"] == 1
    alert = active["items"][0]
    assert alert["rule_id"] == rule_id and alert["status"] == "firing" and alert["value"] == 150
    detail = client.get(f"/alerts/{alert['id']}").json()
    assert [(e["from_state"], e["to_state"]) for e in detail["events"]] == [("ok", "firing")]
    [delivery] = detail["deliveries"]
    assert delivery["status"] == "retrying" and delivery["attempts"] == 1
    assert delivery["history"][0]["reason"] == "HTTP 503"
    shown = client.get(f"/alert-channels/{hook['id']}").json()["stats"]
    assert (
        shown["times_sent"] == 1
        and shown["consecutive_failures"] == 1
        and shown["last_failure_reason"] == "HTTP 503"
    )
    assert client.get(f"/alert-rules/{rule_id}/events").json()["total"] == 1
    view = client.get(f"/alert-rules/{rule_id}").json()
    assert view["state"]["state"] == "firing" and view["last_evaluation"]["outcome"] == "breach"
    assert view["stats"]["fired"] == 1 and view["stats"]["active"] == 1
    acknowledged = client.post(f"/alerts/{alert['id']}/ack", json={"comment": "looking"})
    assert acknowledged.status_code == 200 and acknowledged.json()["acknowledged_by"] == "tester"
    services.observed_series.points[ENTITY] = [(now, 10.0)]  # type: ignore[attr-defined]
    tick(services, now + timedelta(minutes=1))
    assert client.get("/alerts").json()["total"] == 0
    assert client.get("/alerts", params={"status": "resolved"}).json()["total"] == 1
    assert client.get("/alerts", params={"status": "all", "severity": "medium"}).json()["total"] == 1
    assert client.post(f"/alerts/{alert['id']}/ack").status_code == 409
    with TestClient(create_app(services), headers=bearer(["operator"], ["water"])) as other:
        assert other.get(f"/alerts/{alert['id']}").status_code == 404


def test_silences_on_a_rule_or_a_model(client: TestClient) -> None:
    rule = create_rule(client)
    ends = (utcnow() + timedelta(hours=1)).isoformat()
    response = client.post(
        "/silences", json={"rule_id": rule["rule"]["id"], "ends_at": ends, "comment": "maintenance"}
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert silence["fiware_service"] == "energy" and silence["created_by"] == "tester"
    assert client.post("/silences", json={"model_id": "model-1", "ends_at": ends}).status_code == 201
    assert client.get("/silences").json()["total"] == 2
    assert fields(
        client.post("/silences", json={"rule_id": "x", "model_id": "model-1", "ends_at": ends})
    ) == ["body"]
    past = (utcnow() - timedelta(hours=1)).isoformat()
    assert fields(client.post("/silences", json={"model_id": "model-1", "ends_at": past})) == ["ends_at"]
    assert fields(client.post("/silences", json={"rule_id": "no-such-rule", "ends_at": ends})) == ["rule_id"]
    assert client.delete(f"/silences/{silence['id']}").status_code == 204
    assert client.get("/silences").json()["total"] == 1
