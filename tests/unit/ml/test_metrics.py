"""Metric formulas against hand-computed values; baselines; season detection; null, never NaN."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chronos_core.ml.baselines import (
    autocorrelation,
    detect_season,
    last_value_forecast,
    mase_scale,
    seasonal_indices,
    seasonal_naive_forecast,
)
from chronos_core.ml.metrics import finite_or_none, forecast_metrics, skill_score


def test_hand_computed_metrics() -> None:
    y = np.array([[1.0, 2.0], [3.0, 4.0]])
    p = np.array([[2.0, 2.0], [3.0, 2.0]])  # errors: -1, 0, 0, 2
    naive = np.array([[1.0, 1.0], [1.0, 1.0]])  # errors: 0, 1, 2, 3
    m = forecast_metrics(y, p, naive_pred=naive, mase_scale=0.5)
    assert m.mae == pytest.approx(0.75)
    assert m.mse == pytest.approx(1.25)
    assert m.rmse == pytest.approx(math.sqrt(1.25))
    assert m.mape == pytest.approx(100 * (1 / 1 + 0 + 0 + 2 / 4) / 4)  # 37.5
    # sMAPE: 2|e|/(|y|+|ŷ|): 2/3, 0, 0, 4/6
    assert m.smape == pytest.approx(100 * (2 / 3 + 0 + 0 + 4 / 6) / 4)
    # R²: ȳ = 2.5, SS_tot = 5, SS_res = 5 -> 0
    assert m.r2 == pytest.approx(0.0)
    # Theil U2: RMSE(model) / RMSE(naive) = sqrt(1.25) / sqrt((0+1+4+9)/4)
    assert m.theil_u == pytest.approx(math.sqrt(1.25) / math.sqrt(3.5))
    assert m.mase == pytest.approx(0.75 / 0.5)
    assert m.mae_per_step == [pytest.approx(0.5), pytest.approx(1.0)]
    assert (m.windows, m.values) == (2, 4)


def test_mape_masks_zeros_and_is_null_when_all_targets_are_zero() -> None:
    y = np.array([[0.0, 2.0]])
    p = np.array([[1.0, 1.0]])
    assert forecast_metrics(y, p).mape == pytest.approx(50.0)
    zero = forecast_metrics(np.zeros((1, 2)), np.ones((1, 2)))
    assert zero.mape is None
    assert zero.smape == pytest.approx(200.0)
    both_zero = forecast_metrics(np.zeros((1, 2)), np.zeros((1, 2)))
    assert both_zero.smape == 0.0


def test_undefined_metrics_are_null_never_nan() -> None:
    y = np.full((3, 2), 5.0)  # constant target: R² undefined
    m = forecast_metrics(y, y, naive_pred=y, mase_scale=0.0)
    assert m.r2 is None
    assert m.theil_u is None  # naive RMSE is 0
    assert m.mase is None  # zero scale
    assert m.mae == 0.0
    document = json.dumps(m.model_dump(), allow_nan=False)  # would raise on NaN
    assert "NaN" not in document


def test_mask_excludes_entries_and_empty_mask_gives_nulls() -> None:
    y = np.array([[1.0, 100.0]])
    p = np.array([[2.0, 0.0]])
    masked = forecast_metrics(y, p, mask=np.array([[True, False]]))
    assert masked.mae == 1.0 and masked.values == 1
    assert masked.mae_per_step == [1.0, None]
    empty = forecast_metrics(y, p, mask=np.zeros((1, 2), dtype=bool))
    assert empty.mae is None and empty.values == 0


def test_skill_score() -> None:
    assert skill_score(1.0, 4.0) == pytest.approx(0.75)
    assert skill_score(4.0, 4.0) == 0.0
    assert skill_score(1.0, 0.0) is None
    assert skill_score(None, 1.0) is None


def test_finite_or_none() -> None:
    assert finite_or_none(float("nan")) is None
    assert finite_or_none(float("inf")) is None
    assert finite_or_none(np.float32(1.5)) == 1.5


def test_last_value_and_seasonal_naive_forecasts() -> None:
    values = np.arange(20, dtype=np.float64)
    starts = np.array([10, 12], dtype=np.int64)
    assert last_value_forecast(values, starts, 3).tolist() == [[9, 9, 9], [11, 11, 11]]
    seg = np.array([0, 0], dtype=np.int64)
    # m = 4: step h copies y[t + h - 4 * ceil((h + 1) / 4)]
    got = seasonal_naive_forecast(values, starts, 6, 4, seg)
    assert got.tolist() == [[6, 7, 8, 9, 6, 7], [8, 9, 10, 11, 8, 9]]
    # m = 1 is the last value.
    assert (
        seasonal_naive_forecast(values, starts, 3, 1, seg).tolist()
        == last_value_forecast(values, starts, 3).tolist()
    )


def test_seasonal_naive_falls_back_to_last_value_without_enough_history() -> None:
    starts = np.array([12], dtype=np.int64)
    idx = seasonal_indices(starts, 2, 8, np.array([10], dtype=np.int64))
    assert idx.tolist() == [[11, 11]]  # 12-8=4 and 5 are before the segment start 10


def test_mase_scale_uses_seasonal_differences_within_segments() -> None:
    values = np.array([1.0, 2.0, 4.0, 7.0, 100.0, 101.0])
    segment_of = np.array([0, 0, 0, 0, 1, 1])
    # m = 1 pairs within segments: |1|, |2|, |3|, |1| -> mean 1.75 (the 7 -> 100 jump is excluded)
    assert mase_scale(values, segment_of, 1) == pytest.approx(1.75)
    assert mase_scale(np.ones(5), np.zeros(5, dtype=np.int64), 1) is None


def test_autocorrelation_matches_the_direct_formula() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50)
    acf = autocorrelation(x, 5)
    d = x - x.mean()
    direct = [float(np.dot(d[: 50 - k], d[k:]) / np.dot(d, d)) for k in range(6)]
    assert np.allclose(acf, direct)
    assert autocorrelation(np.ones(10), 3).tolist() == [1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("period", [7, 24, 48])
def test_detect_season_finds_the_period(period: int) -> None:
    rng = np.random.default_rng(0)
    k = np.arange(40 * period)
    x = np.sin(2 * np.pi * k / period) + 0.3 * rng.standard_normal(k.size) + 0.001 * k
    assert detect_season(x) == period


def test_detect_season_returns_one_for_noise_trend_and_constant() -> None:
    rng = np.random.default_rng(0)
    assert detect_season(rng.standard_normal(2000)) == 1
    assert detect_season(np.cumsum(rng.standard_normal(2000))) == 1  # random walk
    assert detect_season(np.arange(500.0)) == 1
    assert detect_season(np.ones(100)) == 1
