"""The context a forecast runs on: the training's gap policy applied to the latest points.

Pure numpy (and the domain's :class:`~chronos_core.domain.forecasting.ForecastQuality`).
:func:`assemble_context` turns the cleaned latest points into the grid values one forecaster runs
on, and says how that context relates to what training saw. Slots are the grid's
(:mod:`chronos_core.ml.grid`: calendar months count as one slot each). The rule, tried in this order for
each forecaster of the fallback chain (:func:`fallback_chain`), the first that works winning:

1. **The latest run.** The points go on the training grid by the training's own rule
   (:func:`~chronos_core.ml.preprocessing.regularize`: a run of at most ``max_interpolated_gap``
   missing slots is filled by linear interpolation, a longer gap ends the run). When the latest
   run holds the forecaster's context (``need`` values), its last ``need`` values are used.
2. **Bridging.** Otherwise a longer gap lies inside the context window, the ``need`` grid slots
   ending at the last observation. The window is filled by linear interpolation across every gap
   in it (the same interpolation, without the limit) when an observation lies at or before its
   first slot (nothing is extrapolated) and at least :data:`MIN_OBSERVED_SHARE` of its slots are
   observed.

The chain starts with the served forecaster (the promotion gate's winner) and continues with the
baselines that need less: network → seasonal naive (when the model has a season ``m >= 2``; it
needs ``m`` values) → last value (1 value); seasonal naive → last value. The last value runs on
any observed value, so a context always exists when one valid point does; no valid point at all
is the caller's refusal.

Quality: the served forecaster on its latest run is ``ok`` (no value filled) or
``interpolated`` (``interpolated_points`` filled within the limit); anything else (a bridged
window, or a baseline served instead) is ``degraded`` with a reason. Reasons are plain text
without the characters Orion forbids in attribute values (``< > " ' = ; ( )``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np

from chronos_core.domain.evaluation import ServingChoice
from chronos_core.domain.forecasting import ForecastQuality
from chronos_core.ml.grid import MonthsGrid, SecondsGrid
from chronos_core.ml.preprocessing import CleanSeries, RegularSeries, regularize
from chronos_core.ml.transforms import FloatArray

#: A bridged context window must have at least this share of its slots observed.
MIN_OBSERVED_SHARE: Final = 0.5

_LABELS: Final[dict[ServingChoice, str]] = {
    "network": "the network",
    "seasonal_naive": "the seasonal-naive forecast",
    "last_value": "the last value",
}


class Candidate(NamedTuple):
    """A forecaster that may serve and the grid values it needs (its context length)."""

    forecaster: ServingChoice
    need: int


@dataclass(frozen=True)
class ServingContext:
    """What to forecast from: ``values`` (exactly the ``need`` of ``forecaster``, the most recent
    last, on the training grid), the epoch seconds of the last grid slot (the last observation),
    and the forecast's :class:`ForecastQuality`."""

    forecaster: ServingChoice
    values: FloatArray
    last_time: float
    quality: ForecastQuality
    #: The grid the context lies on (the forecast's target timestamps are its next slots).
    grid: SecondsGrid | MonthsGrid


def fallback_chain(served: ServingChoice, served_need: int, season: int) -> tuple[Candidate, ...]:
    """The forecasters to try: ``served`` (needing ``served_need`` values) first, then the
    seasonal-naive forecast (``season`` values; only when ``season >= 2`` and ``served`` is
    neither baseline), then the last value (1 value; unless it is ``served``)."""
    chain = [Candidate(served, served_need)]
    if served not in ("seasonal_naive", "last_value") and season >= 2:
        chain.append(Candidate("seasonal_naive", season))
    if served != "last_value":
        chain.append(Candidate("last_value", 1))
    return tuple(chain)


def assemble_context(
    clean: CleanSeries,
    *,
    grid: SecondsGrid | MonthsGrid | float,
    max_interpolated_gap: int,
    candidates: Sequence[Candidate],
) -> ServingContext:
    """The context of the first of ``candidates`` (served first) that can run on ``clean``, by the
    rule of the module docstring.

    ``clean`` must hold at least one point and ``candidates`` must end with one that needs a
    single value (then some candidate always runs); ValueError otherwise.
    """
    if clean.times.size == 0:
        raise ValueError("assemble_context needs at least one valid point")
    if not candidates or candidates[-1].need != 1:
        raise ValueError("the fallback chain must end with a forecaster needing one value")
    series = regularize(clean, grid, max_interpolated_gap)
    run = _latest_run(series)
    last_time = float(series.times[-1])
    misses: list[str] = []
    for candidate in candidates:
        window = _latest_run_window(series, run, candidate.need) or _bridged_window(series, candidate.need)
        if isinstance(window, _Window):
            quality = _quality(window, run, candidate, candidates[0], misses, max_interpolated_gap)
            return ServingContext(candidate.forecaster, window.values, last_time, quality, series.grid)
        misses.append(_why_not(candidate, window))
    raise AssertionError("unreachable: the last candidate needs one value")  # pragma: no cover


