"""Naive forecasts the network must beat, and season detection. Pure numpy.

All forecasts here are *direct H-step* forecasts from an origin: the first target index ``t`` of
a window, with the last observed value at ``t - 1``. They are evaluated on exactly the windows the
network is evaluated on.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Autocorrelation a peak must reach, and how far it must rise above the lowest earlier value.
ACF_MIN_PEAK = 0.2
ACF_MIN_PROMINENCE = 0.1
MAX_SEASON = 20_000
#: A season must fit this many times into the series, and the autocorrelation at twice the lag
#: must keep this share of the peak: together they reject the slow wiggles of a (detrended) random
#: walk, which look like one long "season" but do not repeat.
MIN_CYCLES = 3
ACF_MIN_REPEAT = 0.5


def autocorrelation(values: FloatArray, max_lag: int) -> FloatArray:
    """Biased sample autocorrelation for lags ``0..max_lag`` (FFT, O(n log n)).

    Returns all zeros (and 1 at lag 0) for a constant series.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean()
    n = x.size
    max_lag = max(0, min(max_lag, n - 1))
    denom = float(np.dot(x, x))
    if n == 0 or denom <= 0.0:
        out = np.zeros(max_lag + 1)
        if out.size:
            out[0] = 1.0
        return out
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    return np.asarray(acov / denom, dtype=np.float64)


def detect_season(
    values: FloatArray, max_season: int = MAX_SEASON, *, segment_starts: IntArray | None = None
) -> int:
    """The dominant season of ``values`` in grid steps by autocorrelation alone, or 1 when there is
    none (the training pipeline also confirms seasons on the validation split, see
    :func:`chronos_core.ml.preprocessing.choose_season`).

    Works on the regular grid at any resolution (a daily season is 24 steps of hourly data, 288
    of 5-minute data, 12 of monthly data is a year). The autocorrelation is the robust one of
    :func:`acf_peaks` (robust detrending, flat runs masked, outliers clipped, within segments); a
    candidate lag ``m >= 2`` is a local maximum that reaches :data:`ACF_MIN_PEAK`, rises at least
    :data:`ACF_MIN_PROMINENCE` above the lowest autocorrelation at a shorter lag (so a slowly
    decaying random walk is not taken for a season) and repeats: the autocorrelation at ``2m``
    keeps :data:`ACF_MIN_REPEAT` of the peak. Lags up to a third of the series
    (:data:`MIN_CYCLES`) and ``max_season`` are considered; the highest peak wins.
    """
    peaks = acf_peaks(values, max_season, segment_starts=segment_starts)
    return peaks[0][0] if peaks else 1


# --------------------------------------------------------------------------------------------
# Robust autocorrelation: outages, level shifts and segments
# --------------------------------------------------------------------------------------------

#: Residuals beyond ``ROBUST_CLIP`` robust standard deviations (1.4826 x MAD) are clipped to it,
#: and those beyond ``ROBUST_OUTLIER`` (a sensor reading zero, a spike) are left out.
ROBUST_CLIP = 3.0
ROBUST_OUTLIER = 6.0
#: A run of at least this many identical consecutive values is an outage (a stuck or zeroed
#: sensor) and is left out of the autocorrelation; for a candidate season ``m`` the run must
#: also be at least half a season long (up to :data:`FLAT_RUN_CAP`), so a genuine daily lull
#: (say five hours of zero flow at night) is kept.
MIN_FLAT_RUN = 6
#: A run longer than :data:`FLAT_RUN_CAP` values is an outage whatever the season.
FLAT_RUN_CAP = 24
#: When flat runs cover more than this share of the series, it is quantised, not broken: nothing
#: is left out for being flat.
MAX_FLAT_SHARE = 0.5
#: The peak search smooths with blocks of this many points at least.
MIN_SEARCH_BLOCK = 8
#: Fewer pairs ``(t, t + m)`` inside segments than this leave a lag's autocorrelation undefined.
MIN_ACF_PAIRS = 8


def _segments(n: int, segment_starts: IntArray | None) -> list[tuple[int, int]]:
    """``[(start, end)]`` of the gap-free runs of ``n`` grid values (one run when not given)."""
    if segment_starts is None or len(segment_starts) == 0:
        return [(0, n)]
    starts = sorted({int(s) for s in np.asarray(segment_starts).tolist() if 0 <= int(s) < n} | {0})
    ends = [*starts[1:], n]
    return list(zip(starts, ends, strict=True))


