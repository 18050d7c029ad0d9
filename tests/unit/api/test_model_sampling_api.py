"""The model definition's ``sampling_interval`` and ``season_length`` through the API (FastAPI
TestClient over the in-memory fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from tests.support.auth import bearer
from tests.support.fakes import fake_services

BODY: dict[str, Any] = {
    "model_type": "lstm",
    "rnn_layers": [{"units": 8}],
    "feature": "demand",
    "entity_type": "Meter",
    "entity_id": "urn:ngsi-ld:Meter:1",
    "fiware_service": "energy",
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(fake_services()), headers=bearer(["admin"], ["*"])) as test_client:
        yield test_client


def test_interval_and_season_are_optional_and_null_by_default(client: TestClient) -> None:
    created = client.post("/models/", json=BODY)
    assert created.status_code == 201, created.text
    assert created.json()["sampling_interval"] is None
    assert created.json()["season_length"] is None


@pytest.mark.parametrize(("given", "stored"), [("P1M", "P1M"), ("PT1800S", "PT30M"), ("P12M", "P1Y")])
def test_a_stated_interval_is_stored_in_its_canonical_spelling(
    client: TestClient, given: str, stored: str
) -> None:
    created = client.post("/models/", json={**BODY, "sampling_interval": given, "season_length": 12})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["sampling_interval"], body["season_length"]) == (stored, 12)
    assert client.get(f"/models/{body['id']}").json()["sampling_interval"] == stored


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sampling_interval": "monthly"}, "not a supported ISO-8601 duration"),
        ({"sampling_interval": "PT0S"}, "zero duration"),
        ({"sampling_interval": "P1M2D"}, "mixes calendar months"),
        ({"sampling_interval": 30}, "string"),
        ({"season_length": 0}, "greater than or equal to 1"),
        ({"season_length": "12"}, "integer"),
    ],
)
def test_a_bad_interval_or_season_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    field = next(iter(body))
    for response in (
        client.post("/models/", json={**BODY, **body}),
        client.patch(f"/models/{client.post('/models/', json=BODY).json()['id']}", json=body),
    ):
        assert response.status_code == 422, response.text
        payload = response.json()
        assert payload["error"] == "validation_error"
        assert [d["field"] for d in payload["details"]] == [field]
        assert message in payload["details"][0]["message"]


def test_patch_sets_the_interval_on_a_draft(client: TestClient) -> None:
    model_id = client.post("/models/", json=BODY).json()["id"]
    response = client.patch(f"/models/{model_id}", json={"sampling_interval": "P1W", "season_length": 52})
    assert response.status_code == 200, response.text
    assert (response.json()["sampling_interval"], response.json()["season_length"]) == ("P1W", 52)
