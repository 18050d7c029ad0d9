"""On-demand predictions and the history of published forecasts, over the fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.application.forecasting.commands import Predict, ReadHistory
from chronos_core.application.forecasting.history import history
from chronos_core.application.forecasting.predict import predict
from chronos_core.domain.errors import ConflictError, NotFoundError, UpstreamError
from chronos_core.domain.fiware import FORECAST_ATTRIBUTE, FiwareTenant, SeriesRef
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import ARTIFACTS, T0, job, model, prediction_config, principal, trained_job
from tests.support.fakes import (
    FakeForecaster,
    FakeForecasterLoader,
    FakeForecastHistory,
    FakeSeriesSource,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

POINTS = [(T0 + timedelta(minutes=30 * i), float(i)) for i in range(10)]


def command(job_id: str = "job-1") -> Predict:
    return Predict(principal=principal(), model_id=ModelId("model-1"), job_id=JobId(job_id))


def services(
    *jobs: object, forecaster: FakeForecaster | None = None, series: FakeSeriesSource | None = None
) -> object:
    return fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(*jobs),
        series=series or FakeSeriesSource({"urn:x:Meter:1": POINTS}),
        forecasters=FakeForecasterLoader(
            forecaster or FakeForecaster(context_length=4, interval_seconds=1800)
        ),
    )


def test_predict_reads_the_context_the_forecaster_asks_for_and_returns_its_points() -> None:
    forecaster = FakeForecaster(context_length=4, interval_seconds=1800, serving="seasonal_naive")
    container = services(trained_job(), forecaster=forecaster)
    prediction = predict(container, command())
    assert container.series.calls == [("last_n", "urn:x:Meter:1", 0, forecaster.context_points)]  # type: ignore[attr-defined]
    assert container.forecasters.loaded == [ARTIFACTS]  # type: ignore[attr-defined]
    assert [p.timestamp for p in prediction.context] == [t for t, _ in POINTS[-forecaster.context_points :]]
    assert [(p.step, p.value) for p in prediction.forecast] == [(1, 1.0), (2, 2.0)]
    assert prediction.forecast[0].target_timestamp == POINTS[-1][0] + timedelta(seconds=1800)
    assert prediction.serving == prediction.metadata["serving"] == "seasonal_naive"
    assert prediction.forecast_horizon == 2 and prediction.lookback_window == 24
    assert prediction.metadata["artifacts"] == ARTIFACTS.model_dump()
    assert prediction.model_dump(mode="json")["last_observation"].endswith("Z")


def test_predict_refuses_a_job_without_a_trained_model() -> None:
    with pytest.raises(ConflictError):
        predict(services(job(status=TrainingStatus.TRAINING)), command())


def test_predict_hides_other_tenants_and_other_models_jobs() -> None:
    stranger = principal(tenants=frozenset({"water"}))
    with pytest.raises(NotFoundError):
        predict(
            services(trained_job()),
            Predict(principal=stranger, model_id=ModelId("model-1"), job_id=JobId("job-1")),
        )
    with pytest.raises(NotFoundError):
        predict(services(trained_job(model_id="model-2")), command())


def test_predict_with_too_little_history_is_an_upstream_error_naming_the_need() -> None:
    short = FakeSeriesSource({"urn:x:Meter:1": POINTS[:2]})
    with pytest.raises(UpstreamError, match="needs the last 4") as raised:
        predict(services(trained_job(), series=short), command())
    assert raised.value.details == [{"component": "STH-Comet", "required": 4, "got": 2}]


def test_predict_wraps_a_failing_sth_as_an_upstream_error() -> None:
    broken = FakeSeriesSource(error=UpstreamError("STH-Comet answered HTTP 500"))
    with pytest.raises(UpstreamError, match="could not provide the context window: STH-Comet answered"):
        predict(services(trained_job(), series=broken), command())


def test_history_pages_published_forecasts_newest_first() -> None:
    config = prediction_config()
    archive = FakeForecastHistory()
    ref = SeriesRef(entity_type="Prediction", entity_id=config.entity_id, attribute=FORECAST_ATTRIBUTE)
    archive.values[(FiwareTenant("energy", "/e2e"), ref)] = [
        (T0 + timedelta(minutes=k), {"horizon": 2, "points": [{"step": 1, "value": float(k)}]})
        for k in range(5)
    ]
    container = fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(trained_job(prediction_config=config)),
        history=archive,
    )
    base = {"principal": principal(), "model_id": ModelId("model-1"), "job_id": JobId("job-1")}
    page = history(container, ReadHistory(**base, skip=1, limit=2))
    assert (page.total, page.skip, page.limit) == (5, 1, 2)
    assert [item.points[0]["value"] for item in page.items] == [3.0, 2.0]
    assert page.items[0].generated_at == T0 + timedelta(minutes=3)
    assert page.entity_id == config.entity_id and page.entity_type == "Prediction"
    assert history(container, ReadHistory(**base, skip=5, limit=2)).items == []
    everything = history(container, ReadHistory(**base, skip=0, limit=100))
    assert len(everything.items) == 5 and everything.items[0].horizon == 2


def test_history_of_a_job_that_never_published_is_empty() -> None:
    container = fake_services(
        models=InMemoryModelRepository(model()), jobs=InMemoryTrainingJobs(trained_job())
    )
    page = history(
        container, ReadHistory(principal=principal(), model_id=ModelId("model-1"), job_id=JobId("job-1"))
    )
    assert page.total == 0 and page.items == []
    assert page.entity_id == "urn:ngsi-ld:Chronos:Prediction:job1"
