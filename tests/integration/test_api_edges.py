"""The API's edges, in-process against FerretDB: trailing slashes, public routes, bodies that do
not parse, strict types, identifiers no path can address, and bodies without a length."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymongo.database import Database

from chronos_core.adapters.mongo import Document
from tests.support.app import build_app
from tests.support.auth import bearer

pytestmark = pytest.mark.integration

ADMIN = bearer(["admin"], ["*"])
BODY: dict[str, Any] = {
    "model_type": "gru",
    "rnn_layers": [{"units": 8}],
    "feature": "demand",
    "entity_type": "Meter",
    "entity_id": "urn:ngsi-ld:Meter:1",
    "fiware_service": "energy",
}


@pytest.fixture
def client(mongo_db: Database[Document]) -> Iterator[TestClient]:
    with TestClient(build_app(mongo_db), follow_redirects=False) as test_client:
        yield test_client


def test_a_trailing_slash_is_not_redirected_it_is_not_found(client: TestClient) -> None:
    created = client.post("/models/", json=BODY, headers=ADMIN).json()
    response = client.get(f"/models/{created['id']}/", headers={**ADMIN, "Host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers
    assert response.json()["error"] == "not_found"
    assert client.get(f"/models/{created['id']}", headers=ADMIN).status_code == 200


def test_only_health_and_the_openapi_document_are_public(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and "127.0.0.1" not in spec.text and "mongodb" not in spec.text
    for path in ("/docs", "/redoc"):  # no Swagger UI / ReDoc: they load assets from a public CDN
        assert client.get(path).status_code == 404
    assert client.get("/info").status_code == 401
    assert client.get("/models/").status_code == 401


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe{not utf-8",
        b'{"epochs": ' + b"9" * 5001 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"model_type": "gru", ',
    ],
    ids=["invalid-utf8", "5001-digit-integer", "deep-nesting", "truncated"],
)
def test_a_body_that_does_not_parse_is_422_naming_the_body(client: TestClient, raw: bytes) -> None:
    response = client.post("/models/", content=raw, headers={**ADMIN, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error" and body["details"][0]["field"] == "body"


def test_a_malformed_body_from_an_unauthenticated_caller_is_401(client: TestClient) -> None:
    response = client.post("/models/", content=b"{oops", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", True),
        ("epochs", "10"),
        ("batch_size", 32.0),
        ("learning_rate", True),
        ("lookback_window", "24"),
    ],
)
def test_numbers_are_strict(client: TestClient, field: str, value: Any) -> None:
    response = client.post("/models/", json={**BODY, field: value}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == field


def test_the_toggle_and_training_bodies_are_strict(client: TestClient) -> None:
    created = client.post("/models/", json=BODY, headers=ADMIN).json()
    jobs = f"/models/{created['id']}/training-jobs"
    assert client.post(jobs, json={"last_n": "100"}, headers=ADMIN).status_code == 422
    toggle = f"{jobs}/00000000-0000-0000-0000-000000000000/prediction-toggle"
    response = client.post(toggle, json={"enabled": "yes"}, headers=ADMIN)
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "enabled"


@pytest.mark.parametrize(
    ("field", "value"), [("entity_id", ".."), ("entity_id", "."), ("feature", ".."), ("entity_type", ".")]
)
def test_identifiers_no_path_can_address_are_refused_at_creation(
    client: TestClient, field: str, value: str
) -> None:
    response = client.post("/models/", json={**BODY, field: value}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == field


def test_a_body_without_a_length_over_the_limit_is_413(client: TestClient) -> None:
    """API Gateway's proxy integration does not forward Content-Length; a chunked body has none."""

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * 600_000

    response = client.post(
        "/models/", content=chunks(), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    small = client.post("/models/", content=iter([b'{"model_type": "gru"', b"}"]), headers=ADMIN)
    assert small.status_code == 422  # read within the limit and passed on: a schema error, not 413
