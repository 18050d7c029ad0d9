"""Model definitions through API Gateway -> our executor -> the API Lambda -> FerretDB."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "model_type": "lstm",
        "rnn_layers": [{"units": 32}],
        "feature": "temperature",
        "entity_type": "Room",
        "entity_id": f"urn:ngsi-ld:Room:{uuid.uuid4().hex[:8]}",
        "fiware_service": "e2e",
        "fiware_servicepath": "/building",
    }
    values.update(overrides)
    return values


def test_health_is_up(api: httpx.Client) -> None:
    response = api.get("/health")
    assert response.status_code == 200, response.text
    names = {d["name"]: d["status"] for d in response.json()["dependencies"]}
    assert names["mongodb"] == "up"
    assert names["s3"] == "up"


def test_model_lifecycle(api: httpx.Client) -> None:
    feature = f"f{uuid.uuid4().hex[:10]}"
    created = [api.post("/models/", json=body(feature=feature, model_type=t)) for t in ("lstm", "gru", "gru")]
    assert [r.status_code for r in created] == [201, 201, 201], [r.text for r in created]
    ids = [r.json()["id"] for r in created]

    listed = api.get("/models/", params={"feature": feature, "model_type": "gru", "limit": 1})
    assert listed.status_code == 200
    page = listed.json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["id"] == ids[2]

    second = api.get(
        "/models/", params={"feature": feature, "model_type": "gru", "limit": 1, "skip": 1}
    ).json()
    assert second["items"][0]["id"] == ids[1]

    fetched = api.get(f"/models/{ids[0]}")
    assert fetched.status_code == 200 and fetched.json()["fiware_servicepath"] == "/building"

    patched = api.patch(f"/models/{ids[0]}", json={"lookback_window": 96, "name": "Room temperature"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["lookback_window"] == 96 and patched.json()["name"] == "Room temperature"

    for model_id in ids:
        assert api.delete(f"/models/{model_id}").status_code == 204
    assert api.get(f"/models/{ids[0]}").status_code == 404


def test_invalid_model_is_422_naming_the_field(api: httpx.Client) -> None:
    response = api.post("/models/", json=body(forecast_horizon=9000))
    assert response.status_code == 422
    assert any(d["field"] == "forecast_horizon" for d in response.json()["details"])


def test_editing_a_trained_model_is_409(api: httpx.Client, stack: dict[str, Any]) -> None:
    from pymongo import MongoClient

    created = api.post("/models/", json=body()).json()
    with MongoClient(stack["MongoDbUri"], serverSelectionTimeoutMS=3000) as client:
        client[stack["MongoDbDatabase"]].models.update_one(
            {"id": created["id"]}, {"$set": {"status": "trained"}}
        )
    response = api.patch(f"/models/{created['id']}", json={"epochs": 5})
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    with MongoClient(stack["MongoDbUri"], serverSelectionTimeoutMS=3000) as client:
        client[stack["MongoDbDatabase"]].models.delete_one({"id": created["id"]})
