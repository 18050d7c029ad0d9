"""Split-conformal prediction intervals per horizon step, and their empirical coverage. Pure numpy.

Calibration uses the absolute H-step residuals of the served forecaster on the validation split
(original units, interpolated targets masked), and for a served baseline also those of the
backtest at the end of the training split (out of sample for a baseline; the network was fitted
there, so its backtest residuals would be too small). A step with fewer than
:func:`required_residuals` residuals pools them with its neighbours' (steps ``h - r .. h + r``,
the smallest such ``r``), so a short series still has a stable quantile. Overlapping windows
share targets, so ``n`` counts the distinct targets behind the pooled residuals
(:func:`effective_count`), not the residuals: for step ``h`` and nominal coverage ``level`` the
half-width is the pooled ``|e|``'s quantile of order ``ceil((n + 1) * level) / n`` (the
finite-sample split-conformal rank; with one step and no pooling, the ``ceil((n + 1) * level)``-th
smallest); with too few targets for that rank the largest one is used and the level is flagged
``saturated``. Widths are then made
non-decreasing over the horizon (uncertainty does not shrink with lead time; this only widens
intervals).

Caveat: residuals of overlapping windows are not independent and the validation split also drove
early stopping, so coverage is checked on the untouched test split (:func:`coverage`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from chronos_core.ml.artifacts import PredictionIntervals
from chronos_core.ml.metrics import finite_or_none

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def level_key(level: float) -> str:
    """``0.8 -> "80"``, ``0.95 -> "95"``, ``0.995 -> "99.5"``."""
    return f"{round(level * 100, 6):g}"


#: A step's interval rests on at least this many residuals: fewer are pooled with the neighbouring
#: steps' (see :func:`required_residuals`).
MIN_CALIBRATION_RESIDUALS = 50


def required_residuals(levels: Sequence[float]) -> int:
    """Residuals a step needs before it stops pooling: :data:`MIN_CALIBRATION_RESIDUALS`, and
    enough that the highest level's rank ``ceil((n + 1) * level)`` stays two below ``n``."""
    top = max(levels) if levels else 0.0
    return max(MIN_CALIBRATION_RESIDUALS, math.ceil(2.0 / (1.0 - top)) if top < 1.0 else 0)


def effective_count(counts: Sequence[int], lo: int, hi: int) -> int:
    """Distinct targets behind the residuals of steps ``lo .. hi - 1``: overlapping windows
    forecast the same target at neighbouring steps (window ``i`` step ``h + 1`` is window ``i + 1``
    step ``h``), so each extra step adds about one new target, not a step's worth; a
    seasonal-naive forecast even repeats the very same error. The count is the largest step's plus
    one per extra step (never more than the residuals themselves)."""
    part = [int(c) for c in counts[lo:hi]]
    if not part:
        return 0
    return min(sum(part), max(part) + (hi - lo - 1))


def pooling_radius(counts: Sequence[int], need: int) -> list[int]:
    """Per step ``h``, the smallest ``r`` such that steps ``h - r .. h + r`` (inside the horizon)
    stand on at least ``need`` distinct targets (:func:`effective_count`), or the radius that
    covers the whole horizon."""
    horizon = len(counts)
    out: list[int] = []
    for h in range(horizon):
        r = 0
        while True:
            lo, hi = max(0, h - r), min(horizon, h + r + 1)
            if effective_count(counts, lo, hi) >= need or (lo == 0 and hi == horizon):
                break
            r += 1
        out.append(r)
    return out


