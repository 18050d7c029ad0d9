"""The retraining routes through the API (FastAPI TestClient over the in-memory fakes): the
policy (422s naming the field, the next five fire times in the zone and in UTC), manual
retraining, the training queue, and the champion (pin, rollback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from chronos_core.bootstrap import Services
from chronos_core.config import Settings
from chronos_core.domain.model import ModelStatus
from tests.support.auth import bearer
from tests.support.builders import T0, model, trained_job
from tests.support.fakes import FakeSeriesSource, InMemoryModelRepository, InMemoryTrainingJobs, fake_services

POLICY: dict[str, Any] = {
    "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Berlin"},
    "window": {"last_n": 1000},
    "min_new_points": 100,
    "cooldown": "PT6H",
    "max_per_day": 2,
    "promotion_margin": 0.05,
    "trigger_rules": ["drift-demand"],
    "warm_start": True,
}


def services_with(models: int = 1, settings: Settings | None = None) -> Services:
    repo = InMemoryModelRepository()
    jobs = InMemoryTrainingJobs()
    data = {}
    for k in range(1, models + 1):
        champion = trained_job(f"champ-{k}", f"model-{k}", created_at=T0, points_available=1200)
        jobs.add(champion)
        repo.add(
            model(f"model-{k}", ModelStatus.TRAINED, entity_id=f"urn:x:Meter:{k}").model_copy(
                update={"serving": champion.serving_summary(), "has_successful_training": True}
            )
        )
        data[f"urn:x:Meter:{k}"] = [(T0 + timedelta(minutes=10 * i), 1.0) for i in range(1500)]
    return fake_services(settings, models=repo, jobs=jobs, series=FakeSeriesSource(data))


@pytest.fixture
def services() -> Services:
    return services_with()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), headers=bearer(["admin"], ["*"])) as test_client:
        yield test_client


def test_put_shows_the_next_five_fire_times_in_the_zone_and_in_utc(client: TestClient) -> None:
    response = client.put("/models/model-1/retraining-policy", json=POLICY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy"]["trigger_rules"] == ["drift-demand"] and body["policy"]["warm_start"] is True
    fires = body["next_fire_times"]
    assert len(fires) == 5
    for fire in fires:
        local = datetime.fromisoformat(fire["local"])
        utc = datetime.fromisoformat(fire["utc"].replace("Z", "+00:00"))
        assert local == utc and (local.hour, local.minute) == (2, 30)
        assert local.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert "Europe/Berlin" in body["description"]
    assert client.get("/models/model-1/retraining-policy").json()["next_fire_times"] == fires


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schedule": {"cron": "61 * * * *"}}, "schedule.cron"),
        ({"schedule": {"cron": "0 3 * * *", "timezone": "Europe/Atlantis"}}, "schedule.timezone"),
        ({"schedule": {"rate": "every hour"}}, "schedule.rate"),
        ({"schedule": {}}, "schedule"),
        ({"window": {"last_n": 0}}, "window.last_n"),
        ({"window": {"last_n": 10}}, "window.last_n"),  # below what the model needs
        ({"window": {"duration": "P1M"}}, "window.duration"),
        ({"cooldown": "soon"}, "cooldown"),
        ({"max_per_day": 0}, "max_per_day"),
        ({"promotion_margin": 1.5}, "promotion_margin"),
        ({"trigger_rules": ["has space"]}, "trigger_rules"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_policy_is_a_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = client.put("/models/model-1/retraining-policy", json={**POLICY, **change})
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["details"]]


def test_get_and_delete_answer_404_without_a_policy(client: TestClient) -> None:
    assert client.get("/models/model-1/retraining-policy").status_code == 404
    assert client.delete("/models/model-1/retraining-policy").status_code == 404
    client.put("/models/model-1/retraining-policy", json=POLICY)
    assert client.delete("/models/model-1/retraining-policy").status_code == 204
    assert client.get("/models/model-1/retraining-policy").status_code == 404
    assert client.put("/models/nope/retraining-policy", json=POLICY).status_code == 404


def test_manual_retrain_starts_then_a_second_one_is_attached(client: TestClient) -> None:
    first = client.post("/models/model-1/retrain", json={"reason": "new sensor"})
    assert first.status_code == 202, first.text
    run = first.json()
    assert run["outcome"] == "started" and run["kind"] == "manual" and run["reason"] == "new sensor"
    assert first.headers["Location"].endswith(run["job_id"])
    second = client.post("/models/model-1/retrain", headers={"Idempotency-Key": "k-1"})
    assert (second.json()["outcome"], second.json()["job_id"]) == ("attached", run["job_id"])
    job = client.get(f"/models/model-1/training-jobs/{run['job_id']}").json()
    assert [t["kind"] for t in job["triggers"]] == ["manual", "manual"]
    runs = client.get("/models/model-1/retraining-runs").json()
    assert runs["total"] == 2


def test_the_training_queue_shows_limits_and_queued_jobs_with_position_and_wait() -> None:
    services = services_with(2, Settings(training_max_concurrent=1))
    with TestClient(create_app(services), headers=bearer(["admin"], ["*"])) as client:
        started = client.post("/models/model-1/retrain").json()
        queued = client.post("/models/model-2/retrain").json()
        assert (started["outcome"], queued["outcome"]) == ("started", "queued")
        queue = client.get("/training-queue").json()
        assert (queue["global_limit"], queue["tenant_limit"]) == (1, 0)
        assert [r["training_job_id"] for r in queue["running"]] == [started["job_id"]]
        [waiting] = queue["waiting"]
        assert (waiting["training_job_id"], waiting["position"]) == (queued["job_id"], 1)
        job = client.get(f"/models/model-2/training-jobs/{queued['job_id']}").json()
        assert job["status"] == "queued" and job["queue"]["position"] == 1
    with TestClient(create_app(services), headers=bearer(["reader"], ["water"])) as other:
        assert other.get("/training-queue").json()["waiting"] == []  # another tenant's jobs are hidden


def test_pin_and_rollback_the_champion(services: Services, client: TestClient) -> None:
    services.jobs.add(trained_job("newer", "model-1", created_at=T0 + timedelta(hours=1)))
    pinned = client.put("/models/model-1/champion", json={"training_job_id": "newer"})
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["champion"]["training_job_id"] == "newer" and pinned.json()["pinned"] is True
    assert client.get("/models/model-1").json()["champion_pinned"] is True
    back = client.post("/models/model-1/champion/rollback")
    assert back.json()["champion"]["training_job_id"] == "champ-1" and back.json()["pinned"] is False
    assert client.post("/models/model-1/champion/rollback").status_code == 409  # nothing earlier
    assert client.put("/models/model-1/champion", json={"training_job_id": "missing"}).status_code == 404
    kinds = [e["kind"] for e in client.get("/models/model-1/events").json()["items"]]
    assert kinds == ["rolled_back", "pinned"]
