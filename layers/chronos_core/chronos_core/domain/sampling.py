"""Sampling intervals as a model definition states them, and the grid a training used.

A series lives on one of two kinds of grid (``chronos_core.ml.grid`` builds and applies them):

- ``seconds``: fixed-length steps (sub-daily cadences, days and weeks, which are fixed in UTC),
  ``anchor + k * step``;
- ``months``: calendar months (monthly, quarterly, yearly), slot ``k`` being the ``k``-th month of
  the grid, on a day-of-month rule, so that no two months ever share a slot.

A model definition may state its interval as an ISO-8601 duration. :func:`parse_sampling_interval`
accepts the forms ``P[nY][nM]`` (calendar months) and ``P[nW][nD][T[nH][nM][n[.fff]S]]``
(fixed length, seconds with at most millisecond digits), refuses a duration that mixes the two
(``P1M2D``), zero, negative or fractional calendar parts, and anything else;
:func:`canonical_sampling_interval` writes one spelling per interval (``PT1800S`` -> ``PT30M``,
``P12M`` -> ``P1Y``, ``P7D`` -> ``P1W``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

GridUnit = Literal["seconds", "months"]

#: What a grid's cadence is called. ``irregular``: a seconds grid on which fewer than
#: :data:`MIN_ALIGNED_SHARE` of the points fall near their slot.
CadenceKind = Literal[
    "sub_daily",
    "daily",
    "weekly",
    "multi_day",
    "monthly",
    "quarterly",
    "yearly",
    "multi_month",
    "irregular",
]

#: Where a training's grid came from: detected from the timestamps, stated in the model
#: definition (``sampling_interval``), or the median gap of artifacts older than calendar grids.
GridSource = Literal["detected", "configured", "legacy"]

DAY_SECONDS: Final = 86_400
WEEK_SECONDS: Final = 7 * DAY_SECONDS
#: Average Gregorian month (365.2425 / 12 days), the nominal length of a month step.
MONTH_SECONDS: Final = 2_629_746
MAX_INTERVAL_MONTHS: Final = 120
MAX_INTERVAL_SECONDS: Final = 3650 * DAY_SECONDS
MIN_INTERVAL_SECONDS: Final = 0.001
#: A grid whose detection placed at least this share of the points near their slot is regular.
MIN_ALIGNED_SHARE: Final = 0.8


class SamplingInterval(NamedTuple):
    """A parsed interval: ``step`` whole months (``unit="months"``) or seconds, at millisecond
    resolution (``unit="seconds"``)."""

    unit: GridUnit
    step: float


_ISO_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d{1,3})?)S)?)?"
)


def parse_sampling_interval(text: str) -> SamplingInterval:
    """The interval an ISO-8601 duration names (see the module docstring for the forms).

    Raises:
        ValueError: with a message saying what is wrong and what is accepted.
    """
    match = _ISO_DURATION.fullmatch(text.strip().upper())
    if match is None or not any(match.groupdict().values()):
        raise ValueError(
            f"{text!r} is not a supported ISO-8601 duration; use e.g. PT30M, PT1H, P1D, P1W, P1M, P3M or P1Y"
        )
    parts = {name: Decimal((value or "0").replace(",", ".")) for name, value in match.groupdict().items()}
    months = int(parts["years"] * 12 + parts["months"])
    seconds = (
        parts["weeks"] * WEEK_SECONDS
        + parts["days"] * DAY_SECONDS
        + parts["hours"] * 3600
        + parts["minutes"] * 60
        + parts["seconds"]
    )
    if months and seconds:
        raise ValueError(
            f"{text!r} mixes calendar months (Y, M) with fixed-length parts (W, D, H, M, S); "
            "use one kind, e.g. P1M or P30D"
        )
    if months:
        if months > MAX_INTERVAL_MONTHS:
            raise ValueError(f"{text!r} is longer than P{MAX_INTERVAL_MONTHS // 12}Y")
        return SamplingInterval("months", float(months))
    if seconds == 0:
        raise ValueError(f"{text!r} is a zero duration; the interval must be positive")
    if seconds > MAX_INTERVAL_SECONDS:
        raise ValueError(f"{text!r} is longer than {MAX_INTERVAL_SECONDS // DAY_SECONDS} days")
    return SamplingInterval("seconds", float(seconds))


def format_sampling_interval(interval: SamplingInterval) -> str:
    """The canonical ISO-8601 spelling of ``interval`` (``P1Y``, ``P3M``, ``P1W``, ``P1D``,
    ``PT30M``, ``P1DT12H``, ``PT0.5S``)."""
    if interval.unit == "months":
        months = round(interval.step)
        return f"P{months // 12}Y" if months % 12 == 0 else f"P{months}M"
    millis = round(interval.step * 1000)
    if millis % (WEEK_SECONDS * 1000) == 0:
        return f"P{millis // (WEEK_SECONDS * 1000)}W"
    days, rest = divmod(millis, DAY_SECONDS * 1000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + _seconds_text(rest)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _seconds_text(millis: int) -> str:
    """``"5S"``, ``"0.5S"``, or ``""`` for zero."""
    if millis == 0:
        return ""
    whole, frac = divmod(millis, 1000)
    return f"{whole}S" if frac == 0 else f"{whole}.{frac:03d}".rstrip("0") + "S"


def canonical_sampling_interval(text: str) -> str:
    """:func:`parse_sampling_interval` then :func:`format_sampling_interval` (raises ValueError)."""
    return format_sampling_interval(parse_sampling_interval(text))


def cadence_kind(unit: GridUnit, step: float, *, regular: bool = True) -> CadenceKind:
    """The name of the cadence of a grid of ``step`` ``unit``."""
    if unit == "months":
        months = round(step)
        if months == 1:
            return "monthly"
        if months == 3:
            return "quarterly"
        return "yearly" if months == 12 else "multi_month"
    if not regular:
        return "irregular"
    if step < DAY_SECONDS:
        return "sub_daily"
    if step == DAY_SECONDS:
        return "daily"
    if step == WEEK_SECONDS:
        return "weekly"
    return "multi_day"


class GridReport(BaseModel):
    """The grid a training put its series on, as the job's data quality records it.

    ``step`` is in ``unit`` (seconds or months) and ``interval`` its ISO-8601 spelling;
    ``anchor`` says where the slots lie (``"day 1 at 00:00:00 UTC"``, ``"the last day at
    23:00:00 UTC"``, ``"Monday 00:00:00 UTC"``, ``"every 1800 s from 00:07:12 UTC"``);
    ``aligned_share`` is the fraction of observed points within tolerance of their slot (the
    rest were jittered or off the grid, and went to the nearest slot all the same).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: CadenceKind
    unit: GridUnit
    step: float = Field(gt=0)
    interval: str
    anchor: str
    source: GridSource
    aligned_share: float | None = Field(default=None, ge=0.0, le=1.0)
