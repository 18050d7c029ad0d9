"""Sampling grids: which cadence a series has, its slots, and the instants forecasts are for.

Pure numpy and the standard library (the forecast path imports this module). Two grids, both
JSON-serialisable into the inference metadata (:data:`Grid`):

- :class:`SecondsGrid`: ``anchor + k * step`` seconds. Sub-daily cadences, days and weeks (fixed
  lengths in UTC; a weekly grid is anchored to a weekday by its anchor).
- :class:`MonthsGrid`: slot ``k`` is the ``k``-th month of the grid (every ``step_months``
  months), on the day :attr:`MonthsGrid.day_of_month` (``1..31``, clamped to the month's
  length, or ``-1..-28`` counted from the end: ``-1`` is the last day) at
  :attr:`MonthsGrid.time_of_day_seconds` UTC. No two months share a slot, whatever their lengths.

Every point goes to its *nearest* slot (``slots_of``; a month grid may instead put each point in
its calendar period, see :attr:`MonthsGrid.assignment`); ``times_of`` gives the slots' true
instants, and ``targets(last, horizon)`` the ``horizon`` slots after ``last``.

Cadence rule (:func:`detect_grid`), from the median positive gap ``g`` of the timestamps:

1. ``g`` within 3 days per month of 1, 2, 3, 4, 6 or 12 average months, and the gaps not all
   one fixed length (a 30-day sensor is not monthly): the month grid of that step whose
   day-of-month rule and time of day (within :data:`TIME_OF_DAY_TOLERANCE`) fit the most points;
   taken when at least :data:`~chronos_core.domain.sampling.MIN_ALIGNED_SHARE` of the points fit
   it (month starts, month ends and any fixed day of the month all qualify; a few missing or
   jittered months do not matter). Readings on varying days, one per calendar period for that
   share of them, get the period grid (each reading in its month, dated on its first day).
2. Otherwise a seconds grid: ``g`` rounded to a round step (1, 2, 5, 10, 15, 20, 30 s or min,
   1-12 h, a day, a week, else whole days, hours, minutes or seconds) when within
   :data:`ROUND_STEP_TOLERANCE` of it, else ``g`` to the millisecond; anchored on the densest
   phase of the timestamps modulo the step (the sensor's phase), snapped to the whole hour,
   minute, second or millisecond that lies within the points' own spread around it (a 4 ms jitter
   around :07:12 gives :07:12.000 exactly). Fewer than ``MIN_ALIGNED_SHARE`` of the points within
   :data:`PHASE_TOLERANCE` steps of that phase make it ``irregular`` (same mechanics).

A stated interval (:func:`choose_grid` with the model definition's ``sampling_interval``) fixes
the unit and step; only the anchor is fitted. Data finer than the stated step (monthly data on
``P3M``) goes to its calendar period, on its own day rule when it has one (month ends to quarter
ends), else on period starts; a seconds anchor that fits too few points falls back to the epoch's
phase (on the hour, at midnight).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Literal, NamedTuple, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from chronos_core.domain.sampling import (
    DAY_SECONDS,
    MAX_INTERVAL_MONTHS,
    MIN_ALIGNED_SHARE,
    MONTH_SECONDS,
    WEEK_SECONDS,
    CadenceKind,
    GridReport,
    GridSource,
    SamplingInterval,
    cadence_kind,
    format_sampling_interval,
    parse_sampling_interval,
)
from chronos_core.ml.errors import InsufficientDataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: A median gap within this relative distance of a round step takes the round step.
ROUND_STEP_TOLERANCE: Final = 0.005
#: A point within this fraction of a step of the grid's phase is aligned (seconds grids).
PHASE_TOLERANCE: Final = 0.1
#: A point within this many seconds of a month grid's time of day is aligned.
TIME_OF_DAY_TOLERANCE: Final = 3 * 3600
#: Round units a phase (or time of day) snaps to, coarsest first, when its points' spread allows.
PHASE_SNAP_UNITS: Final = (3600.0, 60.0, 1.0, 0.001)
#: When serving, a context with at least this share of its points on the trained phase keeps it.
SERVING_PHASE_SHARE: Final = 0.5
#: Allowed distance of the median gap from ``n`` average months, in days per month.
MONTH_GAP_TOLERANCE_DAYS: Final = 3.0
MONTH_STEPS: Final = (1, 2, 3, 4, 6, 12)

_NICE_STEPS: Final = (
    *(0.001, 0.002, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5),
    *(1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30),
    *(60 * m for m in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)),
    *(3600 * h for h in (1, 2, 3, 4, 6, 8, 12)),
    DAY_SECONDS,
    WEEK_SECONDS,
)
_MONTH_NAMES: Final = tuple(calendar.month_abbr)[1:]
_WEEKDAYS: Final = tuple(calendar.day_name)
#: Day-of-month rules in the order detection prefers them on a tie (month start, month end first).
_DAY_RULES: Final = (1, -1, *range(2, 32), *range(-2, -29, -1))
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The two grids
# --------------------------------------------------------------------------------------------


class SecondsGrid(BaseModel):
    """``anchor_seconds + k * step_seconds`` (epoch seconds).

    ``anchor_seconds`` is one instant of the grid; ``None`` (artifacts written before calendar
    grids) means "each series' first point", the former behaviour (see :meth:`anchored`).
    ``regular`` is False when detection found the points off any phase (``kind`` ``irregular``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["seconds"] = "seconds"
    step_seconds: float = Field(gt=0)
    anchor_seconds: float | None = None
    regular: bool = True

    @property
    def step(self) -> float:
        return self.step_seconds

    @property
    def nominal_seconds(self) -> float:
        """The step in seconds."""
        return self.step_seconds

    @property
    def kind(self) -> CadenceKind:
        return cadence_kind("seconds", self.step_seconds, regular=self.regular)

    @property
    def interval(self) -> str:
        """The step as an ISO-8601 duration (``PT30M``)."""
        if _millis(self.step_seconds) is None or self.step_seconds < 0.001:
            return f"PT{self.step_seconds:g}S"
        return format_sampling_interval(SamplingInterval("seconds", self.step_seconds))

    def anchored(self, times: FloatArray) -> SecondsGrid:
        """This grid, anchored at ``times[0]`` when it has no anchor yet."""
        if self.anchor_seconds is not None or times.size == 0:
            return self
        return self.model_copy(update={"anchor_seconds": float(times[0])})

    def aligned_to(self, times: FloatArray) -> SecondsGrid:
        """The grid to put a forecast context ``times`` on: the same step, on the trained phase
        while at least :data:`SERVING_PHASE_SHARE` of the points still lie near it, else on the
        phase of ``times`` (the sensor moved). An unanchored grid anchors at ``times[0]``."""
        if self.anchor_seconds is None or times.size == 0:
            return self.anchored(times)
        tolerance = PHASE_TOLERANCE * self.step_seconds
        if (
            _near_phase(times, self.anchor_seconds, self.step_seconds, tolerance).mean()
            >= SERVING_PHASE_SHARE
        ):
            return self
        phase, within = snapped_phase(times, self.step_seconds, tolerance)
        if within.mean() < SERVING_PHASE_SHARE:
            return self
        return self.model_copy(update={"anchor_seconds": _instant_near(phase, self.step_seconds, times[-1])})

    def slots_of(self, times: FloatArray) -> IntArray:
        """The nearest slot of each instant."""
        anchor = self._anchor()
        slots: IntArray = np.rint((np.asarray(times, np.float64) - anchor) / self.step_seconds).astype(
            np.int64
        )
        return slots

    def times_of(self, slots: IntArray) -> FloatArray:
        """The instants of ``slots`` (epoch seconds), computed in integer milliseconds when the
        anchor and the step are whole milliseconds (no creep however far from the anchor)."""
        anchor = self._anchor()
        k = np.asarray(slots, dtype=np.int64)
        anchor_ms, step_ms = _millis(anchor), _millis(self.step_seconds)
        if anchor_ms is not None and step_ms is not None and step_ms > 0:
            exact: FloatArray = (np.int64(anchor_ms) + k * np.int64(step_ms)) / 1000.0
            return exact
        out: FloatArray = anchor + k.astype(np.float64) * self.step_seconds
        return out

    def targets(self, last: float, horizon: int) -> list[datetime]:
        """The instants of the ``horizon`` slots after the slot of ``last``."""
        return _target_instants(self, last, horizon)

    def anchor_text(self) -> str:
        """Where the slots lie, in words."""
        if self.anchor_seconds is None:
            return "from the first point"
        if self.step_seconds == WEEK_SECONDS:
            at = datetime.fromtimestamp(self.anchor_seconds, tz=UTC)
            return f"{_WEEKDAYS[at.weekday()]} {at:%H:%M:%S} UTC"
        if self.step_seconds == DAY_SECONDS:
            return f"{datetime.fromtimestamp(self.anchor_seconds, tz=UTC):%H:%M:%S} UTC"
        at = datetime.fromtimestamp(self.anchor_seconds, tz=UTC)
        return f"every {self.step_seconds:g} s from {at.isoformat(timespec='milliseconds')}"

    def natural_seasons(self) -> list[int]:
        """Seasons this cadence usually has, in steps: a day and a week for sub-daily steps that
        divide them (hourly: 24, 168; half-hourly: 48, 336), 7 for daily, 52 for weekly."""
        if self.step_seconds == DAY_SECONDS:
            return [7]
        if self.step_seconds == WEEK_SECONDS:
            return [52]
        if self.step_seconds > DAY_SECONDS:
            return []
        periods = (DAY_SECONDS / self.step_seconds, WEEK_SECONDS / self.step_seconds)
        return [round(p) for p in periods if abs(p - round(p)) < 1e-9 and round(p) >= 2]

    def _anchor(self) -> float:
        if self.anchor_seconds is None:
            raise ValueError("the grid has no anchor yet (see SecondsGrid.anchored)")
        return self.anchor_seconds


class MonthsGrid(BaseModel):
    """Every ``step_months`` calendar months: months ``m`` with ``m % step_months ==
    month_phase`` (``m`` counted from January 1970), each on ``day_of_month`` at
    ``time_of_day_seconds`` UTC. Slot ``k`` is month ``month_phase + k * step_months``.

    ``assignment`` says which slot a point goes to: the ``nearest`` (data on the grid, give or
    take some jitter), or its ``period``: the last slot at or before it for day rules counted
    from the start (month starts label the month they open), the first at or after it for rules
    counted from the end (month ends label the month they close). ``period`` serves data finer
    than the grid or on varying days of the month (one reading per calendar month).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["months"] = "months"
    step_months: int = Field(ge=1, le=MAX_INTERVAL_MONTHS)
    month_phase: int = Field(default=0, ge=0)
    day_of_month: int = Field(default=1, ge=-28, le=31)
    time_of_day_seconds: float = Field(default=0.0, ge=0.0, lt=DAY_SECONDS)
    assignment: Literal["nearest", "period"] = "nearest"

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.day_of_month == 0:
            raise ValueError("day_of_month is 1..31 or -1..-28 (from the end), never 0")
        if self.month_phase >= self.step_months:
            raise ValueError("month_phase must be below step_months")
        return self

    @property
    def step(self) -> float:
        return float(self.step_months)

    @property
    def nominal_seconds(self) -> float:
        """The step in average Gregorian months of seconds (for reports and schedules)."""
        return float(self.step_months * MONTH_SECONDS)

    @property
    def kind(self) -> CadenceKind:
        return cadence_kind("months", self.step_months)

    @property
    def interval(self) -> str:
        return format_sampling_interval(SamplingInterval("months", self.step_months))

    def anchored(self, times: FloatArray) -> MonthsGrid:
        return self

    def aligned_to(self, times: FloatArray) -> MonthsGrid:
        """Calendar grids keep their trained anchor."""
        return self

    def slots_of(self, times: FloatArray) -> IntArray:
        """The slot of each instant by :attr:`assignment` (one of three candidates: the slot in
        or before its month, and the slots either side)."""
        t = np.asarray(times, dtype=np.float64)
        days = np.floor((t - self.time_of_day_seconds) / DAY_SECONDS).astype(np.int64)
        month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        base = (month - self.month_phase) // self.step_months
        candidates = base[:, None] + np.arange(-1, 2, dtype=np.int64)[None, :]
        offset = self.times_of(candidates.reshape(-1)).reshape(candidates.shape) - t[:, None]
        if self.assignment == "nearest":
            pick = np.argmin(np.abs(offset), axis=1)
        elif self.day_of_month > 0:
            pick = np.argmax(np.where(offset <= 0, offset, -np.inf), axis=1)  # the last at or before
        else:
            pick = np.argmin(np.where(offset >= 0, offset, np.inf), axis=1)  # the first at or after
        slots: IntArray = candidates[np.arange(t.size), pick]
        return slots

    def times_of(self, slots: IntArray) -> FloatArray:
        """The instants of ``slots`` (epoch seconds)."""
        month = self.month_phase + np.asarray(slots, dtype=np.int64) * self.step_months
        start = _month_start_day(month)
        length = _month_start_day(month + 1) - start
        day = _rule_day(self.day_of_month, length)
        out: FloatArray = (start + day - 1).astype(np.float64) * DAY_SECONDS + self.time_of_day_seconds
        return out

    def targets(self, last: float, horizon: int) -> list[datetime]:
        """The instants of the ``horizon`` slots after the slot of ``last``."""
        return _target_instants(self, last, horizon)

    def anchor_text(self) -> str:
        """Where the slots lie, in words (``"the last day at 00:00:00 UTC"``)."""
        if self.day_of_month > 0:
            day = f"day {self.day_of_month}"
        elif self.day_of_month == -1:
            day = "the last day"
        else:
            day = f"{-self.day_of_month - 1} day(s) before the last day"
        time = str(timedelta(seconds=self.time_of_day_seconds)).zfill(8)
        text = f"{day} at {time} UTC"
        if self.step_months > 1 and 12 % self.step_months == 0:
            months = "/".join(_MONTH_NAMES[m] for m in range(self.month_phase, 12, self.step_months))
            text += f", in {months}"
        elif self.step_months > 1:
            text += f", every {self.step_months} months from month {self.month_phase} of 1970"
        return text + (" (each point in its period)" if self.assignment == "period" else "")

    def natural_seasons(self) -> list[int]:
        """12 steps for monthly, 4 for quarterly (a year), none for yearly."""
        per_year = 12 // self.step_months if 12 % self.step_months == 0 else 0
        return [per_year] if per_year >= 2 else []


#: A grid as the inference metadata stores it.
Grid = Annotated[SecondsGrid | MonthsGrid, Field(discriminator="unit")]


def legacy_grid(interval_seconds: float) -> SecondsGrid:
    """The grid of artifacts written before calendar grids: the median interval, anchored at the
    first point of each series."""
    return SecondsGrid(step_seconds=interval_seconds, anchor_seconds=None)


# --------------------------------------------------------------------------------------------
# Choosing a grid
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GridChoice:
    """The grid a training uses, where it came from, and the share of points aligned on it."""

    grid: SecondsGrid | MonthsGrid
    source: GridSource
    aligned_share: float

    def report(self) -> GridReport:
        """The record of this choice in the job's data quality."""
        return GridReport(
            kind=self.grid.kind,
            unit=self.grid.unit,
            step=self.grid.step,
            interval=self.grid.interval,
            anchor=self.grid.anchor_text(),
            source=self.source,
            aligned_share=round(self.aligned_share, 4),
        )


def median_gap(times: FloatArray) -> float:
    """Median of the positive consecutive gaps of sorted ``times``, in seconds.

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


def choose_grid(times: FloatArray, sampling_interval: str | None = None) -> GridChoice:
    """The grid of sorted, distinct ``times``: the stated ``sampling_interval`` (ISO-8601, see
    :func:`~chronos_core.domain.sampling.parse_sampling_interval`) with its anchor fitted, or
    :func:`detect_grid`."""
    if sampling_interval is None:
        return detect_grid(times)
    stated = parse_sampling_interval(sampling_interval)
    t = np.asarray(times, dtype=np.float64)
    if stated.unit == "months":
        fit = fit_months_grid(t, round(stated.step))
        return GridChoice(_stated_months_grid(fit), "configured", fit.share)
    seconds, share = fit_seconds_grid(t, stated.step)
    if share < MIN_ALIGNED_SHARE:
        seconds = SecondsGrid(step_seconds=stated.step, anchor_seconds=_instant_near(0.0, stated.step, t[0]))
    return GridChoice(seconds, "configured", share)


def detect_grid(times: FloatArray) -> GridChoice:
    """The cadence rule of the module docstring applied to sorted, distinct ``times``."""
    t = np.asarray(times, dtype=np.float64)
    gap = median_gap(t)
    months = month_step_candidate(gap)
    if months is not None and not _fixed_length(t, gap):
        fit = fit_months_grid(t, months)
        if fit.share >= MIN_ALIGNED_SHARE:
            return GridChoice(fit.grid, "detected", fit.share)
        by_period = MonthsGrid(step_months=months, assignment="period")
        alone = np.unique(by_period.slots_of(t)).size / t.size
        if alone >= MIN_ALIGNED_SHARE:  # one reading per calendar month, on varying days
            return GridChoice(by_period, "detected", fit.share)
    seconds, share = fit_seconds_grid(t, round_step(gap))
    return GridChoice(seconds.model_copy(update={"regular": share >= MIN_ALIGNED_SHARE}), "detected", share)


def _fixed_length(times: FloatArray, gap: float) -> bool:
    """True when the gaps are one fixed length (most within 0.1 % of the median ``gap``): a
    30-day sensor, not a monthly one (calendar months give gaps of 28 to 31 days)."""
    gaps = np.diff(times)
    gaps = gaps[gaps > 0]
    return bool(np.mean(np.abs(gaps - gap) <= 0.001 * gap) >= MIN_ALIGNED_SHARE)


def month_step_candidate(gap: float) -> int | None:
    """The month step (1, 2, 3, 4, 6 or 12) whose length ``gap`` (seconds) is close to, if any."""
    n = round(gap / MONTH_SECONDS)
    if n not in MONTH_STEPS:
        return None
    if abs(gap - n * MONTH_SECONDS) > n * MONTH_GAP_TOLERANCE_DAYS * DAY_SECONDS:
        return None
    return n


def round_step(gap: float) -> float:
    """``gap`` rounded to a round step when within :data:`ROUND_STEP_TOLERANCE` of one (round
    steps first, then whole days, hours, minutes, seconds), else to the millisecond."""
    families: list[tuple[float, ...]] = [_NICE_STEPS]
    for unit in (DAY_SECONDS, 3600, 60, 1):
        if gap >= unit:
            families.append((float(round(gap / unit) * unit),))
    for family in families:
        candidate = min(family, key=lambda c: abs(gap - c))
        if abs(gap - candidate) <= ROUND_STEP_TOLERANCE * candidate:
            return float(candidate)
    return round(gap, 3) if gap >= 0.001 else gap


def fit_seconds_grid(times: FloatArray, step: float) -> tuple[SecondsGrid, float]:
    """The ``step`` grid on the densest phase of ``times`` and the share of points within
    :data:`PHASE_TOLERANCE` steps of it."""
    phase, within = snapped_phase(times, step, PHASE_TOLERANCE * step)
    grid = SecondsGrid(step_seconds=step, anchor_seconds=_instant_near(phase, step, float(times[0])))
    return grid, float(within.mean())


class MonthsFit(NamedTuple):
    """A fitted month grid: the share of points it fits, and the share that follow its day rule
    and time of day in any month (finer data than the step: the phase is then a matter of choice)."""

    grid: MonthsGrid
    share: float
    day_rule_share: float


def _stated_months_grid(fit: MonthsFit) -> MonthsGrid:
    """The grid of a stated month interval: the fitted one when it fits. Data finer than the
    step goes to its period: on the fitted day rule in calendar-aligned months when the data
    follows one (month ends to quarter or year ends, other days to quarter or year starts), else
    on period starts at 00:00 UTC."""
    grid = fit.grid
    if fit.share >= MIN_ALIGNED_SHARE:
        return grid
    if fit.day_rule_share >= MIN_ALIGNED_SHARE:
        aligned_end = grid.day_of_month < 0 and 12 % grid.step_months == 0
        phase = grid.step_months - 1 if aligned_end else 0
        return grid.model_copy(update={"month_phase": phase, "assignment": "period"})
    return MonthsGrid(step_months=grid.step_months, assignment="period")


def fit_months_grid(times: FloatArray, step_months: int) -> MonthsFit:
    """The ``step_months`` month grid that fits the most of ``times``, and the share it fits.

    The time of day is the densest one (within :data:`TIME_OF_DAY_TOLERANCE`); each point's date
    is the day nearest to it at that time; the day-of-month rule is the one most dates follow
    exactly (``1..31`` clamped to the month's length, or ``-1..-28`` from its end); the month
    phase is the commonest among the points that follow it. A point fits when its date follows
    the rule, in a month of the phase, within the time-of-day tolerance.
    """
    time_of_day, _ = snapped_phase(times, DAY_SECONDS, TIME_OF_DAY_TOLERANCE)
    days = np.floor((times - time_of_day) / DAY_SECONDS + 0.5).astype(np.int64)
    on_time = np.abs(times - (days * DAY_SECONDS + time_of_day)) <= TIME_OF_DAY_TOLERANCE
    month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    start = _month_start_day(month)
    day_of_month = days - start + 1
    length = _month_start_day(month + 1) - start
    matches = [on_time & (_rule_day(rule, length) == day_of_month) for rule in _DAY_RULES]
    best = int(np.argmax([int(m.sum()) for m in matches]))
    follows = matches[best]
    phase = int(np.bincount(month[follows] % step_months).argmax()) if follows.any() else 0
    fits = follows & (month % step_months == phase)
    grid = MonthsGrid(
        step_months=step_months,
        month_phase=phase,
        day_of_month=_DAY_RULES[best],
        time_of_day_seconds=time_of_day,
    )
    return MonthsFit(grid, float(fits.mean()), float(follows.mean()))


def densest_phase(times: FloatArray, period: float, tolerance: float) -> tuple[float, BoolArray]:
    """The phase (in ``[0, period)``) of ``times`` modulo ``period`` around which most of them
    lie, within ``tolerance`` (circular), and which of them lie within it.

    The phase is the median of the points in the fullest window of width ``2 * tolerance``.
    """
    phases = np.mod(np.asarray(times, dtype=np.float64), period)
    if phases.size == 0:
        return 0.0, np.zeros(0, dtype=np.bool_)
    if 2 * tolerance >= period:
        return float(np.median(phases)), np.ones(phases.size, dtype=np.bool_)
    ordered = np.sort(phases)
    wrapped = np.concatenate([ordered, ordered + period])
    ends = np.searchsorted(wrapped, ordered + 2 * tolerance, side="right")
    counts = ends - np.arange(ordered.size)
    first = int(np.argmax(counts))
    center = float(np.median(wrapped[first : ends[first]])) % period
    return center, _near_phase(phases, center, period, tolerance)


def snapped_phase(times: FloatArray, period: float, tolerance: float) -> tuple[float, BoolArray]:
    """:func:`densest_phase`, snapped to the coarsest of :data:`PHASE_SNAP_UNITS` whose nearest
    multiple lies within the spread (median absolute offset, at least 1 ms) of the points around
    it, and which points lie within ``tolerance`` of the snapped phase."""
    phase, within = densest_phase(times, period, tolerance)
    offsets = _circular_offset(np.asarray(times, np.float64)[within], phase, period)
    spread = max(float(np.median(np.abs(offsets))) if offsets.size else 0.0, min(0.001, period / 100))
    for unit in PHASE_SNAP_UNITS:
        candidate = round(phase / unit) * unit
        if abs(phase - candidate) <= spread:
            phase = float(candidate) % period
            break
    return phase, _near_phase(times, phase, period, tolerance)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _circular_offset(times: FloatArray, anchor: float, period: float) -> FloatArray:
    """The signed distance of ``times`` from the nearest ``anchor + k * period``."""
    offset: FloatArray = np.mod(np.asarray(times, np.float64) - anchor + period / 2, period) - period / 2
    return offset


def _near_phase(times: FloatArray, anchor: float, period: float, tolerance: float) -> BoolArray:
    """True where ``times`` lie within ``tolerance`` of ``anchor + k * period`` for some ``k``."""
    near: BoolArray = np.abs(_circular_offset(times, anchor, period)) <= tolerance
    return near


def _instant_near(phase: float, step: float, near: float) -> float:
    """The instant ``phase + k * step`` nearest to ``near`` (whole milliseconds when ``phase``
    and ``step`` are)."""
    phase_ms, step_ms = _millis(phase), _millis(step)
    if phase_ms is not None and step_ms is not None and step_ms > 0:
        k = round((round(near * 1000) - phase_ms) / step_ms)
        return (phase_ms + k * step_ms) / 1000.0
    return phase + round((near - phase) / step) * step


def _millis(seconds: float) -> int | None:
    """``seconds`` as whole milliseconds, or None when it is not (to a micro-millisecond)."""
    millis = round(seconds * 1000)
    return millis if abs(seconds * 1000 - millis) <= 1e-3 else None


def _month_start_day(month: IntArray) -> IntArray:
    """Days since the epoch of the first day of each month (months since January 1970)."""
    days: IntArray = (
        np.asarray(month, np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    )
    return days


def _rule_day(rule: int, length: IntArray) -> IntArray:
    """The day of the month (1-based) a day-of-month rule names in months of ``length`` days."""
    if rule > 0:
        clamped: IntArray = np.minimum(rule, length)
        return clamped
    from_end: IntArray = np.maximum(1, length + 1 + rule)
    return from_end


def _target_instants(grid: SecondsGrid | MonthsGrid, last: float, horizon: int) -> list[datetime]:
    first = int(grid.slots_of(np.asarray([last], dtype=np.float64))[0])
    instants = grid.times_of(np.arange(first + 1, first + horizon + 1, dtype=np.int64))
    return [_utc(float(t)) for t in instants]


def _utc(seconds: float) -> datetime:
    """The UTC instant of epoch ``seconds``, exact to the millisecond when it is whole ms."""
    millis = _millis(seconds)
    if millis is not None:
        return _EPOCH + timedelta(milliseconds=millis)
    return datetime.fromtimestamp(seconds, tz=UTC)
