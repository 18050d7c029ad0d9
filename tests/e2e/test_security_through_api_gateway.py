"""Authentication, roles, tenancy and abuse limits through API Gateway in LocalStack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

pytestmark = pytest.mark.e2e


def body(service: str) -> dict[str, Any]:
    return {
        "model_type": "gru",
        "rnn_layers": [{"units": 8}],
        "feature": "level",
        "entity_type": "Tank",
        "entity_id": f"urn:ngsi-ld:Tank:{uuid.uuid4().hex[:8]}",
        "fiware_service": service,
    }


@pytest.fixture
def anonymous(stack: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack["ApiUrl"].rstrip("/"), timeout=60) as client:
        yield client


@pytest.fixture
def clear_failures(stack: dict[str, Any]) -> Iterator[None]:
    """The throttle counts per source IP (all e2e traffic is 127.0.0.1): reset around the test."""

    def clear() -> None:
        with MongoClient(stack["MongoDbUri"], serverSelectionTimeoutMS=3000) as client:
            client[stack["MongoDbDatabase"]].auth_failures.delete_many({})

    clear()
    yield
    clear()


def test_rejections(anonymous: httpx.Client, local_token: Any, clear_failures: None) -> None:
    assert anonymous.get("/health").status_code == 200
    missing = anonymous.get("/models/")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    expired = anonymous.get("/models/", headers={"Authorization": f"Bearer {local_token(ttl_seconds=-600)}"})
    assert expired.status_code == 401
    audience = anonymous.get("/models/", headers={"Authorization": f"Bearer {local_token(audience='other')}"})
    assert audience.status_code == 401
    forged = anonymous.get(
        "/models/",
        headers={"Authorization": f"Bearer {local_token(secret='forged-secret-of-sufficient-length-000')}"},
    )
    assert forged.status_code == 401
    reader = {"Authorization": f"Bearer {local_token(['reader'], ['*'])}"}
    assert anonymous.get("/models/", headers=reader).status_code == 200
    assert anonymous.post("/models/", json=body("e2e"), headers=reader).status_code == 403


def test_tenant_isolation(anonymous: httpx.Client, api: httpx.Client, local_token: Any) -> None:
    foreign = api.post("/models/", json=body("othertenant")).json()
    mine = {"Authorization": f"Bearer {local_token(['admin'], ['mytenant'])}"}
    assert anonymous.get(f"/models/{foreign['id']}", headers=mine).status_code == 404
    listed = anonymous.get("/models/", headers=mine).json()
    assert all(m["fiware_service"] == "mytenant" for m in listed["items"])
    assert api.delete(f"/models/{foreign['id']}").status_code == 204


def test_failures_are_throttled_but_a_valid_token_from_the_same_address_is_served(
    anonymous: httpx.Client, api: httpx.Client, clear_failures: None
) -> None:
    bad = {"Authorization": "Bearer nope"}
    statuses = [anonymous.get("/models/", headers=bad).status_code for _ in range(10)]
    assert statuses == [401] * 10
    limited = anonymous.get("/models/", headers=bad)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    # The same source address (everything behind one NAT, or the dashboard's backend) with valid
    # credentials is never refused by the failure limiter.
    assert api.get("/models/").status_code == 200
    assert api.get("/info").status_code == 200
