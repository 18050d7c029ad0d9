"""Authentication, roles, tenant isolation, abuse limits and hardening, in-process against FerretDB."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pymongo.database import Database

from chronos_core.adapters.mongo import Document, MongoAuthFailureCounter, MongoModelRepository, create_client
from chronos_core.config import Settings, get_settings
from tests.support.app import build_app
from tests.support.auth import bearer, token

pytestmark = pytest.mark.integration

ADMIN_ALL = bearer(["admin"], ["*"])


def model_body(service: str = "energy") -> dict[str, Any]:
    return {
        "model_type": "lstm",
        "rnn_layers": [{"units": 8}],
        "feature": "demand",
        "entity_type": "Meter",
        "entity_id": f"urn:ngsi-ld:Meter:{uuid.uuid4().hex[:6]}",
        "fiware_service": service,
    }


def build(
    mongo_db: Database[Document], *, window_seconds: int = 300, settings: Settings | None = None
) -> FastAPI:
    return build_app(mongo_db, settings=settings, window_seconds=window_seconds)


@pytest.fixture
def client(mongo_db: Database[Document]) -> Iterator[TestClient]:
    with TestClient(build(mongo_db)) as test_client:
        yield test_client


@pytest.fixture
def low_threshold(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CHRONOS_AUTH_FAILURE_THRESHOLD", "3")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# ------------------------------------------------------------------------------------------ 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Bearer " + token(secret="another-secret-of-sufficient-length-123456")},
        {"Authorization": "Bearer " + token(ttl_seconds=-3600)},
        {"Authorization": "Bearer " + token(audience="someone-else")},
        {"Authorization": "Bearer " + token(issuer="https://evil.example.com")},
        {"Authorization": "Bearer " + token(now=int(time.time()) + 3600)},
    ],
    ids=[
        "missing",
        "basic",
        "malformed",
        "bad-signature",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "not-yet-valid",
    ],
)
def test_invalid_credentials_are_401_without_detail(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/models/", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthorized"
    assert body["details"] == []
    assert "signature" not in body["message"].lower() and "audience" not in body["message"].lower()


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").status_code in (200, 503)


def test_every_other_route_needs_a_token(client: TestClient, mongo_db: Database[Document]) -> None:
    spec = client.get("/openapi.json", headers=ADMIN_ALL).json()
    for path, operations in spec["paths"].items():
        if path == "/health":
            continue
        for method in operations:
            url = path.replace("{model_id}", str(uuid.uuid4())).replace("{job_id}", str(uuid.uuid4()))
            mongo_db.auth_failures.delete_many({})  # stay under the failure throttle
            response = client.request(method.upper(), url, json={})
            assert response.status_code == 401, (method, path, response.status_code)


# ------------------------------------------------------------------------------------------ 403


def test_roles(client: TestClient) -> None:
    created = client.post("/models/", json=model_body(), headers=ADMIN_ALL)
    assert created.status_code == 201
    model_id = created.json()["id"]
    reader, operator = bearer(["reader"]), bearer(["operator"])
    assert client.get(f"/models/{model_id}", headers=reader).status_code == 200
    assert client.get("/models/types", headers=reader).status_code == 200
    for headers in (reader, operator):
        assert client.post("/models/", json=model_body(), headers=headers).status_code == 403
        assert client.patch(f"/models/{model_id}", json={"epochs": 5}, headers=headers).status_code == 403
        assert client.delete(f"/models/{model_id}", headers=headers).status_code == 403
    no_role = bearer([])
    assert client.get(f"/models/{model_id}", headers=no_role).status_code == 403
    assert client.delete(f"/models/{model_id}", headers=ADMIN_ALL).status_code == 204


def test_info_reveals_endpoints_only_to_admins(client: TestClient) -> None:
    reader = client.get("/info", headers=bearer(["reader"])).json()
    admin = client.get("/info", headers=ADMIN_ALL).json()
    assert "endpoints" not in reader["configuration"]
    assert "endpoints" in admin["configuration"]


# ------------------------------------------------------------------------------------- tenancy


def test_tenants_are_isolated(client: TestClient) -> None:
    water = client.post("/models/", json=model_body("water"), headers=ADMIN_ALL).json()
    energy = client.post("/models/", json=model_body("energy"), headers=ADMIN_ALL).json()
    energy_admin = bearer(["admin"], ["energy"])

    listed = client.get("/models/", headers=energy_admin).json()
    assert [m["id"] for m in listed["items"]] == [energy["id"]]
    assert listed["total"] == 1
    assert client.get(f"/models/{water['id']}", headers=energy_admin).status_code == 404
    assert client.patch(f"/models/{water['id']}", json={"epochs": 3}, headers=energy_admin).status_code == 404
    assert client.delete(f"/models/{water['id']}", headers=energy_admin).status_code == 404
    assert client.post("/models/", json=model_body("water"), headers=energy_admin).status_code == 403
    moved = client.patch(f"/models/{energy['id']}", json={"fiware_service": "water"}, headers=energy_admin)
    assert moved.status_code == 403
    assert client.get(f"/models/{water['id']}", headers=ADMIN_ALL).status_code == 200


# ----------------------------------------------------------------------------------------- 429


def test_repeated_failures_are_throttled_but_a_valid_token_never_is(
    mongo_db: Database[Document], low_threshold: None
) -> None:
    app = build(mongo_db, window_seconds=2)
    bad = {"Authorization": "Bearer bad"}
    with TestClient(app) as client:
        assert [client.get("/models/", headers=bad).status_code for _ in range(3)] == [401, 401, 401]
        limited = client.get("/models/", headers=bad)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        # The same address with valid credentials (a NAT, a proxy for many users) is served.
        assert client.get("/models/", headers=ADMIN_ALL).status_code == 200
        time.sleep(2.1)
        assert client.get("/models/", headers=bad).status_code == 401  # the failures have left the window


def test_the_window_slides_so_no_edge_lets_a_burst_through(
    mongo_db: Database[Document], low_threshold: None
) -> None:
    """Fixed windows aligned to epoch % window let twice the threshold through across an edge."""
    app = build(mongo_db, window_seconds=2)
    bad = {"Authorization": "Bearer bad"}
    with TestClient(app) as client:
        time.sleep(2 - time.time() % 2 + 1.5)  # late in a fixed window
        assert [client.get("/models/", headers=bad).status_code for _ in range(3)] == [401] * 3
        time.sleep(0.6)  # past the fixed window's edge, within the sliding one
        assert client.get("/models/", headers=bad).status_code == 429


def test_failures_are_counted_per_client_and_atomically(mongo_db: Database[Document]) -> None:
    counter = MongoAuthFailureCounter(mongo_db, 300)
    for _ in range(3):
        counter.record_failure("198.51.100.7")
    assert counter.failures("198.51.100.7") == 3
    assert counter.failures("198.51.100.8") == 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: counter.record_failure("198.51.100.9"), range(24)))
    assert counter.failures("198.51.100.9") == 24


# ----------------------------------------------------------------------------------------- 503


def test_database_down_is_503_with_retry_after_within_bounded_time(mongo_db: Database[Document]) -> None:
    dead = create_client("mongodb://127.0.0.1:1/", 300)[mongo_db.name]
    app = build_app(mongo_db, models=MongoModelRepository(dead, attempts=3))
    with TestClient(app) as client:
        started = time.perf_counter()
        response = client.get(f"/models/{uuid.uuid4()}", headers=ADMIN_ALL)
        elapsed = time.perf_counter() - started
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["error"] == "dependency_unavailable"
    assert elapsed < 10


# ------------------------------------------------------------------------------------ hardening


def test_cors_allows_only_configured_origins(mongo_db: Database[Document]) -> None:
    app = build(mongo_db, settings=Settings(cors_allowed_origins=["https://dashboard.example.com"]))
    with TestClient(app) as client:
        ok = client.options(
            "/models/",
            headers={"Origin": "https://dashboard.example.com", "Access-Control-Request-Method": "GET"},
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://dashboard.example.com"
        assert ok.headers["access-control-allow-credentials"] == "true"
        denied = client.options(
            "/models/", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in denied.headers


def test_no_cors_headers_without_configuration(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_oversized_bodies_are_413(client: TestClient) -> None:
    big = {**model_body(), "description": "x" * 2_000_000}
    response = client.post("/models/", json=big, headers=ADMIN_ALL)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_unknown_fields_are_rejected(client: TestClient) -> None:
    response = client.post("/models/", json={**model_body(), "is_admin": True}, headers=ADMIN_ALL)
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "is_admin"
