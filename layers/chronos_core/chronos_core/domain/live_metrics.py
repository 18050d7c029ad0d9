"""The live metrics alert rules are evaluated on, as pure functions (no numpy: the domain and
application layers stay free of numeric libraries, and none of this needs them).

* :func:`score_forecasts`: live accuracy of published forecasts once their actual values are in
  (MAE, bias and interval coverage, overall and per horizon step).
* :func:`ks_two_sample` and :func:`population_stability_index`: input drift of a recent window
  against the training reference; :func:`relative_values` normalises a series as the network
  sees it (relative to each window's last value).
* :func:`crossing_probabilities`: per step, the probability that the series is beyond a
  threshold, from a forecast's split-conformal bands (a piecewise-linear predictive CDF through
  the band quantiles, with exponential tails).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.forecasting import ForecastPoint

TimedValue = tuple[datetime, float | None]

# ---------------------------------------------------------------------------- live accuracy


class PublishedForecast(BaseModel):
    """A forecast as published by a recurring run (what live accuracy scores)."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    slot: datetime | None = None
    generated_at: datetime
    interval_seconds: float = Field(gt=0)
    serving: str | None = None
    points: list[ForecastPoint]

    @property
    def horizon_end(self) -> datetime:
        return max(p.target_timestamp for p in self.points) if self.points else self.generated_at


class StepScore(BaseModel):
    step: int
    scored: int
    mae: float | None
    bias: float | None


class AccuracyScore(BaseModel):
    """Forecast targets matched to actual values: ``scored`` pairs (``forecasts`` forecasts
    contributed), ``due_unscored`` targets that are due but have no actual value, ``not_due``
    targets still in the future; MAE, bias (mean forecast − actual) and coverage by level,
    overall and per step."""

    scored: int
    forecasts: int
    due_unscored: int
    not_due: int
    mae: float | None
    bias: float | None
    coverage: dict[str, float | None]
    per_step: list[StepScore]


def score_forecasts(
    forecasts: Sequence[PublishedForecast],
    actuals: Sequence[TimedValue],
    now: datetime,
    steps: Sequence[int] | None = None,
) -> AccuracyScore:
    """Match every target of ``forecasts`` (only ``steps`` when given) with the actual value
    nearest in time within half a sampling interval, and score the pairs."""
    known = sorted((t, v) for t, v in actuals if v is not None and math.isfinite(v))
    times = [t for t, _ in known]
    wanted = set(steps) if steps else None
    errors: dict[int, list[float]] = {}
    inside: dict[str, list[bool]] = {}
    scored_forecasts = due_unscored = not_due = 0
    for forecast in forecasts:
        tolerance = timedelta(seconds=forecast.interval_seconds / 2)
        contributed = False
        for point in forecast.points:
            if wanted is not None and point.step not in wanted:
                continue
            actual = _nearest(known, times, point.target_timestamp, tolerance)
            if actual is None:
                if now >= point.target_timestamp + tolerance:
                    due_unscored += 1
                else:
                    not_due += 1
                continue
            contributed = True
            errors.setdefault(point.step, []).append(point.value - actual)
            for level, low in point.lower.items():
                high = point.upper.get(level)
                if high is not None:
                    inside.setdefault(level, []).append(low <= actual <= high)
        scored_forecasts += contributed
    flat = [e for step_errors in errors.values() for e in step_errors]
    return AccuracyScore(
        scored=len(flat),
        forecasts=scored_forecasts,
        due_unscored=due_unscored,
        not_due=not_due,
        mae=_mean([abs(e) for e in flat]),
        bias=_mean(flat),
        coverage={level: _mean([1.0 if x else 0.0 for x in hits]) for level, hits in sorted(inside.items())},
        per_step=[
            StepScore(step=s, scored=len(e), mae=_mean([abs(x) for x in e]), bias=_mean(e))
            for s, e in sorted(errors.items())
        ],
    )


