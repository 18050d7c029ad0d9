"""Preprocessing edge cases: duplicates, ordering, intervals, gaps, constant series, too little data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.model import split_sizes
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.errors import InsufficientDataError
from chronos_core.ml.preprocessing import (
    clean_points,
    minimum_points,
    prepare_dataset,
    regularize,
    sampling_interval,
    to_epoch_seconds,
)
from chronos_core.ml.transforms import (
    ScalerParams,
    TransformSpec,
    decode_outputs,
    encode_targets,
    encode_windows,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_timestamps_parse_from_datetimes_numbers_and_iso_strings() -> None:
    epoch = T0.timestamp()
    assert to_epoch_seconds(T0) == epoch
    assert to_epoch_seconds(T0.replace(tzinfo=None)) == epoch  # naive means UTC
    assert to_epoch_seconds("2026-01-01T00:00:00Z") == epoch
    assert to_epoch_seconds("2026-01-01T01:00:00+01:00") == epoch
    assert to_epoch_seconds(epoch) == epoch
    assert to_epoch_seconds("not a date") is None
    assert to_epoch_seconds(None) is None
    assert to_epoch_seconds(True) is None


def test_clean_sorts_averages_duplicates_and_drops_invalid_points() -> None:
    points = [
        (T0 + timedelta(minutes=2), 5.0),
        (T0, 1.0),
        (T0 + timedelta(minutes=1), 2.0),
        (T0 + timedelta(minutes=1), 4.0),  # duplicate timestamp -> mean 3.0
        (T0 + timedelta(minutes=3), float("nan")),
        ("garbage", 1.0),
        (T0 + timedelta(minutes=4), "7.5"),  # numeric strings are accepted
        (T0 + timedelta(minutes=5), None),
    ]
    clean = clean_points(points)
    assert clean.values.tolist() == [1.0, 3.0, 5.0, 7.5]
    assert np.all(np.diff(clean.times) > 0)
    assert clean.raw_points == 8
    assert clean.invalid_points == 3
    assert clean.duplicate_points == 1


def test_interval_is_the_median_positive_gap_and_supports_sub_second_series() -> None:
    times = np.array([0.0, 0.25, 0.5, 0.75, 2.0])
    assert sampling_interval(times) == 0.25
    assert sampling_interval(np.array([0.0, 300.0, 600.0, 1500.0])) == 300.0


def test_interval_needs_two_distinct_timestamps() -> None:
    with pytest.raises(InsufficientDataError):
        sampling_interval(np.array([5.0]))


def test_short_gaps_are_interpolated_and_long_gaps_split_segments() -> None:
    # Grid of 10 s: slots 0..4 present, 5-6 missing (short gap), 7..9 present, 10..19 missing
    # (long gap), 20..24 present.
    slots = [0, 1, 2, 3, 4, 7, 8, 9, 20, 21, 22, 23, 24]
    points = [(1000.0 + 10.0 * s, float(s)) for s in slots]
    clean = clean_points(points)
    series = regularize(clean, 10.0, max_interpolated_gap=3)
    q = series.quality
    assert q.segments == 2
    assert q.gaps == 2 and q.long_gaps == 1
    assert q.interpolated_points == 2
    assert q.missing_points_not_filled == 10
    assert q.grid_points == 15
    assert series.segment_starts.tolist() == [0, 10]
    assert series.segment_ends.tolist() == [10, 15]
    # Linear interpolation over the short gap: value == slot number.
    assert series.values[:10].tolist() == [float(s) for s in range(10)]
    assert series.observed[:10].tolist() == [True] * 5 + [False, False] + [True] * 3
    assert series.times[10] == 1000.0 + 200.0


def test_jittered_timestamps_snap_to_the_grid_and_collisions_average() -> None:
    points = [(0.0, 1.0), (61.0, 2.0), (119.0, 3.0), (121.0, 5.0), (180.0, 4.0)]
    clean = clean_points(points)
    series = regularize(clean, sampling_interval(clean.times), max_interpolated_gap=0)
    assert series.interval == 58.5  # median of [61, 58, 2, 59]
    assert series.quality.slot_collisions == 1
    assert series.quality.dropped_points == 1


def test_no_window_crosses_a_long_gap(make_series) -> None:  # type: ignore[no-untyped-def]
    points = make_series(400)
    del points[200:230]  # a 30-interval hole
    config = TrainingConfig(lookback_window=12, forecast_horizon=4, max_interpolated_gap=3)
    data = prepare_dataset(points, config)
    assert data.quality.segments == 2
    times = data.series.times
    interval = data.series.interval
    for starts in (data.train_starts, data.validation_starts, data.test_starts):
        idx = starts[:, None] + np.arange(-12, 4)[None, :]
        steps = np.diff(times[idx], axis=1)
        assert np.allclose(steps, interval)


def test_splits_are_chronological_and_scaler_fits_on_train_only(make_series) -> None:  # type: ignore[no-untyped-def]
    points = make_series(1000)
    # A huge level shift in the last 10 % must not leak into the scaler.
    points = [(t, v + (1000.0 if i >= 900 else 0.0)) for i, (t, v) in enumerate(points)]
    config = TrainingConfig(lookback_window=24, forecast_horizon=6, target_mode="residual_last_value")
    data = prepare_dataset(points, config)
    assert split_sizes(1000, 0.15, 0.15) == (700, 150, 150)
    assert (data.train_end, data.validation_end) == (700, 850)
    assert data.train_starts.max() + 6 <= 700
    assert data.validation_starts.min() >= 700 and data.validation_starts.max() + 6 <= 850
    assert data.test_starts.min() >= 850
    assert data.x_scaler.mean[0] == pytest.approx(np.mean([v for _, v in points[:700]]))
    assert data.x_scaler.n_samples == 700
    assert data.quality.train_windows == data.train_starts.size == 700 - 24 - 6 + 1


def test_constant_series_scales_to_zero_without_dividing_by_zero() -> None:
    points = [(float(i), 3.0) for i in range(300)]
    data = prepare_dataset(points, TrainingConfig(lookback_window=10, forecast_horizon=2))
    assert data.x_scaler.scale == [1.0]
    x, y = data.network_arrays(data.train_starts)
    assert np.all(x == 0.0) and np.all(y == 0.0)
    assert data.season_length == 1


def test_too_little_data_gives_a_clear_error_with_the_required_count(make_series) -> None:  # type: ignore[no-untyped-def]
    config = TrainingConfig(lookback_window=24, forecast_horizon=1)
    need = minimum_points(config)
    with pytest.raises(InsufficientDataError) as err:
        prepare_dataset(make_series(need - 1), config)
    assert isinstance(err.value, ValidationError)
    assert str(need) in err.value.message
    assert err.value.details[0]["required"] == need
    # Exactly the minimum works: every split gets a window.
    data = prepare_dataset(make_series(need), config)
    assert min(data.train_starts.size, data.validation_starts.size, data.test_starts.size) >= 1


@pytest.mark.parametrize("points", [[], [(0.0, 1.0)], [(0.0, 1.0), (0.0, 2.0)], [("bad", "x")] * 5])
def test_degenerate_inputs_raise_insufficient_data(points: list[tuple[object, object]]) -> None:
    with pytest.raises(InsufficientDataError):
        prepare_dataset(points, TrainingConfig())


def test_minimum_points_for_reference_defaults() -> None:
    # L=24, H=1, ratios 0.15: train needs 25 points, validation/test 1 each (their inputs may
    # come from the previous split). n=33 -> floor(4.95)=4 test, 4 validation, 25 train.
    assert minimum_points(TrainingConfig()) == 33


def test_last_value_normalization_round_trips() -> None:
    scaler = ScalerParams(features=["value"], mean=[10.0], scale=[2.0], n_samples=5)
    spec = TransformSpec(window_normalization="last_value")
    windows = np.array([[10.0, 12.0, 14.0], [0.0, 1.0, 2.0]])
    targets = np.array([[16.0, 18.0], [3.0, 4.0]])
    x = encode_windows(windows, scaler, spec)
    assert x.shape == (2, 3, 1) and np.all(x[:, -1, 0] == 0.0)
    y = encode_targets(targets, windows, scaler, spec)
    assert np.allclose(y, [[1.0, 2.0], [0.5, 1.0]])
    assert np.allclose(decode_outputs(y, windows, scaler, spec), targets)


@pytest.mark.parametrize(
    ("target_mode", "season_length"),
    [("direct", None), ("residual_last_value", None), ("residual_seasonal_naive", 48), ("auto", None)],
)
def test_quality_reports_the_windows_returned_for_the_transform_context(
    make_series,  # type: ignore[no-untyped-def]
    target_mode: str,
    season_length: int | None,
) -> None:
    points = make_series(1200, noise=0.05)
    del points[500:540]  # a long gap: two segments
    config = TrainingConfig(
        lookback_window=24,
        forecast_horizon=6,
        target_mode=target_mode,  # type: ignore[arg-type]
        season_length=season_length,
    )
    data = prepare_dataset(points, config)
    q = data.quality
    assert q.segments == 2
    assert (q.train_points, q.train_points + q.validation_points) == (data.train_end, data.validation_end)
    assert q.train_points + q.validation_points + q.test_points == q.grid_points == len(data.series)
    splits = [
        (data.train_starts, q.train_windows, 0, data.train_end),
        (data.validation_starts, q.validation_windows, data.train_end, data.validation_end),
        (data.test_starts, q.test_windows, data.validation_end, len(data.series)),
    ]
    context, horizon = data.context_length, config.forecast_horizon
    for starts, windows, lo, hi in splits:
        assert windows == starts.size > 0
        # The whole raw context and the targets lie in one segment, the targets in their split.
        segment = np.searchsorted(data.series.segment_starts, starts, side="right") - 1
        assert np.all(starts - context >= data.series.segment_starts[segment])
        assert np.all(starts + horizon <= data.series.segment_ends[segment])
        assert np.all(starts >= lo) and np.all(starts + horizon <= hi)
    if data.transform.target_mode == "residual_seasonal_naive":
        # A context one season longer than the lookback gives fewer training windows.
        assert context == 24 + data.season_length
        assert q.train_windows < data.train_end - 2 * (24 + 6 - 1)
