"""``GET /models/{id}/data-freshness`` through the API (FastAPI TestClient over the fakes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from chronos_core.domain.errors import UpstreamError
from tests.support.auth import bearer
from tests.support.builders import model
from tests.support.fakes import FakeSeriesSource, fake_services

ENTITY = "urn:x:Meter:1"


def test_reader_sees_the_newest_point_its_age_and_the_stale_flag() -> None:
    latest = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    services = fake_services(series=FakeSeriesSource({ENTITY: [(latest, 4.2)]}))
    services.models.add(model(sampling_interval="PT30M"))
    with TestClient(create_app(services), headers=bearer(["reader"], ["energy"])) as client:
        response = client.get("/models/model-1/data-freshness")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["latest_time"] == latest.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert 7200 <= body["age_seconds"] < 7300
    assert (body["interval_seconds"], body["stale_after_seconds"], body["stale"]) == (1800.0, 5400.0, True)


def test_unknown_or_other_tenants_model_is_404() -> None:
    services = fake_services()
    services.models.add(model())
    with TestClient(create_app(services), headers=bearer(["reader"], ["water"])) as client:
        assert client.get("/models/model-1/data-freshness").status_code == 404
        assert client.get("/models/nope/data-freshness").status_code == 404


def test_sth_failure_is_the_upstream_502() -> None:
    services = fake_services(series=FakeSeriesSource(error=UpstreamError("STH-Comet answered HTTP 500")))
    services.models.add(model())
    with TestClient(create_app(services), headers=bearer(["reader"], ["*"])) as client:
        response = client.get("/models/model-1/data-freshness")
    assert response.status_code == 502, response.text
    assert "STH-Comet" in response.json()["message"]


def test_without_a_token_it_is_401() -> None:
    with TestClient(create_app(fake_services())) as client:
        assert client.get("/models/model-1/data-freshness").status_code == 401
