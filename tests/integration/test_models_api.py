"""The models API in-process (FastAPI TestClient) against the real MongoDB-compatible server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo.database import Database

from chronos_core.adapters.mongo import Document, MongoHealthProbe
from chronos_core.api.app import create_app
from chronos_core.application.ports.health import DependencyCheck
from chronos_core.application.system.health import HealthCache
from tests.support.app import build_app
from tests.support.auth import bearer
from tests.support.fakes import FakeSeriesSource, FakeWorkflow, fake_services

pytestmark = pytest.mark.integration

BODY: dict[str, Any] = {
    "model_type": "gru",
    "rnn_layers": [{"units": 16}, {"units": 8, "dropout": 0.2}],
    "feature": "demand",
    "entity_type": "Meter",
    "entity_id": "urn:ngsi-ld:Meter:1",
    "fiware_service": "energy",
}


@pytest.fixture
def client(mongo_db: Database[Document]) -> Iterator[TestClient]:
    with TestClient(build_app(mongo_db), headers=bearer(["admin"], ["*"])) as test_client:
        yield test_client


def create(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/models/", json={**BODY, **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_then_get_round_trips_through_the_database(
    client: TestClient, mongo_db: Database[Document]
) -> None:
    created = create(client)
    assert created["status"] == "draft"
    assert created["name"] == "GRU - demand"
    assert created["fiware_servicepath"] == "/"
    assert created["created_at"].endswith("Z")
    fetched = client.get(f"/models/{created['id']}").json()
    assert fetched == created
    stored = mongo_db.models.find_one({"id": created["id"]})
    assert stored is not None
    assert stored["created_at"].tzinfo is not None  # BSON date, read back as aware UTC
    assert isinstance(stored["id"], str)


def test_list_filters_and_paging(client: TestClient) -> None:
    ids = [create(client, entity_id=f"urn:ngsi-ld:Meter:{i}")["id"] for i in range(5)]
    create(client, model_type="lstm", feature="temperature")
    page = client.get("/models/", params={"model_type": "gru", "limit": 2, "skip": 1}).json()
    assert page["total"] == 5
    assert [m["id"] for m in page["items"]] == list(reversed(ids))[1:3]  # newest first
    by_feature = client.get("/models", params={"feature": "temperature"}).json()
    assert by_feature["total"] == 1 and by_feature["items"][0]["model_type"] == "lstm"
    by_entity = client.get("/models/", params={"entity_id": "urn:ngsi-ld:Meter:3"}).json()
    assert by_entity["total"] == 1
    assert client.get("/models/", params={"status": "trained"}).json()["total"] == 0


def test_unknown_filter_value_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.get("/models/", params={"model_type": "transformer"})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "query.model_type"


def test_types(client: TestClient) -> None:
    assert client.get("/models/types").json() == [
        {"value": "lstm", "label": "LSTM"},
        {"value": "gru", "label": "GRU"},
    ]


def test_patch_draft_and_conflict_once_trained(client: TestClient, mongo_db: Database[Document]) -> None:
    created = create(client)
    response = client.patch(f"/models/{created['id']}", json={"epochs": 50, "lookback_window": 48})
    assert response.status_code == 200, response.text
    assert response.json()["lookback_window"] == 48
    assert response.json()["early_stopping_patience"] == 5
    mongo_db.models.update_one({"id": created["id"]}, {"$set": {"status": "trained"}})
    conflict = client.patch(f"/models/{created['id']}", json={"epochs": 10})
    assert conflict.status_code == 409
    assert conflict.json()["error"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lookback_window": 0}, "lookback_window"),
        ({"model_type": "LSTM"}, "model_type"),
        ({"rnn_layers": [{"units": 4, "dropout": 1}]}, "rnn_layers.0.dropout"),
        ({"validation_ratio": 0.6, "test_ratio": 0.5}, "test_ratio"),
        ({"entity_id": "has space"}, "entity_id"),
        ({"surprise": 1}, "surprise"),
        ({"batch_size": "many"}, "batch_size"),
        ({"sampling_interval": "P1M2D"}, "sampling_interval"),
        ({"sampling_interval": "P0D"}, "sampling_interval"),
        ({"season_length": 0}, "season_length"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/models/", json={**BODY, **body})
    assert response.status_code == 422, response.text
    payload = response.json()
    assert payload["error"] == "validation_error"
    assert any(field in d["field"] for d in payload["details"]), payload


def test_sampling_interval_and_season_round_trip_and_older_documents_load(
    client: TestClient, mongo_db: Database[Document]
) -> None:
    created = create(client, sampling_interval="PT3600S", season_length=24)
    assert (created["sampling_interval"], created["season_length"]) == ("PT1H", 24)
    assert client.get(f"/models/{created['id']}").json() == created
    stored = mongo_db.models.find_one({"id": created["id"]})
    assert stored is not None and stored["sampling_interval"] == "PT1H"
    # A definition stored before the two fields existed still loads (both null: detected).
    older = create(client)
    mongo_db.models.update_one(
        {"id": older["id"]}, {"$unset": {"sampling_interval": "", "season_length": ""}}
    )
    fetched = client.get(f"/models/{older['id']}")
    assert fetched.status_code == 200, fetched.text
    assert (fetched.json()["sampling_interval"], fetched.json()["season_length"]) == (None, None)


def test_malformed_json_is_422_not_500(client: TestClient) -> None:
    response = client.post("/models/", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


def test_missing_model_is_404_and_delete_works(client: TestClient) -> None:
    assert client.get("/models/6f1c7d8e-0000-4000-8000-000000000000").status_code == 404
    created = create(client)
    assert client.delete(f"/models/{created['id']}").status_code == 204
    assert client.get(f"/models/{created['id']}").status_code == 404
    assert client.delete(f"/models/{created['id']}").status_code == 404


def test_training_model_cannot_be_deleted(client: TestClient, mongo_db: Database[Document]) -> None:
    created = create(client)
    mongo_db.models.update_one({"id": created["id"]}, {"$set": {"status": "training"}})
    assert client.delete(f"/models/{created['id']}").status_code == 409


def test_health_reports_mongodb_with_latency(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "up"
    assert body["dependencies"][0]["name"] == "mongodb"
    assert body["dependencies"][0]["latency_ms"] >= 0


def test_health_is_503_when_mongodb_is_down(mongo_db: Database[Document]) -> None:
    from chronos_core.adapters.mongo import create_client

    dead = create_client("mongodb://127.0.0.1:1/", 200)
    with TestClient(build_app(mongo_db, health_probes=[MongoHealthProbe(dead)])) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["dependencies"][0]["status"] == "down"


def test_info_has_no_secrets(client: TestClient) -> None:
    body = client.get("/info").json()
    assert body["version"]
    assert body["uptime_seconds"] >= 0
    assert "mongodb://" not in str(body)


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/models/{model_id}" in spec["paths"]


def test_health_results_are_cached_briefly(mongo_db: Database[Document]) -> None:
    calls = []

    class CountingProbe:
        name = "counting"
        required = True

        def check(self) -> Any:
            calls.append(1)
            return DependencyCheck(name="counting", status="up", latency_ms=0.1)

    app = create_app(fake_services(health_probes=[CountingProbe()], health_cache=HealthCache(ttl_seconds=60)))
    with TestClient(app) as client:
        for _ in range(5):
            assert client.get("/health").status_code == 200
    assert len(calls) == 1


class PlentyOfHistory(FakeSeriesSource):
    def count(self, source: Any) -> int:
        return 10_000


def test_a_training_whose_workflow_cannot_start_fails_visibly_and_frees_the_model(
    mongo_db: Database[Document],
) -> None:
    unreachable = FakeWorkflow(error=ConnectionError("Step Functions is unreachable"))
    app = build_app(mongo_db, series=PlentyOfHistory(), workflow=unreachable)
    with TestClient(app, headers=bearer(["admin"], ["*"])) as client:
        model = create(client)
        response = client.post(f"/models/{model['id']}/training-jobs", json={})
        assert response.status_code == 503, response.text
        assert "workflow could not be started" in response.json()["message"]
        assert client.get(f"/models/{model['id']}").json()["status"] == "draft"
        [job] = client.get(f"/models/{model['id']}/training-jobs").json()["items"]
        assert job["status"] == "failed" and job["error"]["error"] == "ConnectionError"
        again = client.post(f"/models/{model['id']}/training-jobs", json={})
        assert again.status_code == 503  # the model was freed: a new start is admitted again
