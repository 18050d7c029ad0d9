"""Is one forecaster really better than another? A Diebold-Mariano test over forecast windows.

Pure numpy and :mod:`math` (no scipy: this module may be imported anywhere in the core).

The loss of a window is its MAE over its observed steps. For a candidate and a reference scored
on the same ``n`` windows, the differential of window ``i`` is
``d_i = (1 - margin) * L_ref,i - L_cand,i``: positive where the candidate beats the reference by
more than the relative ``margin``. Consecutive origins of H-step windows share ``H - 1`` targets,
so the ``d_i`` are autocorrelated; the variance of their mean is the Newey-West long-run variance
(Bartlett weights ``1 - k / (lag + 1)``, ``lag >= H - 1``, see :func:`newey_west_lag`). The
statistic ``mean(d) / sqrt(var / n)`` is referred to Student's t with ``n - 1`` degrees of
freedom (Harvey, Leybourne and Newbold's advice for small samples), one-sided: the p-value is
the probability of a statistic at least this large if the candidate were no better than
``(1 - margin)`` times the reference.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from chronos_core.domain.evaluation import SignificanceTest

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def window_losses(y_true: FloatArray, y_pred: FloatArray, mask: BoolArray | None = None) -> FloatArray:
    """``(N,)`` per-window MAE over the kept (observed, finite) steps; NaN for a window with none."""
    y = np.atleast_2d(np.asarray(y_true, dtype=np.float64))
    p = np.atleast_2d(np.asarray(y_pred, dtype=np.float64))
    keep = np.ones(y.shape, np.bool_) if mask is None else np.asarray(mask, dtype=np.bool_)
    keep = keep & np.isfinite(y) & np.isfinite(p)
    counts = keep.sum(axis=1)
    sums = np.where(keep, np.abs(y - p), 0.0).sum(axis=1)
    out = np.full(y.shape[0], np.nan)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def newey_west_lag(windows: int, horizon: int) -> int:
    """The Bartlett truncation lag: at least ``H - 1`` (the overlap of H-step windows) and at least
    the Newey-West rule ``floor(4 (n / 100) ** (2 / 9))``, below ``n``."""
    if windows < 2:
        return 0
    rule = math.floor(4.0 * (windows / 100.0) ** (2.0 / 9.0))
    return int(min(windows - 1, max(horizon - 1, rule)))


def newey_west_variance(d: FloatArray, lag: int) -> float:
    """Long-run variance of the series ``d``: ``g_0 + 2 sum_k (1 - k / (lag + 1)) g_k`` with the
    biased autocovariances ``g_k = sum (d_t - mean)(d_{t+k} - mean) / n`` (never negative)."""
    x = np.asarray(d, dtype=np.float64)
    n = x.size
    if n == 0:
        return 0.0
    c = x - x.mean()
    total = float(np.dot(c, c)) / n
    for k in range(1, min(lag, n - 1) + 1):
        total += 2.0 * (1.0 - k / (lag + 1.0)) * float(np.dot(c[:-k], c[k:])) / n
    return max(0.0, total)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's continued fraction for the incomplete beta function (Numerical Recipes' betacf)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """``P(T > t)`` for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def diebold_mariano(
    candidate_losses: FloatArray,
    reference_losses: FloatArray,
    horizon: int,
    margin: float = 0.0,
    *,
    min_lag: int = 0,
) -> SignificanceTest:
    """One-sided test that the candidate's per-window losses are below ``(1 - margin)`` times the
    reference's (see the module docstring). Windows where either loss is NaN are left out. The
    Newey-West lag is :func:`newey_west_lag`, raised to ``min_lag`` when the losses are known to
    be correlated further apart (two seasonal-naive forecasts share errors a season apart).

    With fewer than two windows nothing is defined (``p_value`` None). A zero long-run variance
    (the differential is constant) gives ``statistic`` None and ``p_value`` 0 when the mean
    differential is positive, 1 otherwise.
    """
    cand = np.asarray(candidate_losses, dtype=np.float64)
    ref = np.asarray(reference_losses, dtype=np.float64)
    both = np.isfinite(cand) & np.isfinite(ref)
    d = (1.0 - margin) * ref[both] - cand[both]
    n = int(d.size)
    lag = min(max(newey_west_lag(n, horizon), min_lag), max(0, n - 1))
    if n < 2:
        mean = float(d.mean()) if n else None
        return SignificanceTest(
            windows=n, lag=lag, margin=margin, mean_differential=mean, statistic=None, p_value=None
        )
    mean = float(d.mean())
    variance = newey_west_variance(d, lag)
    scale = max(abs(mean), float(np.max(np.abs(d))), 1e-300)
    if not variance > (1e-12 * scale) ** 2:
        return SignificanceTest(
            windows=n,
            lag=lag,
            margin=margin,
            mean_differential=mean,
            statistic=None,
            p_value=0.0 if mean > 0 else 1.0,
        )
    statistic = mean / math.sqrt(variance / n)
    return SignificanceTest(
        windows=n,
        lag=lag,
        margin=margin,
        mean_differential=mean,
        statistic=statistic,
        p_value=student_t_sf(statistic, n - 1),
    )
