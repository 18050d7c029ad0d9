"""Conformal intervals that hold on short series: neighbouring steps pooled, the finite-sample
rank, backtest residuals for a served baseline, coverage reported per level."""

from __future__ import annotations

import numpy as np
import pytest

from chronos_core.ml.artifacts import InferenceSpec, scaler_to_bytes
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.conformal import (
    calibrate,
    coverage,
    effective_count,
    pooling_radius,
    required_residuals,
)
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.pipeline import evaluate
from chronos_core.ml.preprocessing import prepare_dataset

from .conftest import constant_network_bytes

SEASON, H = 12, 6


def _short_seasonal_windows(rng: np.random.Generator, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """Seasonal-naive forecasts ``(N, H)`` and their targets on a short monthly-like series with
    unit Gaussian noise (errors ``e_t - e_{t-12}``, windows overlapping like a rolling origin)."""
    length = SEASON + n_windows + H
    k = np.arange(length)
    y = 10.0 * np.sin(2 * np.pi * k / SEASON) + rng.standard_normal(length)
    idx = SEASON + np.arange(n_windows)[:, None] + np.arange(H)[None, :]
    return y[idx], y[idx - SEASON]


@pytest.mark.parametrize("windows", [15, 40])
def test_short_series_intervals_cover_fresh_data_at_both_levels(windows: int) -> None:
    # Many short series, each calibrated on its own few validation windows and checked on the
    # next ones: the average coverage is the nominal one, within a few points.
    rng = np.random.default_rng(13)
    inside: dict[str, list[float]] = {"80": [], "95": []}
    for _ in range(500):
        y_cal, p_cal = _short_seasonal_windows(rng, windows)
        intervals = calibrate(y_cal, p_cal, [0.8, 0.95])
        assert min(intervals.pooled_radius) >= 1  # pooled with the neighbouring steps
        # overlapping windows: the distinct targets behind a step, not windows x steps
        assert intervals.calibration_counts == [windows + H - 1] * H
        assert intervals.saturated == [False, False]
        y_new, p_new = _short_seasonal_windows(rng, windows)
        overall, _ = coverage(y_new, p_new, intervals)
        for key in inside:
            value = overall[key]
            assert value is not None
            inside[key].append(value)
    assert np.mean(inside["80"]) == pytest.approx(0.80, abs=0.03)
    assert np.mean(inside["95"]) == pytest.approx(0.95, abs=0.025)


def test_without_pooling_the_95_level_saturates_on_a_short_series() -> None:
    y, p = _short_seasonal_windows(np.random.default_rng(1), 15)
    alone = calibrate(y, p, [0.8, 0.95], min_residuals=0)
    assert alone.pooled_radius == [0] * H and alone.calibration_counts == [15] * H
    assert alone.saturated == [False, True]  # ceil(16 x 0.95) = 16 > 15 residuals
    pooled = calibrate(y, p, [0.8, 0.95])
    assert pooled.saturated == [False, False] and min(pooled.pooled_radius) >= 1


def test_pooling_radius_grows_until_enough_residuals() -> None:
    assert pooling_radius([100] * 5, 50) == [0] * 5
    assert pooling_radius([46] * 9, 50) == [4, 3, 2, 2, 2, 2, 2, 3, 4]  # 46 + 4 extra steps = 50
    assert pooling_radius([5] * 3, 50) == [2, 1, 2]  # the whole horizon, still too few
    assert effective_count([10, 10, 10], 0, 3) == 12 and effective_count([1, 1, 1], 0, 3) == 3
    assert required_residuals([0.8, 0.95]) == 50
    assert required_residuals([0.995]) == 400


def test_widths_are_non_decreasing_and_long_splits_do_not_pool() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(0, 1, (2000, 4))
    scale = np.array([1.0, 0.5, 2.0, 1.5])  # step 1 is easier than step 0: still not narrower
    intervals = calibrate(truth + scale * rng.normal(0, 1, truth.shape), truth, [0.8, 0.95])
    assert intervals.pooled_radius == [0, 0, 0, 0]
    for widths in intervals.half_widths:
        assert widths == sorted(widths)


def _seasonal_points(n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    values = 50.0 + 5.0 * np.sin(2 * np.pi * k / 24) + 0.5 * rng.standard_normal(n)
    return list(zip((1_700_000_000.0 + 3600.0 * k).tolist(), values.tolist(), strict=True))


def test_a_served_baseline_calibrates_on_validation_and_backtest_and_reports_both_levels() -> None:
    config = TrainingConfig(lookback_window=12, forecast_horizon=6)
    prepared = prepare_dataset(_seasonal_points(400, 3), config)
    assert prepared.backtest_starts.size > 0
    assert prepared.backtest_starts.max() + 6 <= prepared.train_end  # inside the training split
    spec = InferenceSpec(
        lookback=12,
        horizon=6,
        interval_seconds=3600.0,
        max_interpolated_gap=config.max_interpolated_gap,
        feature="value",
        transform=prepared.transform,
    )
    scaler = scaler_to_bytes(prepared.x_scaler)
    useless = Forecaster.from_bytes(constant_network_bytes(12, 6, [30.0] * 6), scaler, scaler, spec)
    selection = evaluate(prepared, useless).selection
    assert selection.serving == "seasonal_naive"
    assert selection.intervals.split == "validation+backtest"
    validation_windows = prepared.validation_starts.size
    assert selection.intervals.calibration_counts[0] > validation_windows  # backtest residuals added
    assert set(selection.test_coverage) == {"80", "95"}
    assert all(v is not None for v in selection.test_coverage.values())
    calibration = selection.calibration
    assert calibration is not None and calibration.sources == ["validation", "backtest"]
    assert calibration.residuals_per_step == selection.intervals.calibration_counts
    assert calibration.saturated == {"80": False, "95": False}
    # the job keeps the calibration and the gate's evidence (everything but the half-widths)
    kept = selection.decision()
    assert kept.calibration == calibration and kept.evidence == selection.evidence
    assert kept.significance_level == 0.05 and kept.best_baseline == "seasonal_naive"
    assert set(kept.backtest_scores) >= {"network", "seasonal_naive", "last_value"}
