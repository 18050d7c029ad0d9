"""From collected points to training windows. Pure numpy, no TensorFlow.

Pipeline (each step a public function so tests and the inference side can reuse it):

1. :func:`clean_points` parses ``(timestamp, value)`` pairs, drops unparsable or non-finite
   ones, sorts by time and averages duplicate timestamps.
2. :func:`sampling_interval` is the median of the positive gaps, as a float in seconds (sub-second
   series work; there is never a null interval: fewer than two distinct timestamps is an error).
3. :func:`regularize` snaps points onto the grid ``t0 + k * interval`` (points sharing a slot are
   averaged), fills runs of at most ``max_interpolated_gap`` missing slots by linear
   interpolation, and splits the series into segments at longer gaps.
4. :func:`prepare_dataset` splits the grid chronologically, fits the scalers on the training
   split only, detects the season, and lists the windows of each split. A window never crosses a
   segment boundary, and its targets never straddle two splits.

Quality figures for the job's metadata are collected on the way in :class:`DataQuality`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from chronos_core.domain.evaluation import DataQuality
from chronos_core.domain.model import minimum_points as domain_minimum_points
from chronos_core.domain.model import split_sizes
from chronos_core.ml.baselines import detect_season, last_value_forecast, seasonal_naive_forecast
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.errors import InsufficientDataError
from chronos_core.ml.transforms import (
    F32Array,
    FloatArray,
    ScalerParams,
    TransformSpec,
    encode_targets,
    encode_windows,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

TimestampLike = datetime | float | int | str
Point = tuple[Any, Any]


# --------------------------------------------------------------------------------------------
# 1. Cleaning
# --------------------------------------------------------------------------------------------


def to_epoch_seconds(ts: object) -> float | None:
    """Seconds since the epoch for a datetime (naive = UTC), a number, or an ISO-8601 string.

    Returns ``None`` for anything unparsable (the point is then counted as invalid).
    """
    if isinstance(ts, datetime):
        return (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)).timestamp()
    if isinstance(ts, bool):
        return None
    if isinstance(ts, int | float):
        value = float(ts)
        return value if math.isfinite(value) else None
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts.strip().replace("z", "Z"))
        except ValueError:
            return None
        return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).timestamp()
    return None


def _to_float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


@dataclass(frozen=True)
class CleanSeries:
    """Sorted, de-duplicated observations: strictly increasing ``times`` (epoch seconds)."""

    times: FloatArray
    values: FloatArray
    raw_points: int
    invalid_points: int
    duplicate_points: int


def clean_points(points: Iterable[Point]) -> CleanSeries:
    """Parse, drop invalid points, sort, and average values that share a timestamp."""
    times: list[float] = []
    values: list[float] = []
    raw = 0
    for item in points:
        raw += 1
        try:
            ts_raw, value_raw = item
        except (TypeError, ValueError):
            continue
        ts = to_epoch_seconds(ts_raw)
        value = _to_float(value_raw)
        if ts is None or value is None:
            continue
        times.append(ts)
        values.append(value)
    invalid = raw - len(times)
    if not times:
        return CleanSeries(np.empty(0), np.empty(0), raw, invalid, 0)
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    unique_t, inverse = np.unique(t, return_inverse=True)
    sums = np.bincount(inverse, weights=v, minlength=unique_t.size)
    counts = np.bincount(inverse, minlength=unique_t.size)
    return CleanSeries(
        times=unique_t,
        values=sums / counts,
        raw_points=raw,
        invalid_points=invalid,
        duplicate_points=int(t.size - unique_t.size),
    )


def sampling_interval(times: FloatArray) -> float:
    """Median of the positive consecutive gaps of sorted ``times``, in seconds (float).

    Raises :class:`InsufficientDataError` when fewer than two distinct timestamps exist.
    """
    t = np.asarray(times, dtype=np.float64)
    gaps = np.diff(t)
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        raise InsufficientDataError(
            "At least two points with distinct timestamps are needed to infer a sampling interval.",
            details=[{"field": "points", "distinct_timestamps": int(np.unique(t).size)}],
        )
    return float(np.median(gaps))


# --------------------------------------------------------------------------------------------
# 2. Regular grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegularSeries:
    """The series on its regular grid, long gaps removed.

    ``values[i]`` is at ``times[i]``; ``observed[i]`` is False for interpolated points;
    ``segment_starts``/``segment_ends`` (exclusive) delimit gap-free runs of the arrays.
    """

    times: FloatArray
    values: FloatArray
    observed: BoolArray
    segment_starts: IntArray
    segment_ends: IntArray
    interval: float
    quality: DataQuality

    def __len__(self) -> int:
        return int(self.values.size)

    def segment_start_of(self, index: IntArray) -> IntArray:
        """For each grid index, the first index of its segment."""
        pos = np.searchsorted(self.segment_starts, index, side="right") - 1
        return self.segment_starts[pos]


def regularize(clean: CleanSeries, interval: float, max_interpolated_gap: int) -> RegularSeries:
    """Put ``clean`` on the grid ``t0 + k * interval``.

    Each point goes to its nearest slot; points sharing a slot are averaged (``slot_collisions``).
    A run of ``k <= max_interpolated_gap`` empty slots is filled by linear interpolation between
    its neighbours; a longer run ends the segment, and the empty slots are simply absent.
    """
    if clean.times.size == 0:
        raise InsufficientDataError("No valid data points.", details=[{"field": "points", "valid": 0}])
    if not interval > 0:
        raise ValueError("interval must be positive")
    t0 = float(clean.times[0])
    slots_raw = np.rint((clean.times - t0) / interval).astype(np.int64)
    slots, inverse = np.unique(slots_raw, return_inverse=True)
    sums = np.bincount(inverse, weights=clean.values, minlength=slots.size)
    counts = np.bincount(inverse, minlength=slots.size)
    slot_values = sums / counts
    collisions = int(slots_raw.size - slots.size)

    missing = np.diff(slots) - 1
    gap_mask = missing > 0
    long_mask = missing > max_interpolated_gap
    breaks = np.flatnonzero(long_mask) + 1  # indices into ``slots`` where a new segment starts
    seg_first = np.concatenate([[0], breaks]).astype(np.int64)
    seg_last = np.concatenate([breaks - 1, [slots.size - 1]]).astype(np.int64)

    time_parts: list[FloatArray] = []
    value_parts: list[FloatArray] = []
    observed_parts: list[BoolArray] = []
    starts: list[int] = []
    ends: list[int] = []
    cursor = 0
    for first, last in zip(seg_first.tolist(), seg_last.tolist(), strict=True):
        seg_slots = slots[first : last + 1]
        grid = np.arange(seg_slots[0], seg_slots[-1] + 1, dtype=np.int64)
        vals = np.interp(grid, seg_slots, slot_values[first : last + 1])
        obs = np.zeros(grid.size, dtype=np.bool_)
        obs[seg_slots - seg_slots[0]] = True
        time_parts.append(t0 + grid.astype(np.float64) * interval)
        value_parts.append(vals)
        observed_parts.append(obs)
        starts.append(cursor)
        cursor += int(grid.size)
        ends.append(cursor)

    values = np.concatenate(value_parts)
    observed = np.concatenate(observed_parts)
    quality = DataQuality(
        raw_points=clean.raw_points,
        invalid_points=clean.invalid_points,
        duplicate_timestamps=clean.duplicate_points,
        slot_collisions=collisions,
        dropped_points=clean.invalid_points + clean.duplicate_points + collisions,
        observed_points=int(slots.size),
        interval_seconds=interval,
        grid_points=int(values.size),
        interpolated_points=int(values.size - slots.size),
        gaps=int(gap_mask.sum()),
        long_gaps=int(long_mask.sum()),
        missing_points_not_filled=int(missing[long_mask].sum()),
        segments=len(starts),
        max_interpolated_gap=max_interpolated_gap,
        first_timestamp=datetime.fromtimestamp(float(clean.times[0]), tz=UTC),
        last_timestamp=datetime.fromtimestamp(float(clean.times[-1]), tz=UTC),
    )
    return RegularSeries(
        times=np.concatenate(time_parts),
        values=values,
        observed=observed,
        segment_starts=np.asarray(starts, dtype=np.int64),
        segment_ends=np.asarray(ends, dtype=np.int64),
        interval=interval,
        quality=quality,
    )


# --------------------------------------------------------------------------------------------
# 3. Splits and windows
# --------------------------------------------------------------------------------------------


def minimum_points(config: TrainingConfig) -> int:
    """:func:`chronos_core.domain.model.minimum_points` for a training configuration."""
    return domain_minimum_points(
        config.lookback_window, config.forecast_horizon, config.validation_ratio, config.test_ratio
    )


def window_starts(series: RegularSeries, lookback: int, horizon: int, lo: int, hi: int) -> IntArray:
    """Indices ``t`` of the first target of every window whose targets lie in ``[lo, hi)``.

    Inputs are ``[t - L, t)`` and targets ``[t, t + H)``; all of them inside one segment.
    """
    parts: list[IntArray] = []
    for s, e in zip(series.segment_starts.tolist(), series.segment_ends.tolist(), strict=True):
        first = max(s + lookback, lo)
        last = min(e, hi) - horizon
        if last >= first:
            parts.append(np.arange(first, last + 1, dtype=np.int64))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def gather(values: npt.NDArray[Any], starts: IntArray, offset: int, length: int) -> npt.NDArray[Any]:
    """``values[t + offset : t + offset + length]`` for every ``t`` in ``starts``, as a 2-D array."""
    idx = starts[:, None] + np.arange(offset, offset + length, dtype=np.int64)[None, :]
    out: npt.NDArray[Any] = values[idx]
    return out


@dataclass(frozen=True)
class PreparedDataset:
    """Everything training and evaluation need, derived deterministically from the points."""

    series: RegularSeries
    config: TrainingConfig
    train_end: int
    validation_end: int
    train_starts: IntArray
    validation_starts: IntArray
    test_starts: IntArray
    x_scaler: ScalerParams
    y_scaler: ScalerParams
    transform: TransformSpec
    season_length: int
    season_detected: bool

    @property
    def quality(self) -> DataQuality:
        return self.series.quality

    @property
    def context_length(self) -> int:
        """Raw values before the origin that one network input needs (``L``, or ``L + m``)."""
        return self.transform.context_length(self.config.lookback_window)

    def raw_inputs(self, starts: IntArray) -> FloatArray:
        """``(N, C)`` raw contexts (``C`` = :attr:`context_length`), the most recent value last."""
        c = self.context_length
        return gather(self.series.values, starts, -c, c)

    def raw_targets(self, starts: IntArray) -> FloatArray:
        """``(N, H)`` raw targets."""
        return gather(self.series.values, starts, 0, self.config.forecast_horizon)

    def target_observed(self, starts: IntArray) -> BoolArray:
        """``(N, H)`` True where the target is a real observation (not interpolated)."""
        return gather(self.series.observed, starts, 0, self.config.forecast_horizon)

    def network_arrays(self, starts: IntArray) -> tuple[F32Array, F32Array]:
        """``(X, y)`` for the network: ``(N, L, 1)`` and ``(N, H)`` float32, encoded."""
        raw_x = self.raw_inputs(starts)
        x = encode_windows(raw_x, self.x_scaler, self.transform)
        y = encode_targets(self.raw_targets(starts), raw_x, self.y_scaler, self.transform)
        return x, y


def prepare_dataset(
    points: Iterable[Point] | Sequence[Point], config: TrainingConfig, feature: str = "value"
) -> PreparedDataset:
    """Clean, regularise, split, scale and window ``points`` for ``config``.

    Raises :class:`InsufficientDataError` (a ValidationError) with the counts found and
    :func:`minimum_points` when any split would get no window.
    """
    clean = clean_points(points)
    if clean.times.size < 2:
        raise InsufficientDataError(
            f"Too little data: {clean.times.size} valid point(s); at least "
            f"{minimum_points(config)} are needed.",
            details=[
                {
                    "field": "points",
                    "valid": int(clean.times.size),
                    "invalid": clean.invalid_points,
                    "required": minimum_points(config),
                }
            ],
        )
    interval = sampling_interval(clean.times)
    series = regularize(clean, interval, config.max_interpolated_gap)
    n = len(series)
    n_train, n_val, n_test = split_sizes(n, config.validation_ratio, config.test_ratio)
    train_end, validation_end = n_train, n_train + n_val
    lookback, horizon = config.lookback_window, config.forecast_horizon
    train = window_starts(series, lookback, horizon, 0, train_end)
    val = window_starts(series, lookback, horizon, train_end, validation_end)
    test = window_starts(series, lookback, horizon, validation_end, n)

    quality = series.quality.model_copy(
        update={
            "train_points": n_train,
            "validation_points": n_val,
            "test_points": n_test,
            "train_windows": int(train.size),
            "validation_windows": int(val.size),
            "test_windows": int(test.size),
        }
    )
    series = RegularSeries(
        series.times,
        series.values,
        series.observed,
        series.segment_starts,
        series.segment_ends,
        series.interval,
        quality,
    )
    if train.size == 0 or val.size == 0 or test.size == 0:
        need = minimum_points(config)
        raise InsufficientDataError(
            f"Too little data for lookback_window={lookback} and forecast_horizon={horizon}: "
            f"windows per split train={train.size}, validation={val.size}, test={test.size}. "
            f"At least {need} regularly spaced points without long gaps are needed; "
            f"got {n} grid points in {quality.segments} segment(s).",
            details=[
                {
                    "field": "points",
                    "grid_points": n,
                    "segments": quality.segments,
                    "train_windows": int(train.size),
                    "validation_windows": int(val.size),
                    "test_windows": int(test.size),
                    "required": need,
                }
            ],
        )

    train_values = series.values[:train_end]
    if config.season_length is not None:
        season, detected = config.season_length, False
    else:
        season, detected = detect_season(train_values, config.max_season_length), True

    transform = _resolve_transform(series, config, season, train_end, val)
    if transform.target_mode == "residual_seasonal_naive":
        context = transform.context_length(lookback)
        train = window_starts(series, context, horizon, 0, train_end)
        val = window_starts(series, context, horizon, train_end, validation_end)
        test = window_starts(series, context, horizon, validation_end, n)
        if train.size == 0 or val.size == 0 or test.size == 0:
            raise InsufficientDataError(
                f"Too little data for target_mode=residual_seasonal_naive with season {season}: "
                f"windows per split train={train.size}, validation={val.size}, test={test.size}.",
                details=[{"field": "points", "grid_points": n, "season_length": season}],
            )
        series = dataclasses.replace(
            series,
            quality=series.quality.model_copy(
                update={
                    "train_windows": int(train.size),
                    "validation_windows": int(val.size),
                    "test_windows": int(test.size),
                }
            ),
        )
        diffs = seasonal_differences(series, season, train_end)
        if diffs.size == 0:
            raise InsufficientDataError("No seasonal difference in the training split.")
        scaler = ScalerParams.fit(diffs, feature, applies_to="seasonal_differences")
    else:
        scaler = ScalerParams.fit(train_values, feature)
    return PreparedDataset(
        series=series,
        config=config,
        train_end=train_end,
        validation_end=validation_end,
        train_starts=train,
        validation_starts=val,
        test_starts=test,
        x_scaler=scaler,
        y_scaler=scaler,
        transform=transform,
        season_length=season,
        season_detected=detected,
    )


def segment_ids(series: RegularSeries) -> IntArray:
    """The segment number of every grid index."""
    ids: IntArray = np.searchsorted(series.segment_starts, np.arange(len(series)), side="right").astype(
        np.int64
    )
    return ids


def seasonal_differences(series: RegularSeries, season: int, end: int) -> FloatArray:
    """``x_i - x_{i-m}`` for ``i < end`` where both lie in one segment."""
    m = max(1, int(season))
    values = series.values[:end]
    if values.size <= m:
        return np.empty(0)
    seg = segment_ids(series)[:end]
    same = seg[m:] == seg[:-m]
    out: FloatArray = (values[m:] - values[:-m])[same]
    return out


def baseline_validation_mae(
    series: RegularSeries, starts: IntArray, horizon: int, season: int
) -> tuple[float, float]:
    """Validation MAE (observed targets only) of the seasonal-naive and last-value forecasts."""
    y = gather(series.values, starts, 0, horizon)
    observed = gather(series.observed, starts, 0, horizon)
    sn = seasonal_naive_forecast(series.values, starts, horizon, season, series.segment_start_of(starts))
    lv = last_value_forecast(series.values, starts, horizon)
    keep = observed if np.any(observed) else np.ones_like(observed)
    return float(np.mean(np.abs(y - sn)[keep])), float(np.mean(np.abs(y - lv)[keep]))


#: In ``auto`` mode the seasonal residual transform needs at least this share of the training
#: windows the plain lookback gives (its context is one season longer).
MIN_SEASONAL_WINDOW_SHARE = 0.5


def _resolve_transform(
    series: RegularSeries, config: TrainingConfig, season: int, train_end: int, val_starts: IntArray
) -> TransformSpec:
    """The concrete :class:`TransformSpec` for ``config.target_mode`` (``auto`` decided here)."""
    mode = config.target_mode
    if mode == "direct":
        return TransformSpec(
            window_normalization=config.window_normalization, target_mode="direct", season_length=season
        )
    if mode == "residual_last_value":
        return TransformSpec(window_normalization="last_value", target_mode=mode, season_length=season)
    if mode == "residual_seasonal_naive":
        return TransformSpec(window_normalization="last_value", target_mode=mode, season_length=season)
    # auto
    lookback, horizon = config.lookback_window, config.forecast_horizon
    fallback = TransformSpec(
        window_normalization="last_value", target_mode="residual_last_value", season_length=season
    )
    if season < 2:
        return fallback
    mae_sn, mae_lv = baseline_validation_mae(series, val_starts, horizon, season)
    if not mae_sn < mae_lv:
        return fallback
    context = lookback + season
    plain = window_starts(series, lookback, horizon, 0, train_end).size
    seasonal = window_starts(series, context, horizon, 0, train_end).size
    n = len(series)
    n_train, n_val, _ = split_sizes(n, config.validation_ratio, config.test_ratio)
    enough_eval = (
        window_starts(series, context, horizon, n_train, n_train + n_val).size > 0
        and window_starts(series, context, horizon, n_train + n_val, n).size > 0
    )
    if seasonal < max(1, int(MIN_SEASONAL_WINDOW_SHARE * plain)) or not enough_eval:
        return fallback
    return TransformSpec(
        window_normalization="last_value", target_mode="residual_seasonal_naive", season_length=season
    )
