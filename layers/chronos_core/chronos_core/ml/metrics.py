"""Forecast accuracy metrics that tell the truth. Pure numpy.

Every metric is computed on ``(N, H)`` arrays of direct H-step forecasts in original units, the
same forecasts the service serves. An optional boolean ``mask`` keeps only some entries (the
pipeline masks interpolated targets, which are not observations). A metric that is undefined
(zero denominator, nothing to average) is ``None``, never NaN or infinity, so documents stay
valid JSON.

Definitions (``e = y - ŷ`` over the kept entries):

- MAE = mean|e|; MSE = mean e²; RMSE = √MSE.
- MAPE = 100 · mean(|e| / |y|) over entries with ``|y| > 1e-8`` (zeros masked).
- sMAPE = 100 · mean(2|e| / (|y| + |ŷ|)), a term with ``|y| + |ŷ| = 0`` counts as 0 (range 0-200).
- R² = 1 − Σe² / Σ(y − ȳ)² (``None`` when y is constant).
- Theil's U (U2) = RMSE(model) / RMSE(last-value forecast) on the same windows and steps.
- MASE = MAE / mean|y_i − y_{i−m}| on the training split (Hyndman; m = season, 1 if none).
- MAE per horizon step: column means of |e|.
- Skill score against a reference = 1 − MSE(model) / MSE(reference).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronos_core.domain.evaluation import ForecastMetrics

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAPE_EPS = 1e-8


def finite_or_none(value: float | np.floating | None) -> float | None:
    """``float(value)`` when finite, else ``None``."""
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def _ratio(num: float, den: float) -> float | None:
    if not den > 0.0 or not math.isfinite(den) or not math.isfinite(num):
        return None
    return num / den


def forecast_metrics(
    y_true: FloatArray,
    y_pred: FloatArray,
    *,
    naive_pred: FloatArray | None = None,
    mase_scale: float | None = None,
    mask: BoolArray | None = None,
) -> ForecastMetrics:
    """All metrics of ``y_pred`` against ``y_true`` (both ``(N, H)``), see the module docstring.

    ``naive_pred`` is the last-value forecast for Theil's U (``None`` leaves U undefined);
    ``mase_scale`` the in-sample seasonal MAE for MASE.
    """
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    if y.shape != p.shape:
        raise ValueError(f"shape mismatch: {y.shape} vs {p.shape}")
    keep = np.ones(y.shape, dtype=np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    keep = keep & np.isfinite(y) & np.isfinite(p)
    horizon = y.shape[1]
    err = y - p
    yk, pk, ek = y[keep], p[keep], err[keep]
    n = int(yk.size)

    per_step: list[float | None] = []
    for h in range(horizon):
        col = keep[:, h]
        per_step.append(finite_or_none(np.mean(np.abs(err[col, h]))) if np.any(col) else None)

    if n == 0:
        return ForecastMetrics(
            mae=None,
            mse=None,
            rmse=None,
            mape=None,
            smape=None,
            r2=None,
            theil_u=None,
            mase=None,
            mae_per_step=per_step,
            windows=int(y.shape[0]),
            values=0,
        )

    abs_e = np.abs(ek)
    mae = float(abs_e.mean())
    mse = float(np.mean(ek**2))
    rmse = math.sqrt(mse)

    nz = np.abs(yk) > MAPE_EPS
    mape = float(100.0 * np.mean(abs_e[nz] / np.abs(yk[nz]))) if np.any(nz) else None

    denom = np.abs(yk) + np.abs(pk)
    terms = np.divide(2.0 * abs_e, denom, out=np.zeros_like(abs_e), where=denom > 0)
    smape = float(100.0 * terms.mean())

    ss_tot = float(np.sum((yk - yk.mean()) ** 2))
    ss_res = float(np.sum(ek**2))
    r2_ratio = _ratio(ss_res, ss_tot) if ss_tot > 1e-12 * max(1.0, float(np.sum(yk**2))) else None
    r2 = None if r2_ratio is None else 1.0 - r2_ratio

    theil_u: float | None = None
    if naive_pred is not None:
        naive = np.atleast_2d(np.asarray(naive_pred, dtype=np.float64))
        naive_err = (y - naive)[keep]
        theil_u = _ratio(rmse, math.sqrt(float(np.mean(naive_err**2))))

    mase = _ratio(mae, mase_scale) if mase_scale is not None else None
    return ForecastMetrics(
        mae=finite_or_none(mae),
        mse=finite_or_none(mse),
        rmse=finite_or_none(rmse),
        mape=finite_or_none(mape),
        smape=finite_or_none(smape),
        r2=finite_or_none(r2),
        theil_u=finite_or_none(theil_u),
        mase=finite_or_none(mase),
        mae_per_step=per_step,
        windows=int(y.shape[0]),
        values=n,
    )


def skill_score(model_mse: float | None, reference_mse: float | None) -> float | None:
    """``1 - MSE(model) / MSE(reference)``: > 0 means the model beats the reference."""
    if model_mse is None or reference_mse is None:
        return None
    ratio = _ratio(model_mse, reference_mse)
    return None if ratio is None else finite_or_none(1.0 - ratio)
