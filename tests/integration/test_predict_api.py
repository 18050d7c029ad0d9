"""The predict route in-process: the forecast's ``quality`` reaches the response and the OpenAPI
schema (issue 13), over the in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from chronos_core.api.app import create_app
from chronos_core.domain.forecasting import ForecastQuality
from tests.support.auth import bearer
from tests.support.builders import T0, model, trained_job
from tests.support.fakes import (
    FakeForecaster,
    FakeForecasterLoader,
    FakeSeriesSource,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

pytestmark = pytest.mark.integration

URL = "/models/model-1/training-jobs/job-1/predict"


def client_with(series: FakeSeriesSource, quality: ForecastQuality) -> TestClient:
    services = fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(trained_job()),
        series=series,
        forecasters=FakeForecasterLoader(FakeForecaster(serving="last_value", quality=quality)),
    )
    return TestClient(create_app(services), headers=bearer(["admin"], ["*"]))


def test_predict_answers_the_quality_of_a_degraded_forecast() -> None:
    points = [(T0 + timedelta(minutes=i), float(i)) for i in range(2)]
    quality = ForecastQuality(status="degraded", reason="Served the last value instead.")
    with client_with(FakeSeriesSource({"urn:x:Meter:1": points}), quality) as client:
        response = client.post(URL)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["serving"] == "last_value"
        assert body["quality"] == {
            "status": "degraded",
            "interpolated_points": 0,
            "reason": "Served the last value instead.",
        }
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert "quality" in schema["Prediction"]["required"]
        assert set(schema["ForecastQuality"]["properties"]) == {"status", "interpolated_points", "reason"}


def test_predict_without_any_point_is_a_502_naming_the_series() -> None:
    with client_with(FakeSeriesSource({"urn:x:Meter:1": []}), ForecastQuality()) as client:
        response = client.post(URL)
        assert response.status_code == 502, response.text
        assert "holds no point of urn:x:Meter:1/demand" in response.json()["message"]