# --------------------------------------------------------------------------------------------


class _Run(NamedTuple):
    """The latest gap-free run of the grid: how long it is, and how many slots the long gap
    before it misses (0 when the run is the whole grid)."""

    length: int
    gap_before: int


class _Window(NamedTuple):
    """A context window: its values and how many of them were filled."""

    values: FloatArray
    filled: int
    bridged: bool


def _latest_run(series: RegularSeries) -> _Run:
    """The latest segment of ``series`` and the gap before it."""
    start = int(series.segment_starts[-1])
    gap = 0
    if start > 0:
        around = series.grid.slots_of(series.times[start - 1 : start + 1])
        gap = int(around[1] - around[0]) - 1
    return _Run(len(series) - start, gap)


def _latest_run_window(series: RegularSeries, run: _Run, need: int) -> _Window | None:
    """The last ``need`` values of the latest run, or None when it is shorter."""
    if run.length < need:
        return None
    values = series.values[len(series) - need :]
    filled = need - int(np.count_nonzero(series.observed[len(series) - need :]))
    return _Window(np.array(values, dtype=np.float64), filled, bridged=False)


def _bridged_window(series: RegularSeries, need: int) -> _Window | str:
    """The ``need`` slots ending at the last observation, every gap in them linearly interpolated
    from the observations around it; or why that is not allowed."""
    slots = series.grid.slots_of(series.times)
    seen_slots = slots[series.observed]
    seen_values = series.values[series.observed]
    first = int(slots[-1]) - need + 1
    if int(seen_slots[0]) > first:
        return f"the points read reach back only {int(slots[-1] - seen_slots[0]) + 1} grid slots"
    observed = int(np.count_nonzero(seen_slots >= first))
    if observed < MIN_OBSERVED_SHARE * need:
        return f"bridging the gap would leave only {observed} of them observed"
    window = np.arange(first, int(slots[-1]) + 1, dtype=np.int64)
    values = np.interp(window.astype(np.float64), seen_slots.astype(np.float64), seen_values)
    return _Window(values, need - observed, bridged=True)


def _why_not(candidate: Candidate, problem: str) -> str:
    """Why ``candidate`` could not run: what it needs and why no window of it was usable."""
    label = _LABELS[candidate.forecaster].capitalize()
    return f"{label} needs {candidate.need} points of context and {problem}."


def _situation(run: _Run, limit: int) -> str:
    """What the latest run is: after a long gap, or the whole (short) history."""
    if run.gap_before == 0:
        return f"Only {run.length} points are available." if run.length != 1 else "Only 1 point is available."
    latest = f"The latest {run.length} points follow" if run.length != 1 else "The latest point follows"
    return f"{latest} a gap of {run.gap_before} missing points, over the interpolation limit of {limit}."


def _quality(
    window: _Window,
    run: _Run,
    used: Candidate,
    served: Candidate,
    misses: Sequence[str],
    limit: int,
) -> ForecastQuality:
    """``ok``/``interpolated`` for the served forecaster on its latest run, else ``degraded``."""
    if used == served and not window.bridged:
        if window.filled == 0:
            return ForecastQuality()
        return ForecastQuality(status="interpolated", interpolated_points=window.filled)
    label = _LABELS[used.forecaster]
    bridged = (
        f"its {used.need} points of context bridged by linear interpolation, "
        f"{window.filled} of them interpolated"
    )
    if used == served:
        outcome = (
            f"The gap was bridged by linear interpolation to give {label} its {used.need} points of "
            f"context, {window.filled} of them interpolated."
        )
    else:
        outcome = f"Served {label} instead" + (f", {bridged}." if window.bridged else ".")
    reason = " ".join([_situation(run, limit), *misses, outcome])
    return ForecastQuality(status="degraded", interpolated_points=window.filled, reason=reason)
