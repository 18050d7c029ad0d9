"""On-demand predictions and the history of published forecasts, over the fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.application.forecasting.commands import Predict, ReadHistory
from chronos_core.application.forecasting.history import history
from chronos_core.application.forecasting.predict import predict
from chronos_core.domain.errors import ConflictError, NotFoundError, UpstreamError
from chronos_core.domain.fiware import FORECAST_ATTRIBUTE, FiwareTenant, SeriesRef
from chronos_core.domain.forecasting import ForecastQuality
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.training_job import TrainingStatus
from chronos_core.ml.artifacts import InferenceSpec, scaler_to_bytes
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.transforms import ScalerParams, TransformSpec
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
from tests.unit.ml.conftest import constant_network_bytes

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
    quality = ForecastQuality(status="interpolated", interpolated_points=2)
    forecaster = FakeForecaster(
        context_length=4, interval_seconds=1800, serving="seasonal_naive", quality=quality
    )
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
    assert prediction.quality == quality
    assert prediction.model_dump(mode="json")["quality"] == {
        "status": "interpolated",
        "interpolated_points": 2,
        "reason": None,
    }


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


def test_predict_with_little_history_leaves_the_context_to_the_forecaster() -> None:
    # Issue 13: fewer points than the context no longer refuse the forecast here; the forecaster
    # degrades it (bridging or a baseline) and says so in its quality.
    short = FakeSeriesSource({"urn:x:Meter:1": POINTS[:2]})
    forecaster = FakeForecaster(context_length=4, interval_seconds=1800)
    prediction = predict(services(trained_job(), series=short, forecaster=forecaster), command())
    assert forecaster.calls == [2] and len(prediction.forecast) == 2


def test_predict_without_any_point_is_an_upstream_error_naming_what_is_missing() -> None:
    empty = FakeSeriesSource({"urn:x:Meter:1": []})
    with pytest.raises(UpstreamError, match="holds no point of urn:x:Meter:1/demand") as raised:
        predict(services(trained_job(), series=empty), command())
    assert raised.value.details[0]["field"] == "points" and raised.value.details[0]["got"] == 0


def real_forecaster(lookback: int = 8, max_gap: int = 2) -> Forecaster:
    """A residual-last-value network whose forecast is the context's last value plus 1."""
    unit = ScalerParams(features=["value"], mean=[0.0], scale=[1.0], n_samples=10)
    spec = InferenceSpec(
        lookback=lookback,
        horizon=2,
        interval_seconds=1800.0,
        max_interpolated_gap=max_gap,
        feature="demand",
        transform=TransformSpec(window_normalization="last_value", target_mode="residual_last_value"),
    )
    scaler = scaler_to_bytes(unit)
    return Forecaster.from_bytes(constant_network_bytes(lookback, 2, [1.0, 1.0]), scaler, scaler, spec)


def test_predict_after_dropped_readings_serves_a_degraded_forecast_and_says_why() -> None:
    # 10 readings, then 6 missing half-hours (limit 2), then 5 readings: the network needs 8.
    kept = [*range(10), *range(16, 21)]
    series = FakeSeriesSource({"urn:x:Meter:1": [(T0 + timedelta(minutes=30 * i), float(i)) for i in kept]})
    forecaster = real_forecaster()
    container = fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(trained_job()),
        series=series,
        forecasters=FakeForecasterLoader(forecaster),  # type: ignore[arg-type]
    )
    prediction = predict(container, command())
    assert container.series.calls == [("last_n", "urn:x:Meter:1", 0, forecaster.context_points)]  # type: ignore[attr-defined]
    assert prediction.serving == "network" and [p.value for p in prediction.forecast] == [21.0, 21.0]
    assert prediction.quality.status == "degraded" and prediction.quality.interpolated_points == 3
    assert prediction.quality.reason is not None and "gap of 6 missing points" in prediction.quality.reason
    assert prediction.last_observation == T0 + timedelta(minutes=30 * 20)


def test_predict_on_points_without_a_valid_value_is_refused_naming_the_feature() -> None:
    series = FakeSeriesSource({"urn:x:Meter:1": [(T0 + timedelta(minutes=30 * i), None) for i in range(5)]})
    container = fake_services(
        models=InMemoryModelRepository(model()),
        jobs=InMemoryTrainingJobs(trained_job()),
        series=series,
        forecasters=FakeForecasterLoader(real_forecaster()),  # type: ignore[arg-type]
    )
    with pytest.raises(UpstreamError, match="No valid demand value") as raised:
        predict(container, command())
    assert raised.value.details == [{"field": "points", "feature": "demand", "required": 1, "got": 0}]


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
