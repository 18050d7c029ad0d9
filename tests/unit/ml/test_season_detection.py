"""Season detection that survives outages, level shifts and segments, confirmed on validation."""

from __future__ import annotations

import numpy as np
import pytest

from chronos_core.ml.baselines import (
    ACF_MIN_PEAK,
    acf_peaks,
    autocorrelation,
    flat_runs,
    natural_periods,
    season_acf,
)
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.preprocessing import prepare_dataset

HOUR, DAY = 3600.0, 86_400.0
CONFIG = TrainingConfig(lookback_window=24, forecast_horizon=6)


def _points(values: np.ndarray, interval: float) -> list[tuple[float, float]]:
    times = 1_700_000_000.0 + interval * np.arange(values.size)
    return list(zip(times.tolist(), values.tolist(), strict=True))


def flow_with_outages(seed: int, days: int = 90) -> np.ndarray:
    """An hourly flow with a daily season, a level shift and six maintenance outages reading 0."""
    rng = np.random.default_rng(seed)
    k = np.arange(24 * days)
    x = 100.0 + 8.0 * np.sin(2 * np.pi * k / 24) + 3.0 * rng.standard_normal(k.size)
    x[k >= int(k.size * 0.4)] += 40.0
    for start, length in [(150, 30), (420, 18), (700, 36), (910, 20), (1180, 28), (1400, 16)]:
        x[start : start + length] = 0.0
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_daily_season_is_found_through_outages_and_a_level_shift(seed: int) -> None:
    x = flow_with_outages(seed)
    # The failure mode: on the training split, the linearly detrended autocorrelation at 24 is
    # below the peak threshold, so the former detector found no season.
    train = x[: int(0.7 * x.size)]
    k = np.arange(train.size, dtype=np.float64)
    linear = autocorrelation(train - np.polyval(np.polyfit(k, train, 1), k), 48)
    assert linear[24] < ACF_MIN_PEAK

    data = prepare_dataset(_points(x, HOUR), CONFIG)
    assert data.season_length == 24 and data.season_detected
    evidence = data.season_evidence
    assert evidence is not None and evidence.chosen == 24
    assert evidence.method == "robust_acf_confirmed_on_validation"
    by_length = {c.length: c for c in evidence.candidates}
    assert {24, 168} <= set(by_length)  # the hourly cadence's natural periods were considered
    assert "cadence" in by_length[24].sources and "cadence" in by_length[168].sources
    chosen = by_length[24]
    assert chosen.acf is not None and chosen.acf >= ACF_MIN_PEAK
    assert chosen.beats_last_value
    assert chosen.validation_mae is not None and evidence.last_value_validation_mae is not None
    assert chosen.validation_mae < evidence.last_value_validation_mae
    assert "confirmed" in evidence.reason


@pytest.mark.parametrize("seed", range(4))
def test_a_random_walk_has_no_season_even_on_an_hourly_grid(seed: int) -> None:
    walk = 50.0 + np.cumsum(np.random.default_rng(seed).standard_normal(24 * 80))
    data = prepare_dataset(_points(walk, HOUR), CONFIG)
    assert data.season_length == 1
    evidence = data.season_evidence
    assert evidence is not None and evidence.chosen == 1
    # 24 and 168 were tried and rejected: the last value forecasts a random walk better.
    tried = {c.length: c for c in evidence.candidates}
    assert {24, 168} <= set(tried)
    assert not any(c.beats_last_value and (c.acf or 0.0) >= ACF_MIN_PEAK for c in tried.values())


def test_a_monthly_series_gets_its_yearly_season() -> None:
    rng = np.random.default_rng(5)
    months = np.arange(20 * 12)
    x = 200.0 + 0.8 * months + 15.0 * np.sin(2 * np.pi * months / 12) + 4.0 * rng.standard_normal(months.size)
    data = prepare_dataset(_points(x, 30.44 * DAY), TrainingConfig(lookback_window=12, forecast_horizon=6))
    assert data.season_length == 12
    evidence = data.season_evidence
    assert evidence is not None
    assert "cadence" in next(c for c in evidence.candidates if c.length == 12).sources


def test_a_configured_season_overrides_detection_and_says_so() -> None:
    data = prepare_dataset(
        _points(flow_with_outages(0), HOUR), CONFIG.model_copy(update={"season_length": 7})
    )
    assert data.season_length == 7 and not data.season_detected
    assert data.season_evidence is not None and data.season_evidence.method == "configured"
    assert data.season_evidence.candidates == []


def test_a_weekly_multiple_replaces_the_day_only_with_significant_evidence() -> None:
    # A pure daily season: 168 (a week, a multiple of 24) is just as good and must not win by luck.
    rng = np.random.default_rng(11)
    k = np.arange(24 * 70)
    daily = 20.0 + 5.0 * np.sin(2 * np.pi * k / 24) + rng.standard_normal(k.size)
    assert prepare_dataset(_points(daily, HOUR), CONFIG).season_length == 24
    # Weekends unlike weekdays: the week is the season.
    weekly = daily + np.where((k // 24) % 7 >= 5, -12.0, 0.0)
    data = prepare_dataset(_points(weekly, HOUR), CONFIG)
    assert data.season_length == 168


def test_natural_periods_of_calendar_cadences() -> None:
    assert natural_periods(3600.0) == [24, 168]
    assert natural_periods(1800.004) == [48, 336]  # jitter in the median gap
    assert natural_periods(900.0) == [96, 672]
    assert natural_periods(300.0) == [288, 2016]
    assert natural_periods(DAY) == [7, 365]
    assert natural_periods(7 * DAY) == [52]
    assert natural_periods(31 * DAY) == [12] and natural_periods(28 * DAY) == [12]
    assert natural_periods(91 * DAY) == [4]
    assert natural_periods(365 * DAY) == []
    assert natural_periods(37.0) == []  # does not divide a day
    assert natural_periods(0.016) == [5_400_000, 37_800_000]  # kept only if the series is that long


def test_autocorrelation_stays_within_segments() -> None:
    # Segments whose phases do not line up (the grid drops the slots of a long gap): computed
    # across the cuts the season blurs, within them it is intact.
    rng = np.random.default_rng(2)
    parts, starts, pos = [], [], 0
    for _ in range(16):
        length, phase = int(rng.integers(72, 120)), int(rng.integers(0, 24))
        k = np.arange(length) + phase
        parts.append(np.sin(2 * np.pi * k / 24) + 0.2 * rng.standard_normal(length))
        starts.append(pos)
        pos += length
    x = np.concatenate(parts)
    seg = np.asarray(starts, dtype=np.int64)
    within = season_acf(x, 24, seg)
    across = season_acf(x, 24)
    assert within is not None and across is not None and within > across + 0.1
    assert acf_peaks(x, segment_starts=seg)[0][0] == 24


def test_flat_runs_mark_stuck_stretches_only() -> None:
    x = np.array([1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 4.0])
    assert flat_runs(x, 4).tolist() == [False, False, True, True, True, True, False, False, False]
    assert not flat_runs(x, 5).any()
