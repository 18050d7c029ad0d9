"""A monthly series through the whole job (a tiny real fit): calendar grid in training, in the
artifacts, and forecast target timestamps on month boundaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.ml import inference
from chronos_core.ml.config import JobIdentity, RnnLayerConfig, TrainingConfig
from chronos_core.ml.grid import MonthsGrid
from chronos_core.ml.pipeline import run_training_job
from chronos_core.ml.preprocessing import prepare_dataset

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import tensorflow  # noqa: E402,F401  (the suite requires requirements-ml.txt; a missing TensorFlow must fail)

JOB = JobIdentity(model_id="model-1", training_job_id="job-1", feature="sales")
TINY = TrainingConfig(
    rnn_layers=[RnnLayerConfig(units=8, dropout=0.0)],
    lookback_window=12,
    forecast_horizon=6,
    epochs=3,
    batch_size=16,
    learning_rate=0.01,
)


def month_end(index: int) -> datetime:
    """The last day (00:00 UTC) of month ``index`` after January 2000."""
    year, month = 2000 + index // 12, index % 12 + 1
    following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return following - timedelta(days=1)


def monthly_points(months: int, missing: tuple[int, ...] = ()) -> list[tuple[datetime, float]]:
    rng = np.random.default_rng(7)
    return [
        (month_end(k), 100.0 + 0.3 * k + 10.0 * np.sin(2 * np.pi * k / 12) + rng.normal(0.0, 1.0))
        for k in range(months)
        if k not in missing
    ]


def test_a_monthly_series_trains_and_forecasts_on_month_ends() -> None:
    points = monthly_points(216, missing=(50, 130))  # 18 years of month ends, two months lost
    data = prepare_dataset(points, TINY)
    assert data.series.grid == MonthsGrid(step_months=1, day_of_month=-1)
    assert data.quality.slot_collisions == 0 and data.quality.interpolated_points == 2
    assert data.quality.grid is not None and data.quality.grid.kind == "monthly"
    assert data.season_length == 12  # a year of months, found on the calendar grid

    store = InMemoryArtifactStore()
    outcome = run_training_job(points, TINY, JOB, store)
    assert outcome.data_quality.grid is not None
    assert (outcome.data_quality.grid.interval, outcome.data_quality.grid.source) == ("P1M", "detected")
    raw = json.loads(store.get(outcome.artifacts.metadata).data)
    assert raw["inference"]["grid"] == {
        "unit": "months",
        "step_months": 1,
        "month_phase": 0,
        "day_of_month": -1,
        "time_of_day_seconds": 0.0,
        "assignment": "nearest",
    }

    forecaster = inference.load_forecaster(store, outcome.artifacts)
    result = forecaster.forecast_points(points[-forecaster.context_points :])
    assert result.last_observation == month_end(215)  # December 2017
    assert result.timestamps == [month_end(216 + k) for k in range(6)]
    assert [t.strftime("%Y-%m-%d") for t in result.timestamps[:3]] == [
        "2018-01-31",
        "2018-02-28",
        "2018-03-31",
    ]
    assert len(result.values) == 6 and all(np.isfinite(result.values))


def test_a_stated_quarterly_interval_overrides_the_monthly_cadence() -> None:
    points = monthly_points(240)
    config = TINY.model_copy(update={"sampling_interval": "P3M", "lookback_window": 8, "forecast_horizon": 2})
    store = InMemoryArtifactStore()
    outcome = run_training_job(points, config, JOB, store)
    grid = outcome.data_quality.grid
    assert grid is not None and (grid.kind, grid.source) == ("quarterly", "configured")
    # Month ends go to the quarter end that closes their quarter.
    assert grid.anchor == "the last day at 00:00:00 UTC, in Mar/Jun/Sep/Dec (each point in its period)"
    forecaster = inference.load_forecaster(store, outcome.artifacts)
    result = forecaster.forecast_points(points[-3 * forecaster.context_points :])
    assert result.last_observation == month_end(239)  # December 2019
    assert result.timestamps == [month_end(242), month_end(245)]  # 2020-03-31, 2020-06-30


def test_daily_readings_on_a_stated_monthly_grid_are_served_from_enough_raw_points() -> None:
    first = datetime(2015, 1, 1, 6, tzinfo=UTC)
    rng = np.random.default_rng(8)
    points = [
        (first + timedelta(days=d), 50.0 + 5.0 * np.sin(2 * np.pi * d / 365.25) + rng.normal(0.0, 0.5))
        for d in range(365 * 8)
    ]
    config = TINY.model_copy(update={"sampling_interval": "P1M", "forecast_horizon": 3})
    store = InMemoryArtifactStore()
    outcome = run_training_job(points, config, JOB, store)
    assert outcome.data_quality.grid is not None and outcome.data_quality.grid.source == "configured"
    assert outcome.data_quality.grid_points == 96  # eight years of calendar months
    forecaster = inference.load_forecaster(store, outcome.artifacts)
    # Each month slot holds about 30 daily readings: a forecast reads that many times more.
    assert forecaster.spec.points_per_slot == pytest.approx(365 * 8 / 96, rel=1e-3)
    assert forecaster.context_points >= 30 * forecaster.context_length
    result = forecaster.forecast_points(points[-forecaster.context_points :])
    assert result.last_observation == datetime(2022, 12, 1, tzinfo=UTC)
    assert result.timestamps == [datetime(2023, m, 1, tzinfo=UTC) for m in (1, 2, 3)]
