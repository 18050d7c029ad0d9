"""NUL characters (U+0000) in the path, the query or a JSON string of the body are a 422 naming the
field, before any storage sees them (FerretDB on PostgreSQL cannot store or compare them); other
requests reach the app unchanged."""

from __future__ import annotations

from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from chronos_core.config import Settings
from tests.support.auth import bearer
from tests.support.fakes import fake_services


def client() -> TestClient:
    return TestClient(create_app(fake_services(Settings())), raise_server_exceptions=False)


def detail(response: object) -> tuple[int, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"] == "validation_error"
    return response.status_code, body["details"][0]["field"]  # type: ignore[attr-defined]


def test_a_nul_in_a_query_parameter_is_a_422_naming_it() -> None:
    response = client().get("/alerts", params={"severity": "medium", "rule_id": "a\x00b"}, headers=bearer())
    assert detail(response) == (422, "query.rule_id")


def test_a_nul_in_a_json_string_is_a_422_naming_its_path() -> None:
    response = client().put("/models/m-1/champion", json={"training_job_id": "job\x00"}, headers=bearer())
    assert detail(response) == (422, "body.training_job_id")
    nested = client().put(
        "/models/m-1/retraining-policy", json={"trigger_rules": ["ok", "\x00"]}, headers=bearer()
    )
    assert detail(nested) == (422, "body.trigger_rules.1")


def test_a_nul_in_the_path_is_a_422() -> None:
    assert detail(client().get("/models/m%00", headers=bearer())) == (422, "path")


def test_requests_without_nul_reach_the_app_with_their_body() -> None:
    app = client()
    assert app.get("/alerts", params={"rule_id": "r-1"}, headers=bearer()).status_code == 200
    escaped = app.put(  # a backslash followed by "u0000" is text, not a NUL
        "/models/missing/champion",
        content=b'{"training_job_id": "\\\\u0000"}',
        headers={**bearer(), "content-type": "application/json"},
    )
    assert escaped.status_code == 404
