"""Naive forecasts the network must beat, and season detection. Pure numpy.

All forecasts here are *direct H-step* forecasts from an origin: the first target index ``t`` of
a window, with the last observed value at ``t - 1``. They are evaluated on exactly the windows the
network is evaluated on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

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


def detect_season(values: FloatArray, max_season: int = MAX_SEASON) -> int:
    """The dominant season of ``values`` in grid steps, or 1 when there is none.

    Works on the regular grid at any resolution (a daily season is 24 steps of hourly data, 288
    of 5-minute data, 12 of monthly data is a year): the series is first linearly detrended (so a
    trend, e.g. CO2 growth, does not mask the season), then a candidate lag ``m >= 2`` is a local
    maximum of the autocorrelation that reaches :data:`ACF_MIN_PEAK`, rises at least
    :data:`ACF_MIN_PROMINENCE` above the lowest autocorrelation at a shorter lag (so a slowly
    decaying random walk is not taken for a season) and repeats: the autocorrelation at ``2m``
    keeps :data:`ACF_MIN_REPEAT` of the peak. Lags up to a third of the series (:data:`MIN_CYCLES`)
    and ``max_season`` are considered; the candidate with the highest autocorrelation wins.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    max_lag = min(x.size // MIN_CYCLES, max_season + 1)
    if max_lag < 3:
        return 1
    k = np.arange(x.size, dtype=np.float64)
    slope, intercept = np.polyfit(k, x, 1)
    acf = autocorrelation(x - (slope * k + intercept), 2 * max_lag)
    lags = np.arange(2, max_lag)
    centre = acf[lags]
    local_max = (centre >= acf[lags - 1]) & (centre > acf[lags + 1])
    running_min = np.minimum.accumulate(acf)
    prominence = centre - running_min[lags - 1]
    repeats = acf[np.minimum(2 * lags, acf.size - 1)] >= ACF_MIN_REPEAT * centre
    candidates = lags[local_max & (centre >= ACF_MIN_PEAK) & (prominence >= ACF_MIN_PROMINENCE) & repeats]
    if candidates.size == 0:
        return 1
    best = int(candidates[np.argmax(acf[candidates])])
    # A long season's peak is flat and noise can move it by a step: refine on the sum of the
    # autocorrelations at m and 2m, which resolves the lag twice as finely.
    near = np.arange(max(2, best - 2), min(max_lag, best + 3))
    return int(near[np.argmax(acf[near] + acf[2 * near])])


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
