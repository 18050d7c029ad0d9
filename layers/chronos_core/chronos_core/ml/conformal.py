"""Split-conformal prediction intervals per horizon step, and their empirical coverage. Pure numpy.

Calibration uses the absolute H-step residuals of the served forecaster on the validation split
(original units, interpolated targets masked). For step ``h`` with ``n`` residuals and nominal
coverage ``level``, the half-width is the ``ceil((n + 1) * level)``-th smallest ``|e|`` (the
finite-sample split-conformal quantile); with too few residuals for that rank the largest one is
used and the level is flagged ``saturated``. Widths are then made non-decreasing over the
horizon (uncertainty does not shrink with lead time; this only widens intervals).

Caveat: residuals of overlapping windows are not independent and the validation split also drove
early stopping, so coverage is checked on the untouched test split (:func:`coverage`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from chronos_core.ml.artifacts import PredictionIntervals
from chronos_core.ml.metrics import finite_or_none

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def level_key(level: float) -> str:
    """``0.8 -> "80"``, ``0.95 -> "95"``, ``0.995 -> "99.5"``."""
    return f"{round(level * 100, 6):g}"


def calibrate(
    y_true: FloatArray, y_pred: FloatArray, levels: Sequence[float], mask: BoolArray | None = None
) -> PredictionIntervals:
    """Per-step split-conformal half-widths from ``(N, H)`` calibration forecasts."""
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    keep = np.ones(y.shape, np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    keep = keep & np.isfinite(y) & np.isfinite(p)
    abs_err = np.abs(y - p)
    horizon = y.shape[1]
    counts = [int(keep[:, h].sum()) for h in range(horizon)]
    pooled = abs_err[keep]
    widths: list[list[float]] = []
    saturated: list[bool] = []
    for level in levels:
        row: list[float] = []
        sat = False
        for h in range(horizon):
            r = np.sort(abs_err[keep[:, h], h]) if counts[h] else np.sort(pooled)
            if r.size == 0:
                row.append(0.0)
                sat = True
                continue
            rank = math.ceil((r.size + 1) * level)
            if rank > r.size:
                sat = True
                rank = r.size
            row.append(float(r[rank - 1]))
        widths.append(np.maximum.accumulate(np.asarray(row)).tolist())
        saturated.append(sat)
    return PredictionIntervals(
        levels=[float(v) for v in levels], half_widths=widths, calibration_counts=counts, saturated=saturated
    )


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