def _nearest(
    known: Sequence[tuple[datetime, float | None]],
    times: Sequence[datetime],
    at: datetime,
    tolerance: timedelta,
) -> float | None:
    index = bisect.bisect_left(times, at)
    best: tuple[timedelta, float] | None = None
    for candidate in (index - 1, index):
        if 0 <= candidate < len(known):
            when, value = known[candidate]
            gap = abs(when - at)
            if gap <= tolerance and value is not None and (best is None or gap < best[0]):
                best = (gap, value)
    return best[1] if best else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# ------------------------------------------------------------------------------------ drift


def relative_values(values: Sequence[float], window: int) -> list[float]:
    """``values`` as the network sees them: cut into consecutive windows of ``window`` values
    (ending with the newest), each value minus its window's last (the last itself dropped)."""
    if window < 2:
        raise ValueError("window must be >= 2")
    start = len(values) % window
    out: list[float] = []
    for begin in range(start, len(values) - window + 1, window):
        chunk = values[begin : begin + window]
        out.extend(v - chunk[-1] for v in chunk[:-1])
    return out


def ks_two_sample(reference: Sequence[float], recent: Sequence[float]) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic ``D`` and its asymptotic p-value (the
    Kolmogorov distribution at ``(√n_e + 0.12 + 0.11/√n_e)·D``, Stephens' small-sample
    correction, ``n_e = n·m/(n+m)``; within 0.02 of ``scipy.stats.ks_2samp(method="asymp")``).
    Raises ValueError for an empty sample."""
    a, b = sorted(reference), sorted(recent)
    n, m = len(a), len(b)
    if not n or not m:
        raise ValueError("both samples must be non-empty")
    i = j = 0
    d = 0.0
    while i < n and j < m:
        x = min(a[i], b[j])
        while i < n and a[i] <= x:
            i += 1
        while j < m and b[j] <= x:
            j += 1
        d = max(d, abs(i / n - j / m))
    effective = math.sqrt(n * m / (n + m))
    return d, _kolmogorov_q((effective + 0.12 + 0.11 / effective) * d)


def _kolmogorov_q(lam: float) -> float:
    """``Q_KS(λ) = 2 Σ (−1)^(k−1) exp(−2 k² λ²)``, the Kolmogorov survival function."""
    if lam < 1e-3:
        return 1.0
    total, sign, previous = 0.0, 1.0, 0.0
    for k in range(1, 101):
        term = sign * 2.0 * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) <= 1e-10 * abs(total) or abs(term) <= 1e-12 * previous:
            return min(1.0, max(0.0, total))
        sign = -sign
        previous = abs(term)
    return 1.0  # the series did not converge: lambda is tiny, the samples are alike


PSI_FLOOR: Final = 1e-4


def population_stability_index(reference: Sequence[float], recent: Sequence[float], bins: int = 10) -> float:
    """PSI of ``recent`` against ``reference`` on the reference's quantile bins:
    ``Σ (p_recent − p_ref) · ln(p_recent / p_ref)``, proportions floored at 1e-4. Raises
    ValueError for an empty sample."""
    if not reference or not recent:
        raise ValueError("both samples must be non-empty")
    ordered = sorted(reference)
    edges = sorted({_quantile(ordered, k / bins) for k in range(1, bins)})

    def proportions(sample: Sequence[float]) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for value in sample:
            counts[bisect.bisect_left(edges, value)] += 1
        return [max(c / len(sample), PSI_FLOOR) for c in counts]

    expected, actual = proportions(reference), proportions(recent)
    return sum((a - e) * math.log(a / e) for a, e in zip(actual, expected, strict=True))


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ------------------------------------------------------------------------- predicted crossing


def exceedance_probability(
    value: float,
    lower: Mapping[str, float],
    upper: Mapping[str, float],
    threshold: float,
    direction: Literal["above", "below"],
) -> float:
    """The probability that one step's actual value is beyond ``threshold``, from its point
    forecast (the median) and its central intervals by level in percent (the 80 % band's bounds
    are the 10 % and 90 % quantiles). Between quantiles the CDF is linear; beyond the outermost
    ones it has exponential tails through the two outermost quantiles on that side. Without
    intervals the forecast is taken as certain."""
    knots = _quantile_knots(value, lower, upper)
    below = _cdf(knots, threshold)
    return 1.0 - below if direction == "above" else below


def _quantile_knots(
    value: float, lower: Mapping[str, float], upper: Mapping[str, float]
) -> list[tuple[float, float]]:
    """``(probability, value)`` knots, increasing in both (values made monotone)."""
    knots = [(0.5, value)]
    for level, low in lower.items():
        try:
            tail = (1.0 - float(level) / 100.0) / 2.0
        except ValueError:
            continue
        high = upper.get(level)
        if high is None or not 0.0 < tail < 0.5:
            continue
        knots.extend([(tail, min(low, value)), (1.0 - tail, max(high, value))])
    knots.sort()
    monotone: list[tuple[float, float]] = []
    for q, v in knots:
        if monotone and v < monotone[-1][1]:
            v = monotone[-1][1]
        monotone.append((q, v))
    return monotone


def _cdf(knots: Sequence[tuple[float, float]], x: float) -> float:
    if len(knots) == 1:
        return 1.0 if x >= knots[0][1] else 0.0
    (q0, v0), (q1, v1) = knots[0], knots[1]
    if x < v0:
        if v1 <= v0:
            return 0.0
        rate = math.log(q1 / q0) / (v1 - v0)
        return q0 * math.exp((x - v0) * rate)
    (qa, va), (qb, vb) = knots[-2], knots[-1]
    if x >= vb:
        if vb <= va:
            return 1.0
        rate = math.log((1.0 - qa) / (1.0 - qb)) / (vb - va)
        return 1.0 - (1.0 - qb) * math.exp(-(x - vb) * rate)
    for (qa, va), (qb, vb) in zip(knots, knots[1:], strict=False):
        if va <= x < vb:
            return qa + (qb - qa) * (x - va) / (vb - va)
    return knots[-1][0]


class CrossingForecast(BaseModel):
    """What a forecast says about a threshold: per-step probabilities, their maximum (the
    probability that the series crosses within the horizon when the steps' errors move together,
    which they largely do), the same under independent steps for reference, and the first step
    reaching ``at_least`` with its target time and lead time."""

    probabilities: list[float]
    probability: float
    probability_independent: float
    first_step: int | None = None
    crossing_at: datetime | None = None
    lead_time_seconds: float | None = None


def crossing_probabilities(
    points: Sequence[ForecastPoint],
    threshold: float,
    direction: Literal["above", "below"],
    at_least: float,
    generated_at: datetime,
    horizon_steps: int | None = None,
) -> CrossingForecast:
    """Evaluate a forecast against a threshold (steps beyond ``horizon_steps`` ignored); the
    lead time is counted from ``generated_at``."""
    chosen = [
        p for p in sorted(points, key=lambda p: p.step) if horizon_steps is None or p.step <= horizon_steps
    ]
    probabilities = [
        round(exceedance_probability(p.value, p.lower, p.upper, threshold, direction), 6) for p in chosen
    ]
    first = next((p for p, prob in zip(chosen, probabilities, strict=True) if prob >= at_least), None)
    survive = 1.0
    for prob in probabilities:
        survive *= 1.0 - prob
    return CrossingForecast(
        probabilities=probabilities,
        probability=max(probabilities, default=0.0),
        probability_independent=round(1.0 - survive, 6),
        first_step=first.step if first else None,
        crossing_at=first.target_timestamp if first else None,
        lead_time_seconds=(first.target_timestamp - generated_at).total_seconds() if first else None,
    )
