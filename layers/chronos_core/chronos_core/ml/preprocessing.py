"""From collected points to training windows. Pure numpy, no TensorFlow.

Pipeline (each step a public function so tests and the inference side can reuse it):

1. :func:`clean_points` parses ``(timestamp, value)`` pairs, drops unparsable or non-finite
   ones, sorts by time and averages duplicate timestamps.
2. :func:`~chronos_core.ml.grid.choose_grid` finds the series' grid (:mod:`chronos_core.ml.grid`):
   a calendar grid (monthly, quarterly, yearly) or a seconds grid (sub-daily, daily, weekly) on
   the sensor's phase, or the model definition's ``sampling_interval``. :func:`sampling_interval`
   is the median of the positive gaps, in seconds (fewer than two distinct timestamps is an error).
3. :func:`regularize` snaps points onto the slots of that grid (points sharing a slot are
   averaged), fills runs of at most ``max_interpolated_gap`` missing slots by linear
   interpolation in slot space, and splits the series into segments at longer gaps.
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
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from chronos_core.domain.evaluation import DataQuality, SeasonCandidate, SeasonEvidence
from chronos_core.domain.model import minimum_points as domain_minimum_points
from chronos_core.domain.model import split_sizes
from chronos_core.ml.baselines import (
    ACF_MIN_PEAK,
    MIN_CYCLES,
    acf_peaks,
    last_value_forecast,
    natural_periods,
    season_acf,
    seasonal_naive_forecast,
)
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.errors import InsufficientDataError
from chronos_core.ml.grid import GridChoice, MonthsGrid, SecondsGrid, choose_grid, median_gap
from chronos_core.ml.significance import diebold_mariano, window_losses
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
    return median_gap(times)


# --------------------------------------------------------------------------------------------
# 2. Regular grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegularSeries:
    """The series on its regular grid, long gaps removed.

    ``values[i]`` is at ``times[i]`` (the slot's true instant: calendar months on a month grid);
    ``observed[i]`` is False for interpolated points; ``segment_starts``/``segment_ends``
    (exclusive) delimit gap-free runs of the arrays. ``interval`` is the grid's step in seconds
    (nominal for months: an average month).
    """

    times: FloatArray
    values: FloatArray
    observed: BoolArray
    segment_starts: IntArray
    segment_ends: IntArray
    interval: float
    quality: DataQuality
    grid: SecondsGrid | MonthsGrid

    def __len__(self) -> int:
        return int(self.values.size)

    def segment_start_of(self, index: IntArray) -> IntArray:
        """For each grid index, the first index of its segment."""
        pos = np.searchsorted(self.segment_starts, index, side="right") - 1
        return self.segment_starts[pos]


def regularize(
    clean: CleanSeries, grid: SecondsGrid | MonthsGrid | float, max_interpolated_gap: int
) -> RegularSeries:
    """Put ``clean`` on the slots of ``grid`` (a number: the seconds grid ``t0 + k * interval``
    anchored at the first point, the former behaviour; so is a seconds grid without an anchor).

    Each point goes to its slot (``grid.slots_of``: the nearest one, or its calendar period on a
    period month grid); points sharing a slot are averaged (``slot_collisions``). A run of
    ``k <= max_interpolated_gap`` empty slots is filled by linear interpolation between its
    neighbours (in slot space: a missing month sits halfway between its two neighbours); a
    longer run ends the segment, and the empty slots are simply absent.
    """
    if clean.times.size == 0:
        raise InsufficientDataError("No valid data points.", details=[{"field": "points", "valid": 0}])
    if isinstance(grid, int | float):
        if not grid > 0:
            raise ValueError("interval must be positive")
        grid = SecondsGrid(step_seconds=float(grid))
    grid = grid.anchored(clean.times)
    snapped = _snap_to_slots(clean, grid)
    gaps = _find_gaps(snapped.slots, max_interpolated_gap)
    filled = _fill_grid(snapped, gaps, grid)
    return RegularSeries(
        times=filled.times,
        values=filled.values,
        observed=filled.observed,
        segment_starts=filled.segment_starts,
        segment_ends=filled.segment_ends,
        interval=grid.nominal_seconds,
        quality=_grid_quality(clean, snapped, gaps, filled, grid.nominal_seconds, max_interpolated_gap),
        grid=grid,
    )


class _Snapped(NamedTuple):
    """The occupied slots ``k`` of the grid, strictly increasing."""

    slots: IntArray
    values: FloatArray  # the mean of the points snapped to each slot
    collisions: int  # points that landed on an already occupied slot


def _snap_to_slots(clean: CleanSeries, grid: SecondsGrid | MonthsGrid) -> _Snapped:
    """Snap every point of a non-empty ``clean`` to its slot of ``grid`` and average the points
    that share one."""
    slots_raw = grid.slots_of(clean.times)
    slots, inverse = np.unique(slots_raw, return_inverse=True)
    sums = np.bincount(inverse, weights=clean.values, minlength=slots.size)
    counts = np.bincount(inverse, minlength=slots.size)
    return _Snapped(slots, sums / counts, int(slots_raw.size - slots.size))


class _Gaps(NamedTuple):
    """The empty runs between consecutive occupied slots and the segments they delimit."""

    missing: IntArray  # empty slots between occupied slot i and i + 1
    long: BoolArray  # True where that run is too long to interpolate (it ends a segment)
    first: IntArray  # per segment, the index (into the occupied slots) of its first slot
    last: IntArray  # per segment, the index of its last slot (inclusive)


def _find_gaps(slots: IntArray, max_interpolated_gap: int) -> _Gaps:
    """Gaps of the non-empty, strictly increasing ``slots``; runs over ``max_interpolated_gap``
    empty slots split segments."""
    missing = np.diff(slots) - 1
    long_mask = missing > max_interpolated_gap
    breaks = np.flatnonzero(long_mask) + 1  # indices into ``slots`` where a new segment starts
    first = np.concatenate([[0], breaks]).astype(np.int64)
    last = np.concatenate([breaks - 1, [slots.size - 1]]).astype(np.int64)
    return _Gaps(missing, long_mask, first, last)


class _Grid(NamedTuple):
    """The gap-free segments laid end to end (the arrays of :class:`RegularSeries`)."""

    times: FloatArray
    values: FloatArray
    observed: BoolArray
    segment_starts: IntArray
    segment_ends: IntArray


def _fill_grid(snapped: _Snapped, gaps: _Gaps, grid: SecondsGrid | MonthsGrid) -> _Grid:
    """Every slot of every segment, short gaps interpolated, segments concatenated in order."""
    parts = [
        _fill_segment(snapped.slots[first : last + 1], snapped.values[first : last + 1], grid)
        for first, last in zip(gaps.first.tolist(), gaps.last.tolist(), strict=True)
    ]
    lengths = np.asarray([part.values.size for part in parts], dtype=np.int64)
    ends = np.cumsum(lengths, dtype=np.int64)
    return _Grid(
        times=np.concatenate([part.times for part in parts]),
        values=np.concatenate([part.values for part in parts]),
        observed=np.concatenate([part.observed for part in parts]),
        segment_starts=ends - lengths,
        segment_ends=ends,
    )


class _Segment(NamedTuple):
    """One gap-free segment on the grid (``observed`` False where interpolated)."""

    times: FloatArray
    values: FloatArray
    observed: BoolArray


def _fill_segment(slots: IntArray, values: FloatArray, grid: SecondsGrid | MonthsGrid) -> _Segment:
    """All slots from ``slots[0]`` to ``slots[-1]`` at their instants; the empty ones linearly
    interpolated (in slot space) and marked unobserved."""
    every = np.arange(slots[0], slots[-1] + 1, dtype=np.int64)
    observed = np.zeros(every.size, dtype=np.bool_)
    observed[slots - slots[0]] = True
    return _Segment(grid.times_of(every), np.interp(every, slots, values), observed)


def _grid_quality(
    clean: CleanSeries,
    snapped: _Snapped,
    gaps: _Gaps,
    grid: _Grid,
    interval: float,
    max_interpolated_gap: int,
) -> DataQuality:
    """The :class:`DataQuality` of cleaning and regularising (split figures still unset)."""
    grid_points = int(grid.values.size)
    return DataQuality(
        raw_points=clean.raw_points,
        invalid_points=clean.invalid_points,
        duplicate_timestamps=clean.duplicate_points,
        slot_collisions=snapped.collisions,
        dropped_points=clean.invalid_points + clean.duplicate_points + snapped.collisions,
        observed_points=int(snapped.slots.size),
        interval_seconds=interval,
        grid_points=grid_points,
        interpolated_points=grid_points - int(snapped.slots.size),
        gaps=int((gaps.missing > 0).sum()),
        long_gaps=int(gaps.long.sum()),
        missing_points_not_filled=int(gaps.missing[gaps.long].sum()),
        segments=int(grid.segment_starts.size),
        max_interpolated_gap=max_interpolated_gap,
        first_timestamp=datetime.fromtimestamp(float(clean.times[0]), tz=UTC),
        last_timestamp=datetime.fromtimestamp(float(clean.times[-1]), tz=UTC),
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


class _SplitBounds(NamedTuple):
    """Chronological splits of the grid: train ``[0, train_end)``, validation
    ``[train_end, validation_end)``, test ``[validation_end, end)``; ``end`` is the grid size."""

    train_end: int
    validation_end: int
    end: int


def _split_bounds(grid_points: int, config: TrainingConfig) -> _SplitBounds:
    """The split of ``grid_points`` by :func:`~chronos_core.domain.model.split_sizes`."""
    n_train, n_val, _ = split_sizes(grid_points, config.validation_ratio, config.test_ratio)
    return _SplitBounds(n_train, n_train + n_val, grid_points)


class _SplitWindows(NamedTuple):
    """The window starts (:func:`window_starts`) of each split."""

    train: IntArray
    validation: IntArray
    test: IntArray

    def any_empty(self) -> bool:
        """True when some split has no window."""
        return self.train.size == 0 or self.validation.size == 0 or self.test.size == 0

    def counts(self) -> dict[str, int]:
        """``{"train_windows": ..., "validation_windows": ..., "test_windows": ...}``."""
        return {
            "train_windows": int(self.train.size),
            "validation_windows": int(self.validation.size),
            "test_windows": int(self.test.size),
        }

    def describe(self) -> str:
        """``train=N, validation=N, test=N`` (for error messages)."""
        return f"train={self.train.size}, validation={self.validation.size}, test={self.test.size}"


def _split_windows(series: RegularSeries, context: int, horizon: int, bounds: _SplitBounds) -> _SplitWindows:
    """The windows of ``context`` inputs and ``horizon`` targets whose targets lie in each split."""
    return _SplitWindows(
        train=window_starts(series, context, horizon, 0, bounds.train_end),
        validation=window_starts(series, context, horizon, bounds.train_end, bounds.validation_end),
        test=window_starts(series, context, horizon, bounds.validation_end, bounds.end),
    )


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
    #: How the season was chosen (candidates, their autocorrelation and validation MAE).
    season_evidence: SeasonEvidence | None = None
    #: Windows (starts) of the rolling-origin backtest over the end of the training split, with
    #: the network's context: their targets lie in the last :func:`backtest_points` training
    #: points. Out of sample for the baselines, in sample for the network.
    backtest_starts: IntArray = dataclasses.field(default_factory=lambda: np.empty(0, dtype=np.int64))

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
    _require_distinct_points(clean, config)
    chosen_grid = choose_grid(clean.times, config.sampling_interval)
    series = _with_grid_report(regularize(clean, chosen_grid.grid, config.max_interpolated_gap), chosen_grid)
    bounds = _split_bounds(len(series), config)
    plain = _split_windows(series, config.lookback_window, config.forecast_horizon, bounds)
    _require_windows(plain, series, config)
    season = choose_season(series, bounds.train_end, plain.validation, config)
    chosen = _resolve_transform(series, config, season.length, bounds, plain)
    _require_context_windows(chosen, len(series), season.length)
    scaler = _fit_scaler(series, chosen.transform, season.length, bounds.train_end, feature)
    return PreparedDataset(
        series=_with_split_quality(series, bounds, chosen.windows),
        config=config,
        train_end=bounds.train_end,
        validation_end=bounds.validation_end,
        train_starts=chosen.windows.train,
        validation_starts=chosen.windows.validation,
        test_starts=chosen.windows.test,
        x_scaler=scaler,
        y_scaler=scaler,
        transform=chosen.transform,
        season_length=season.length,
        season_detected=season.detected,
        season_evidence=season.evidence,
        backtest_starts=backtest_starts(
            series, chosen.transform.context_length(config.lookback_window), config, bounds
        ),
    )


def _require_distinct_points(clean: CleanSeries, config: TrainingConfig) -> None:
    """Raise :class:`InsufficientDataError` (valid, invalid and required counts in ``details``)
    when ``clean`` holds fewer than two points."""
    if clean.times.size >= 2:
        return
    need = minimum_points(config)
    raise InsufficientDataError(
        f"Too little data: {clean.times.size} valid point(s); at least {need} are needed.",
        details=[
            {
                "field": "points",
                "valid": int(clean.times.size),
                "invalid": clean.invalid_points,
                "required": need,
            }
        ],
    )


def _require_windows(windows: _SplitWindows, series: RegularSeries, config: TrainingConfig) -> None:
    """Raise :class:`InsufficientDataError` (the windows per split, the grid size and
    :func:`minimum_points` in ``details``) when a split has no window of the plain lookback."""
    if not windows.any_empty():
        return
    need = minimum_points(config)
    n, segments = len(series), series.quality.segments
    raise InsufficientDataError(
        f"Too little data for lookback_window={config.lookback_window} and "
        f"forecast_horizon={config.forecast_horizon}: windows per split {windows.describe()}. "
        f"At least {need} regularly spaced points without long gaps are needed; "
        f"got {n} grid points in {segments} segment(s).",
        details=[
            {"field": "points", "grid_points": n, "segments": segments, **windows.counts(), "required": need}
        ],
    )


class _Season(NamedTuple):
    """The season the dataset uses (baselines, MASE, the seasonal residual transform)."""

    length: int  # in grid steps, >= 1 (1: no season)
    detected: bool  # False when the configuration fixed it
    evidence: SeasonEvidence


#: At most this many peaks of the robust autocorrelation join the cadence's natural periods.
MAX_PEAK_CANDIDATES = 3
#: A longer confirmed season replaces a shorter one only with a validation MAE this much lower
#: (on the windows where both have their history): the shorter season is the simpler model.
SEASON_GAIN = 0.05
#: A season that is a multiple of the shorter one (168 over 24) must also have lower
#: seasonal-naive losses over the training and validation windows at this one-sided
#: Diebold-Mariano level (Newey-West lag twice the longer season): a week holds seven days, so it
#: repeats a daily season too and wins half the time by chance on the validation split alone.
SEASON_MULTIPLE_SIGNIFICANCE = 0.05
#: Lags within this share of each other (at least two steps) are one season.
SEASON_LAG_TOLERANCE = 0.02


def _near(a: int, b: int) -> bool:
    """Two lags that are one season to within noise: :data:`SEASON_LAG_TOLERANCE` of the longer,
    at least two steps (a long season's autocorrelation peak is flat and noise moves it)."""
    return abs(a - b) <= max(2, SEASON_LAG_TOLERANCE * max(a, b))


def _merge_near(natural: set[int], peaks: list[int]) -> list[int]:
    """The peak lags, each replaced by a natural period it is near (so 289 on a 5-minute grid
    is the day, 288) and the weaker of two near peaks dropped (``peaks`` strongest first)."""
    kept: list[int] = []
    for lag in peaks:
        lag = next((m for m in sorted(natural) if _near(m, lag)), lag)
        if not any(_near(lag, other) for other in kept):
            kept.append(lag)
    return kept


def choose_season(
    series: RegularSeries, train_end: int, validation_starts: IntArray, config: TrainingConfig
) -> _Season:
    """``config.season_length`` when set; otherwise the detected season, with its evidence.

    Candidates are the natural periods of the grid interval (:func:`natural_periods`: hourly ->
    24 and 168, monthly -> 12, ...) and up to :data:`MAX_PEAK_CANDIDATES` peaks of the robust
    autocorrelation of the training split (:func:`acf_peaks`), each at most a third of the longest
    training segment and ``config.max_season_length``. Each is scored by its robust
    within-segment autocorrelation (:func:`season_acf`: outages and level shifts do not hide it)
    and by the seasonal-naive MAE on the validation windows. A candidate is **confirmed** when its
    autocorrelation reaches :data:`ACF_MIN_PEAK` and its seasonal-naive MAE is below the last
    value's on the validation windows with a full season of history in their segment (at least
    :data:`MIN_CONFIRMING_WINDOWS`). Peaks near a natural period are that period. Going through
    the confirmed ones from the shortest, a longer one replaces the one kept when its validation
    MAE is :data:`SEASON_GAIN` lower, and, if it is a multiple of it, when its seasonal-naive
    losses are also significantly lower over the training and validation windows together
    (:data:`SEASON_MULTIPLE_SIGNIFICANCE`; the baselines fit nothing, so the training split is
    fair ground for them). Without a confirmed candidate, the strongest
    autocorrelation peak is kept (the series is seasonal but the last value forecasts it better
    at this horizon: the season still defines the seasonal-naive baseline and MASE); without
    one, 1.
    """
    if config.season_length is not None:
        evidence = SeasonEvidence(
            method="configured", chosen=config.season_length, reason="season_length set in the configuration"
        )
        return _Season(config.season_length, False, evidence)
    values = series.values[:train_end]
    segment_starts = series.segment_starts[series.segment_starts < train_end]
    segment_ends = np.minimum(series.segment_ends[: segment_starts.size], train_end)
    longest = int(np.max(segment_ends - segment_starts)) if segment_starts.size else 0
    max_lag = min(longest // MIN_CYCLES, config.max_season_length)
    peaks = acf_peaks(values, config.max_season_length, segment_starts=segment_starts)[:MAX_PEAK_CANDIDATES]
    natural = {m for m in natural_periods(series.interval) if 2 <= m <= max_lag}
    peak_order = _merge_near(natural, [lag for lag, _ in peaks])
    peak_lags = set(peak_order)
    horizon = config.forecast_horizon
    scorer = _SeasonalErrors(series, validation_starts, horizon)
    train_starts = window_starts(series, 1, horizon, 0, train_end)
    history = _SeasonalErrors(series, np.concatenate([train_starts, validation_starts]), horizon)
    lv_mae = scorer.mae(1, on=1)
    candidates: list[SeasonCandidate] = []
    for m in sorted(natural | peak_lags):
        sources: list[Literal["cadence", "acf_peak"]] = []
        if m in natural:
            sources.append("cadence")
        if m in peak_lags:
            sources.append("acf_peak")
        sn_mae, lv_same = scorer.mae(m, on=m), scorer.mae(1, on=m)
        candidates.append(
            SeasonCandidate(
                length=m,
                sources=sources,
                acf=season_acf(values, m, segment_starts),
                validation_mae=sn_mae,
                validation_windows=scorer.windows(m),
                last_value_mae=lv_same,
                beats_last_value=sn_mae is not None and lv_same is not None and sn_mae < lv_same,
            )
        )
    length, reason = _pick_season(candidates, peak_order, scorer, history)
    evidence = SeasonEvidence(
        method="robust_acf_confirmed_on_validation",
        chosen=length,
        reason=reason,
        last_value_validation_mae=lv_mae,
        candidates=candidates,
    )
    return _Season(length, True, evidence)


#: A season is confirmed on validation only over at least this many windows with a full season
#: of history in their segment (elsewhere its forecast falls back to the last value and proves
#: nothing), and at least the horizon.
MIN_CONFIRMING_WINDOWS = 10


class _SeasonalErrors:
    """Seasonal-naive errors on some windows (observed targets only), by season."""

    def __init__(self, series: RegularSeries, starts: IntArray, horizon: int) -> None:
        self._series, self._starts, self._horizon = series, starts, horizon
        self._y = gather(series.values, starts, 0, horizon)
        observed = gather(series.observed, starts, 0, horizon)
        self._keep = observed if np.any(observed) else np.ones_like(observed)
        self._history = starts - series.segment_start_of(starts)

    def _forecast(self, season: int) -> FloatArray:
        s = self._series
        return seasonal_naive_forecast(
            s.values, self._starts, self._horizon, season, s.segment_start_of(self._starts)
        )

    def _full(self, season: int) -> BoolArray:
        """Windows with a full ``season`` of history in their segment."""
        out: BoolArray = self._history >= season
        return out

    def windows(self, season: int) -> int:
        return int(self._full(season).sum())

    def mae(self, season: int, *, on: int) -> float | None:
        """MAE of the seasonal naive of ``season`` over the windows with a full season ``on`` of
        history (``None`` with fewer than :data:`MIN_CONFIRMING_WINDOWS` and the horizon)."""
        full = self._full(on)
        if int(full.sum()) < max(MIN_CONFIRMING_WINDOWS, self._horizon):
            return None
        keep = self._keep & full[:, None]
        if not np.any(keep):
            return None
        return float(np.mean(np.abs(self._y - self._forecast(season))[keep]))

    def p_better(self, longer: int, shorter: int) -> float | None:
        """One-sided Diebold-Mariano p-value that season ``longer`` beats ``shorter`` on the
        windows with a full ``longer`` season of history. The Newey-West lag is twice the longer
        season (a season apart the two forecasts share errors, and Bartlett weights fade before
        the lag); with fewer than eight such seasons of windows the question is left open."""
        full = self._full(longer)
        if int(full.sum()) < 8 * longer:
            return None
        losses = {
            m: window_losses(self._y[full], self._forecast(m)[full], self._keep[full])
            for m in (longer, shorter)
        }
        return diebold_mariano(losses[longer], losses[shorter], self._horizon, min_lag=2 * longer).p_value


def _pick_season(
    candidates: list[SeasonCandidate],
    peaks: list[int],
    validation: _SeasonalErrors,
    history: _SeasonalErrors,
) -> tuple[int, str]:
    """The rule of :func:`choose_season` on scored candidates: ``(length, reason)``."""
    confirmed = [c for c in candidates if c.acf is not None and c.acf >= ACF_MIN_PEAK and c.beats_last_value]
    if confirmed:
        best = confirmed[0]
        notes: list[str] = []
        for c in confirmed[1:]:
            # compared on the windows where both have their full history
            mine, theirs = validation.mae(c.length, on=c.length), validation.mae(best.length, on=c.length)
            if mine is None or theirs is None or not mine < (1.0 - SEASON_GAIN) * theirs:
                continue
            if c.length % best.length == 0:
                p = history.p_better(c.length, best.length)
                if p is None or not p < SEASON_MULTIPLE_SIGNIFICANCE:
                    shown = "undefined" if p is None else f"{p:.3g}"
                    notes.append(f"{c.length} not significantly better than {best.length} (p {shown})")
                    continue
            best = c
        return best.length, (
            f"season {best.length} confirmed: robust autocorrelation {best.acf:.3g} >= {ACF_MIN_PEAK:g} "
            f"and seasonal-naive validation MAE {best.validation_mae:.6g} < last value "
            f"{best.last_value_mae:.6g} on {best.validation_windows} windows"
            + (f"; {'; '.join(notes)}" if notes else "")
        )
    if peaks:
        lag = peaks[0]
        return lag, (
            f"season {lag} from the strongest autocorrelation peak, not confirmed: its seasonal-naive "
            "validation MAE is not below the last value's (or too few validation windows have a "
            "season of history)"
        )
    return 1, "no season: no candidate has autocorrelation support and beats the last value on validation"


def backtest_points(train_points: int, validation_points: int) -> int:
    """Grid points at the end of the training split that the backtest covers: as many as the
    validation split, at most half the training split."""
    return max(0, min(validation_points, train_points // 2))


def backtest_starts(
    series: RegularSeries, context: int, config: TrainingConfig, bounds: _SplitBounds
) -> IntArray:
    """The rolling-origin backtest windows (every origin, stride 1) whose targets lie in the last
    :func:`backtest_points` points of the training split, with ``context`` inputs."""
    points = backtest_points(bounds.train_end, bounds.validation_end - bounds.train_end)
    if points < config.forecast_horizon:
        return np.empty(0, dtype=np.int64)
    return window_starts(
        series, context, config.forecast_horizon, bounds.train_end - points, bounds.train_end
    )


def _require_context_windows(chosen: _TransformChoice, grid_points: int, season: int) -> None:
    """Raise :class:`InsufficientDataError` when the seasonal residual transform, whose context is
    one season longer than the lookback, leaves a split without a window."""
    if chosen.transform.target_mode != "residual_seasonal_naive" or not chosen.windows.any_empty():
        return
    raise InsufficientDataError(
        f"Too little data for target_mode=residual_seasonal_naive with season {season}: "
        f"windows per split {chosen.windows.describe()}.",
        details=[{"field": "points", "grid_points": grid_points, "season_length": season}],
    )


def _fit_scaler(
    series: RegularSeries, transform: TransformSpec, season: int, train_end: int, feature: str
) -> ScalerParams:
    """The scaler of inputs and targets, fitted on the training split ``[0, train_end)`` only: on
    its seasonal differences for the seasonal residual transform, else on its values."""
    if transform.target_mode != "residual_seasonal_naive":
        return ScalerParams.fit(series.values[:train_end], feature)
    diffs = seasonal_differences(series, season, train_end)
    if diffs.size == 0:
        raise InsufficientDataError("No seasonal difference in the training split.")
    return ScalerParams.fit(diffs, feature, applies_to="seasonal_differences")


def _with_grid_report(series: RegularSeries, choice: GridChoice) -> RegularSeries:
    """``series`` whose quality also records the grid chosen (kind, step, anchor, source)."""
    return dataclasses.replace(series, quality=series.quality.model_copy(update={"grid": choice.report()}))


def _with_split_quality(series: RegularSeries, bounds: _SplitBounds, windows: _SplitWindows) -> RegularSeries:
    """``series`` whose quality also carries the points and the final windows of each split."""
    quality = series.quality.model_copy(
        update={
            "train_points": bounds.train_end,
            "validation_points": bounds.validation_end - bounds.train_end,
            "test_points": bounds.end - bounds.validation_end,
            **windows.counts(),
        }
    )
    return dataclasses.replace(series, quality=quality)


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


class _TransformChoice(NamedTuple):
    """A concrete transform and the windows of its context (:meth:`TransformSpec.context_length`)."""

    transform: TransformSpec
    windows: _SplitWindows


def _resolve_transform(
    series: RegularSeries, config: TrainingConfig, season: int, bounds: _SplitBounds, plain: _SplitWindows
) -> _TransformChoice:
    """The concrete :class:`TransformSpec` for ``config.target_mode`` (``auto`` decided here) and
    its windows; ``plain`` are the windows of the plain lookback, reused where the context is
    the lookback. The seasonal windows may leave a split empty (checked by the caller)."""
    mode = config.target_mode
    if mode == "direct":
        spec = TransformSpec(
            window_normalization=config.window_normalization, target_mode="direct", season_length=season
        )
        return _TransformChoice(spec, plain)
    if mode == "residual_last_value":
        return _TransformChoice(_last_value_transform(season), plain)
    if mode == "residual_seasonal_naive":
        return _seasonal_choice(series, config, season, bounds)
    return _auto_transform(series, config, season, bounds, plain)


def _last_value_transform(season: int) -> TransformSpec:
    """``residual_last_value`` (inputs and targets relative to the last input), ``season`` kept."""
    return TransformSpec(
        window_normalization="last_value", target_mode="residual_last_value", season_length=season
    )


def _seasonal_choice(
    series: RegularSeries, config: TrainingConfig, season: int, bounds: _SplitBounds
) -> _TransformChoice:
    """The seasonal residual transform and its windows (context ``L + m``)."""
    spec = TransformSpec(
        window_normalization="last_value", target_mode="residual_seasonal_naive", season_length=season
    )
    context = spec.context_length(config.lookback_window)
    return _TransformChoice(spec, _split_windows(series, context, config.forecast_horizon, bounds))


def _auto_transform(
    series: RegularSeries, config: TrainingConfig, season: int, bounds: _SplitBounds, plain: _SplitWindows
) -> _TransformChoice:
    """``auto``: the seasonal residual transform when a season (``>= 2``) was found, the
    seasonal-naive forecast beats the last value on the validation windows, and its longer context
    keeps :data:`MIN_SEASONAL_WINDOW_SHARE` of the training windows and a window in validation and
    test; otherwise ``residual_last_value`` on the plain windows."""
    fallback = _TransformChoice(_last_value_transform(season), plain)
    if season < 2:
        return fallback
    mae_sn, mae_lv = baseline_validation_mae(series, plain.validation, config.forecast_horizon, season)
    if not mae_sn < mae_lv:
        return fallback
    seasonal = _seasonal_choice(series, config, season, bounds)
    windows = seasonal.windows
    enough_train = windows.train.size >= max(1, int(MIN_SEASONAL_WINDOW_SHARE * plain.train.size))
    enough_eval = windows.validation.size > 0 and windows.test.size > 0
    return seasonal if enough_train and enough_eval else fallback
