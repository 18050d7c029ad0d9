"""The quality every forecast carries: consistent by construction, defaulted where older stored
documents and results lack it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from chronos_core.domain.forecasting import ForecastQuality, ForecastResult, LastForecast
from chronos_core.domain.training_job import TrainingJob
from tests.support.builders import T0, trained_job


def test_each_status_says_what_it_must() -> None:
    assert ForecastQuality().model_dump() == {"status": "ok", "interpolated_points": 0, "reason": None}
    assert ForecastQuality(status="interpolated", interpolated_points=3).interpolated_points == 3
    assert ForecastQuality(status="degraded", reason="Served the last value instead.").reason
    for bad in (
        {"status": "ok", "interpolated_points": 1},
        {"status": "ok", "reason": "why"},
        {"status": "interpolated", "interpolated_points": 0},
        {"status": "interpolated", "interpolated_points": 2, "reason": "why"},
        {"status": "degraded", "interpolated_points": 2},
        {"status": "fine"},
        {"status": "ok", "interpolated_points": -1},
    ):
        with pytest.raises(ValidationError):
            ForecastQuality.model_validate(bad)


def test_results_and_stored_runs_without_a_quality_still_load() -> None:
    result = ForecastResult(
        values=[1.0], timestamps=[T0 + timedelta(minutes=1)], last_observation=T0, interval_seconds=60
    )
    assert result.quality == ForecastQuality()
    old_run = {"slot": T0, "started_at": T0, "status": "succeeded", "points": 1, "final": False}
    assert LastForecast.model_validate(old_run).quality is None
    document = trained_job().model_dump()
    document["last_forecast"] = old_run  # a job stored before forecasts carried a quality
    assert TrainingJob.model_validate(document).last_forecast.quality is None  # type: ignore[union-attr]
    stored = {**old_run, "quality": {"status": "interpolated", "interpolated_points": 2, "reason": None}}
    assert LastForecast.model_validate(stored).quality == ForecastQuality(
        status="interpolated", interpolated_points=2
    )