def flat_runs(values: FloatArray, min_run: int) -> BoolArray:
    """True for the values in runs of at least ``min_run`` identical consecutive values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or min_run < 2:
        return np.zeros(x.size, dtype=np.bool_)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(x) != 0.0) + 1, [x.size]])
    lengths = np.diff(bounds)
    return np.repeat(lengths >= min_run, lengths)


def _block_median_trend(x: FloatArray, valid: BoolArray, block: int) -> FloatArray:
    """A robust trend of one segment: the medians of its valid values in consecutive blocks of
    ``block`` points (a last block shorter than half a block joins the one before), joined
    linearly and extended linearly past the first and last block centres. A block of exactly one
    season has the same median wherever the season stands, so the trend keeps the level (and its
    shifts, to within a block) and leaves the season in the residual."""
    n = x.size
    block = max(2, min(int(block), n))
    full = n // block
    if full > 1 and n - full * block < block // 2:
        full -= 1  # the short remainder joins the last full block
    head = full * block
    masked = np.where(valid, x, np.nan)
    index = np.where(valid, np.arange(n, dtype=np.float64), np.nan)
    parts_x = [masked[:head].reshape(full, block)] if full else []
    parts_i = [index[:head].reshape(full, block)] if full else []
    medians: list[FloatArray] = []
    centres: list[FloatArray] = []
    with warnings.catch_warnings():  # an all-outage block: "All-NaN slice", "Mean of empty slice"
        warnings.simplefilter("ignore", RuntimeWarning)
        if parts_x:
            medians.append(np.nanmedian(parts_x[0], axis=1))
            centres.append(np.nanmean(parts_i[0], axis=1))
        if head < n:
            medians.append(np.atleast_1d(np.nanmedian(masked[head:])))
            centres.append(np.atleast_1d(np.nanmean(index[head:])))
    m, c = np.concatenate(medians), np.concatenate(centres)
    ok = np.isfinite(m) & np.isfinite(c)
    m, c = m[ok], c[ok]
    if m.size == 0:
        return np.zeros(n)
    if m.size == 1:
        return np.full(n, m[0])
    k = np.arange(n, dtype=np.float64)
    trend = np.interp(k, c, m)
    before, after = k < c[0], k > c[-1]
    trend[before] = m[0] + (k[before] - c[0]) * (m[1] - m[0]) / (c[1] - c[0])
    trend[after] = m[-1] + (k[after] - c[-1]) * (m[-1] - m[-2]) / (c[-1] - c[-2])
    return trend


def robust_residuals(
    values: FloatArray, block: int, segment_starts: IntArray | None = None, flat_run: int = MIN_FLAT_RUN
) -> tuple[FloatArray, BoolArray]:
    """Residuals of ``values`` around a robust trend and which of them count.

    Per segment: flat runs of ``flat_run`` or more identical values (outages) are left out
    (``valid`` False, residual 0), the trend is :func:`_block_median_trend` of ``block`` points,
    and the residuals are centred; those beyond :data:`ROBUST_OUTLIER` robust standard deviations
    are left out too and the rest clipped at :data:`ROBUST_CLIP` (so a short outage or a spike
    weighs nothing, and a large deviation no more than an ordinary one).
    """
    x = np.asarray(values, dtype=np.float64)
    flat = flat_runs(np.where(np.isfinite(x), x, 0.0), flat_run)
    if flat.mean() > MAX_FLAT_SHARE:
        flat[:] = False  # a coarsely quantised sensor, not outages
    valid = np.isfinite(x) & ~flat
    resid = np.zeros(x.size)
    for lo, hi in _segments(x.size, segment_starts):
        resid[lo:hi] = x[lo:hi] - _block_median_trend(np.nan_to_num(x[lo:hi]), valid[lo:hi], block)
    if not np.any(valid):
        return np.zeros(x.size), valid
    r = resid[valid]
    centre = float(np.median(r))
    spread = 1.4826 * float(np.median(np.abs(r - centre)))
    if not spread > 0.0:
        spread = float(np.std(r))
    r = r - centre
    if spread > 0.0:
        inlier = np.abs(r) <= ROBUST_OUTLIER * spread
        valid[np.flatnonzero(valid)[~inlier]] = False
        r = np.clip(r[inlier], -ROBUST_CLIP * spread, ROBUST_CLIP * spread)
    out = np.zeros(x.size)
    if r.size:
        out[valid] = r - r.mean()
    return out, valid


def season_acf(values: FloatArray, lag: int, segment_starts: IntArray | None = None) -> float | None:
    """The robust autocorrelation at ``lag`` that scores a candidate season ``m = lag``.

    The trend is the block median of one season (:func:`robust_residuals` with ``block = m``;
    flat runs of at least ``max(MIN_FLAT_RUN, min(m // 2, FLAT_RUN_CAP))`` values left out), and
    only pairs ``(t, t + m)`` inside one segment with both values valid count:
    ``mean(r_t r_{t+m}) / mean(r^2)``. ``None`` when fewer than :data:`MIN_ACF_PAIRS` pairs exist
    or the residuals are all zero.
    """
    m = int(lag)
    x = np.asarray(values, dtype=np.float64)
    if m < 1 or x.size <= m:
        return None
    flat_run = max(MIN_FLAT_RUN, min(m // 2, FLAT_RUN_CAP))
    resid, valid = robust_residuals(x, m, segment_starts, flat_run=flat_run)
    num, pairs = 0.0, 0
    for lo, hi in _segments(x.size, segment_starts):
        if hi - lo <= m:
            continue
        both = valid[lo : hi - m] & valid[lo + m : hi]
        num += float(np.dot(resid[lo : hi - m][both], resid[lo + m : hi][both]))
        pairs += int(both.sum())
    denom = float(np.mean(resid[valid] ** 2)) if np.any(valid) else 0.0
    if pairs < MIN_ACF_PAIRS or not denom > 0.0:
        return None
    return float(num / pairs / denom)


def _segment_autocorrelation(resid: FloatArray, segments: list[tuple[int, int]], max_lag: int) -> FloatArray:
    """Biased autocorrelation for lags ``0..max_lag`` summed over segments (no pair crosses a
    segment boundary), normalised by the total sum of squares."""
    acov = np.zeros(max_lag + 1)
    for lo, hi in segments:
        x = resid[lo:hi]
        if x.size < 2:
            acov[0] += float(np.dot(x, x))
            continue
        size = 1 << (2 * x.size - 1).bit_length()
        spectrum = np.fft.rfft(x, size)
        part = np.fft.irfft(spectrum * np.conj(spectrum), size)[: min(max_lag, x.size - 1) + 1]
        acov[: part.size] += part
    denom = acov[0]
    if not denom > 0.0:
        out = np.zeros(max_lag + 1)
        out[0] = 1.0
        return out
    return np.asarray(acov / denom, dtype=np.float64)


def acf_peaks(
    values: FloatArray, max_season: int = MAX_SEASON, *, segment_starts: IntArray | None = None
) -> list[tuple[int, float]]:
    """Seasons the robust autocorrelation proposes, ``[(lag, acf)]``, the strongest first.

    The series is detrended by block medians over a third of the longest segment (long enough to
    keep every season considered, short enough to follow level shifts and a curved trend), flat
    runs are left out and outliers clipped (:func:`robust_residuals`); the autocorrelation is
    computed within segments. The peak rules are those of :func:`detect_season`; each peak is
    refined on ``acf(m) + acf(2m)`` (a long season's peak is flat and noise can move it by a step).
    """
    x = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(x)
    if not np.all(finite):
        x = np.where(finite, x, np.interp(np.arange(x.size), np.flatnonzero(finite), x[finite]))
    segments = _segments(x.size, segment_starts)
    longest = max(hi - lo for lo, hi in segments)
    max_lag = min(longest // MIN_CYCLES, max_season + 1)
    if max_lag < 3:
        return []
    block = max(MIN_SEARCH_BLOCK, max_lag)
    resid, _ = robust_residuals(x, block, segment_starts)
    acf = _segment_autocorrelation(resid, segments, 2 * max_lag)
    lags = np.arange(2, max_lag)
    centre = acf[lags]
    local_max = (centre >= acf[lags - 1]) & (centre > acf[lags + 1])
    running_min = np.minimum.accumulate(acf)
    prominence = centre - running_min[lags - 1]
    repeats = acf[np.minimum(2 * lags, acf.size - 1)] >= ACF_MIN_REPEAT * centre
    found = lags[local_max & (centre >= ACF_MIN_PEAK) & (prominence >= ACF_MIN_PROMINENCE) & repeats]
    peaks: list[tuple[int, float]] = []
    for best in found[np.argsort(-acf[found], kind="stable")].tolist():
        if any(abs(best - lag) <= 2 for lag, _ in peaks):
            continue  # the same flat peak, already taken
        near = np.arange(max(2, best - 2), min(max_lag, best + 3))
        lag = int(near[np.argmax(acf[near] + acf[2 * near])])
        peaks.append((lag, float(acf[best])))
    return peaks


# --------------------------------------------------------------------------------------------
# Natural periods of a cadence
# --------------------------------------------------------------------------------------------

DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS

#: Calendar cadences (interval range in days) and their natural seasons in steps.
_CALENDAR_PERIODS: tuple[tuple[float, float, tuple[int, ...]], ...] = (
    (0.95, 1.05, (7, 365)),  # daily: a week, a year
    (6.5, 7.5, (52,)),  # weekly: a year
    (27.5, 31.5, (12,)),  # monthly: a year
    (88.0, 93.0, (4,)),  # quarterly: a year
)


def natural_periods(interval_seconds: float | None) -> list[int]:
    """The seasons the calendar suggests for a grid of ``interval_seconds``, in steps.

    Sub-daily grids that divide a day (to within a twentieth of a step): a day and a week
    (hourly -> 24 and 168, half-hourly -> 48 and 336, 15-minute -> 96 and 672); daily -> 7 and
    365; weekly -> 52;
    monthly -> 12; quarterly -> 4; anything else (yearly, or a cadence that does not divide a
    day) -> none. The caller keeps the ones the series is long enough for.
    """
    if interval_seconds is None or not interval_seconds > 0 or not np.isfinite(interval_seconds):
        return []
    days = interval_seconds / DAY_SECONDS
    if days < 0.95:
        per_day = DAY_SECONDS / interval_seconds
        steps = round(per_day)
        if steps < 2 or abs(per_day - steps) > 0.05:
            return []
        return [steps, 7 * steps]
    for low, high, periods in _CALENDAR_PERIODS:
        if low <= days <= high:
            return list(periods)
    return []


def seasonal_indices(
    starts: IntArray, horizon: int, season: int, origin_segment_starts: IntArray
) -> IntArray:
    """Indices of the seasonal-naive source value for every (origin, step): ``(N, H)``.

    Step ``h`` (0-based) from origin ``t`` copies ``y[t + h - m * ceil((h + 1) / m)]``, the most
    recent value one or more whole seasons earlier. ``m = 1`` gives the last value. When that
    index falls before ``origin_segment_starts`` (the first index of each origin's segment: not
    enough history), the last value ``y[t - 1]`` is
    used instead.
    """
    m = max(1, int(season))
    steps = np.arange(horizon, dtype=np.int64)
    back = m * ((steps + 1 + m - 1) // m)  # m * ceil((h + 1) / m)
    idx = starts[:, None] + steps[None, :] - back[None, :]
    last = (starts - 1)[:, None]
    return np.where(idx >= origin_segment_starts[:, None], idx, last)


def last_value_forecast(values: FloatArray, starts: IntArray, horizon: int) -> FloatArray:
    """``(N, H)``: every step repeats ``y[t - 1]``."""
    return np.repeat(values[starts - 1][:, None], horizon, axis=1)


def seasonal_naive_forecast(
    values: FloatArray, starts: IntArray, horizon: int, season: int, origin_segment_starts: IntArray
) -> FloatArray:
    """``(N, H)`` seasonal-naive forecasts (see :func:`seasonal_indices`)."""
    return values[seasonal_indices(starts, horizon, season, origin_segment_starts)]


def mase_scale(values: FloatArray, segment_of: IntArray, season: int) -> float | None:
    """In-sample mean absolute seasonal difference ``mean |y_i - y_{i-m}|`` (Hyndman's MASE scale).

    ``segment_of[i]`` identifies the segment of ``values[i]``; differences never cross segments.
    Returns ``None`` when no pair exists or the scale is zero (a constant series).
    """
    m = max(1, int(season))
    if values.size <= m:
        return None
    same = segment_of[m:] == segment_of[:-m]
    if not np.any(same):
        return None
    scale = float(np.mean(np.abs(values[m:] - values[:-m])[same]))
    return scale if scale > 0.0 and np.isfinite(scale) else None