def calibrate(
    y_true: FloatArray,
    y_pred: FloatArray,
    levels: Sequence[float],
    mask: BoolArray | None = None,
    *,
    min_residuals: int | None = None,
    split: Literal["validation", "validation+backtest"] = "validation",
) -> PredictionIntervals:
    """Split-conformal half-widths per step from ``(N, H)`` calibration forecasts.

    Step ``h`` uses the residuals of steps ``h - r .. h + r`` with the radius ``r`` of
    :func:`pooling_radius` (``min_residuals`` defaults to :func:`required_residuals`): on a long
    validation split every step stands alone, on a short one neighbouring steps lend theirs. The
    finite-sample rank is taken on the ``n`` distinct targets behind them
    (:func:`effective_count`): the half-width is the pooled residuals' quantile of order
    ``ceil((n + 1) * level) / n``, the largest residual (``saturated``) when that exceeds 1.
    """
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    keep = np.ones(y.shape, np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    keep = keep & np.isfinite(y) & np.isfinite(p)
    abs_err = np.abs(y - p)
    horizon = y.shape[1]
    counts = [int(keep[:, h].sum()) for h in range(horizon)]
    need = required_residuals(levels) if min_residuals is None else min_residuals
    radius = pooling_radius(counts, need)
    spans = [(max(0, h - r), min(horizon, h + r + 1)) for h, r in enumerate(radius)]
    pooled = [np.sort(abs_err[:, lo:hi][keep[:, lo:hi]]) for lo, hi in spans]
    effective = [effective_count(counts, lo, hi) for lo, hi in spans]
    widths: list[list[float]] = []
    saturated: list[bool] = []
    for level in levels:
        row: list[float] = []
        sat = False
        for r, n in zip(pooled, effective, strict=True):
            if r.size == 0 or n == 0:
                row.append(0.0)
                sat = True
                continue
            rank = math.ceil((n + 1) * level)
            if rank > n:
                sat = True
                rank = n
            row.append(float(r[math.ceil(rank / n * r.size) - 1]))
        widths.append(np.maximum.accumulate(np.asarray(row)).tolist())
        saturated.append(sat)
    kept = pooled[:MAX_SKETCH_STEPS]
    return PredictionIntervals(
        split=split,
        levels=[float(v) for v in levels],
        half_widths=widths,
        calibration_counts=effective,
        saturated=saturated,
        pooled_radius=radius,
        residuals=[residual_sketch(r) for r in kept],
        residual_counts=[int(r.size) for r in kept],
    )


#: Steps whose calibration residuals the metadata keeps (anomaly scans score the first steps).
MAX_SKETCH_STEPS = 24
#: Residuals kept per step: more are thinned to this many evenly spaced order statistics.
MAX_SKETCH_RESIDUALS = 400


def residual_sketch(sorted_residuals: FloatArray, size: int = MAX_SKETCH_RESIDUALS) -> list[float]:
    """``sorted_residuals`` (ascending), or ``size`` of its order statistics at evenly spaced
    ranks from the smallest to the largest, rounded to 7 significant digits: enough to read the
    empirical distribution (and its tail) back, small enough for the metadata document."""
    r = np.asarray(sorted_residuals, dtype=np.float64)
    if r.size > size:
        r = r[np.round(np.linspace(0, r.size - 1, size)).astype(np.int64)]
    return [float(f"{v:.7g}") for v in r]


def bands(
    forecast: FloatArray, intervals: PredictionIntervals | None
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """``{level_key: (lower, upper)}`` around ``forecast`` (``(H,)`` or ``(N, H)``)."""
    if intervals is None:
        return {}
    f = np.asarray(forecast, dtype=np.float64)
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    for level, half in zip(intervals.levels, intervals.half_widths, strict=True):
        w = np.asarray(half, dtype=np.float64)[: f.shape[-1]]
        out[level_key(level)] = (f - w, f + w)
    return out


def coverage(
    y_true: FloatArray,
    y_pred: FloatArray,
    intervals: PredictionIntervals,
    mask: BoolArray | None = None,
) -> tuple[dict[str, float | None], dict[str, list[float | None]]]:
    """Empirical coverage of the intervals around ``y_pred``: overall and per step, by level key."""
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    keep = np.ones(y.shape, np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    keep = keep & np.isfinite(y) & np.isfinite(p)
    overall: dict[str, float | None] = {}
    per_step: dict[str, list[float | None]] = {}
    for key, (lower, upper) in bands(p, intervals).items():
        inside = (y >= lower) & (y <= upper)
        overall[key] = finite_or_none(inside[keep].mean()) if np.any(keep) else None
        per_step[key] = [
            finite_or_none(inside[keep[:, h], h].mean()) if np.any(keep[:, h]) else None
            for h in range(y.shape[1])
        ]
    return overall, per_step
