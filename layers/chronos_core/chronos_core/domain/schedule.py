"""When a retraining schedule fires: a cron expression read in an IANA time zone and/or a fixed
rate, between an optional start and end.

Semantics (EventBridge Scheduler's, made explicit and tested):

* **Cron** has five fields (minute, hour, day of month, month, day of week; ``L``, ``W`` and ``#``
  as in Debian cron, parsed by ``cronsim``) matched against the *local wall-clock time* of
  ``timezone``. A fire time is a wall-clock time mapped to UTC with :mod:`zoneinfo`:

  - a wall-clock time that **does not exist** (the hour skipped when clocks spring forward) is
    **skipped**: ``30 2 * * *`` in Europe/Berlin does not fire on the last Sunday of March;
  - a wall-clock time that **occurs twice** (the hour repeated when clocks fall back) **fires
    once**, at its first occurrence (the earlier UTC instant): ``30 2 * * *`` fires at 02:30
    CEST on the last Sunday of October, not again at 02:30 CET. A cron that matches every
    minute of that hour fires through its first pass only.

* **Rate** is a fixed duration (``rate(6 hours)`` or ISO-8601 ``PT6H``; weeks, days, hours,
  minutes), fires at ``anchor + k * rate`` in UTC and is not affected by daylight saving.
* **Both** given: the union of the two sets of fire times (a time in both fires once).
* ``start`` and ``end`` (UTC instants) bound the fire times, both included; the rate is anchored
  at ``start`` when given.

Everything is computed to the minute or finer without iterating from the start of time:
:meth:`Schedule.latest_at_or_before` walks the cron backwards from ``now`` (that is how missed
fire times are coalesced into one), :meth:`Schedule.next_after` forwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chronos_core.domain.sampling import parse_sampling_interval

#: Shortest and longest rate.
MIN_RATE_SECONDS: Final = 60
MAX_RATE_SECONDS: Final = 366 * 86_400
#: How far a search for a fire time goes before it concludes there is none (a cron such as
#: ``0 0 30 2 *`` never fires).
SEARCH_LIMIT: Final = timedelta(days=5 * 366)
#: Candidate wall-clock times looked at per search before giving up (a bound on the work).
MAX_CANDIDATES: Final = 100_000

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days|week|weeks)\s*\)", re.IGNORECASE)
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}


def fixed_duration_seconds(text: str, *, field: str = "duration") -> float:
    """Seconds of an ISO-8601 duration of fixed length (``PT15M``, ``PT6H``, ``P1D``, ``P2W``).
    Raises ValueError for calendar months and years (their length varies) and malformed text."""
    parsed = parse_sampling_interval(text)
    if parsed.unit != "seconds":
        raise ValueError(f"{field} must be a fixed length (weeks, days, hours, minutes, seconds), not months")
    return parsed.step


def rate_seconds(text: str) -> int:
    """Seconds of a rate: ``rate(N minutes|hours|days|weeks)`` (EventBridge's form) or an ISO-8601
    duration of fixed length, whole minutes between 1 minute and 366 days. Raises ValueError."""
    match = _RATE.fullmatch(text.strip())
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower().rstrip("s")]
    else:
        try:
            value = fixed_duration_seconds(text, field="rate")
        except ValueError as exc:
            raise ValueError(
                f"{text!r} is not a rate: use rate(N minutes|hours|days|weeks) or an ISO-8601 duration "
                f"such as PT15M, PT6H or P1D ({exc})"
            ) from None
        seconds = int(value)
        if seconds != value or seconds % 60:
            raise ValueError("a rate is a whole number of minutes")
    if not MIN_RATE_SECONDS <= seconds <= MAX_RATE_SECONDS:
        raise ValueError("a rate lies between 1 minute and 366 days")
    return seconds


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone ``name``. Raises ValueError for an unknown one."""
    try:
        if name not in _zone_names() and name != "UTC":
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not an IANA time zone (e.g. Europe/Madrid, America/New_York, UTC)"
        ) from None


_ZONES: set[str] = set()


def _zone_names() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def wall_time_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant a naive wall-clock time of ``zone`` fires at: None when it does not exist
    (skipped forward), its first occurrence when it is repeated (``fold=0``)."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # in the gap: the round trip lands elsewhere
    return instant


def _wall_clock_reached(now: datetime, zone: ZoneInfo) -> datetime:
    """The latest wall-clock time ``zone`` has shown by ``now``: the local time, or, during the
    second pass of a repeated hour, the end of its first pass (the clock went back from it)."""
    local = now.astimezone(zone)
    wall = local.replace(tzinfo=None)
    if local.fold == 1:
        first_offset = wall.replace(tzinfo=zone, fold=0).utcoffset()
        second_offset = local.utcoffset()
        if first_offset is not None and second_offset is not None and first_offset > second_offset:
            wall = wall + (first_offset - second_offset)
    return wall


class Schedule(BaseModel):
    """When retraining fires (see the module docstring). At least one of ``cron`` and ``rate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str | None = Field(
        default=None,
        min_length=9,
        max_length=200,
        description="Five-field cron expression (minute hour day-of-month month day-of-week) read in "
        "`timezone`, e.g. `0 3 * * *` (03:00 local every day) or `30 6 * * 1-5`.",
    )
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64, description="IANA time zone the cron is read in."
    )
    rate: str | None = Field(
        default=None,
        max_length=40,
        description="A fixed rate, `rate(6 hours)` or ISO-8601 `PT6H` (weeks, days, hours, minutes), "
        "anchored at `start` (or when the schedule was set).",
    )
    start: datetime | None = Field(default=None, description="No fire time before this instant.")
    end: datetime | None = Field(default=None, description="No fire time after this instant.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = " ".join(value.split())
        if len(text.split(" ")) != 5:
            raise ValueError("a cron expression has five fields: minute hour day-of-month month day-of-week")
        try:
            CronSim(text, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"invalid cron expression: {exc}") from None
        return text

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        zone_of(value)
        return value

    @field_validator("rate")
    @classmethod
    def _valid_rate(cls, value: str | None) -> str | None:
        if value is not None:
            rate_seconds(value)
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.cron is None and self.rate is None:
            raise ValueError("give a cron expression, a rate, or both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    # ------------------------------------------------------------------ derived

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone)

    @property
    def rate_seconds(self) -> int | None:
        return rate_seconds(self.rate) if self.rate else None

    def _bounded(self, instant: datetime | None) -> datetime | None:
        if instant is None:
            return None
        if self.start is not None and instant < self.start:
            return None
        if self.end is not None and instant > self.end:
            return None
        return instant

    # ------------------------------------------------------------------ cron

    def _cron_after(self, after: datetime) -> datetime | None:
        """The first cron fire time strictly after ``after`` (UTC), or None."""
        assert self.cron is not None
        zone = self.zone
        start_wall = _wall_clock_reached(after, zone)
        limit = after + SEARCH_LIMIT
        for count, wall in enumerate(CronSim(self.cron, start_wall)):
            if count >= MAX_CANDIDATES:
                return None
            instant = wall_time_to_utc(wall, zone)
            if instant is None or instant <= after:
                continue  # skipped forward, or a repeated hour's second pass (already fired)
            return instant if instant <= limit else None
        return None

    def _cron_at_or_before(self, now: datetime) -> datetime | None:
        """The latest cron fire time at or before ``now`` (UTC), or None."""
        assert self.cron is not None
        zone = self.zone
        start_wall = _wall_clock_reached(now, zone) + timedelta(microseconds=1)  # include ``now``
        floor = now - SEARCH_LIMIT
        for count, wall in enumerate(CronSim(self.cron, start_wall, reverse=True)):
            if count >= MAX_CANDIDATES:
                return None
            instant = wall_time_to_utc(wall, zone)
            if instant is None or instant > now:
                continue
            return instant if instant >= floor else None
        return None

    # ------------------------------------------------------------------ rate

    def _rate_anchor(self, anchor: datetime) -> datetime:
        return self.start or anchor

    def _rate_after(self, after: datetime, anchor: datetime) -> datetime | None:
        step = self.rate_seconds
        assert step is not None
        base = self._rate_anchor(anchor)
        if after < base:
            return base
        k = int((after - base).total_seconds() // step) + 1
        return base + timedelta(seconds=k * step)

    def _rate_at_or_before(self, now: datetime, anchor: datetime) -> datetime | None:
        step = self.rate_seconds
        assert step is not None
        base = self._rate_anchor(anchor)
        if now < base:
            return None
        k = int((now - base).total_seconds() // step)
        return base + timedelta(seconds=k * step)

    # ------------------------------------------------------------------ public

    def next_after(self, after: datetime, *, anchor: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` within start/end, or None. ``anchor``
        anchors a rate without ``start`` (when the schedule was set)."""
        after = after.astimezone(UTC)
        if self.start is not None and after < self.start:
            after = self.start - timedelta(microseconds=1)
        candidates = []
        if self.cron is not None:
            candidates.append(self._cron_after(after))
        if self.rate is not None:
            candidates.append(self._rate_after(after, anchor))
        found = min((c for c in candidates if c is not None), default=None)
        return self._bounded(found)

    def latest_at_or_before(self, now: datetime, *, anchor: datetime) -> datetime | None:
        """The latest fire time at or before ``now`` within start/end, or None: every fire time
        missed before it is coalesced into this one."""
        now = now.astimezone(UTC)
        if self.end is not None and now > self.end:
            now = self.end
        candidates = []
        if self.cron is not None:
            candidates.append(self._cron_at_or_before(now))
        if self.rate is not None:
            candidates.append(self._rate_at_or_before(now, anchor))
        found = max((c for c in candidates if c is not None), default=None)
        return self._bounded(found)

    def upcoming(self, after: datetime, count: int, *, anchor: datetime) -> list[datetime]:
        """The next ``count`` fire times strictly after ``after``."""
        out: list[datetime] = []
        cursor = after
        while len(out) < count:
            found = self.next_after(cursor, anchor=anchor)
            if found is None:
                break
            out.append(found)
            cursor = found
        return out

    def dst_notes(self, after: datetime, *, days: int = 366) -> list[str]:
        """Plain-text notes on the daylight-saving transitions of the next ``days`` that change
        when the cron fires: a wall-clock time it matches that is skipped, or that repeats."""
        if self.cron is None:
            return []
        zone = self.zone
        notes: list[str] = []
        for before, transition in _transitions(zone, after, days):
            gap = transition.utcoffset() - before.utcoffset()  # type: ignore[operator]
            if gap > timedelta(0):  # spring forward: wall times [t, t + gap) never happen
                start = transition.replace(tzinfo=None) - gap
                missing = list(_walls_in(self.cron, start, start + gap))
                if missing:
                    notes.append(
                        f"{missing[0]:%Y-%m-%d %H:%M} {self.timezone} does not exist (clocks spring forward "
                        f"{_span(gap)}): that fire time is skipped"
                    )
            else:  # fall back: wall times [t, t - gap) happen twice
                start = transition.replace(tzinfo=None)
                repeated = list(_walls_in(self.cron, start, start - gap))
                if repeated:
                    notes.append(
                        f"{repeated[0]:%Y-%m-%d %H:%M} {self.timezone} occurs twice (clocks fall back "
                        f"{_span(-gap)}): it fires once, at the first occurrence"
                    )
        return notes

    def describe(self) -> str:
        """A human-readable summary (cronsim's explanation of the cron, the rate)."""
        parts = []
        if self.cron is not None:
            try:
                parts.append(f"{CronSim(self.cron, datetime(2000, 1, 1)).explain()} ({self.timezone})")
            except Exception:  # an explanation is a nicety; the expression itself is valid
                parts.append(f"cron {self.cron} ({self.timezone})")
        if self.rate is not None:
            parts.append(f"every {_span(timedelta(seconds=self.rate_seconds or 0))}")
        return "; ".join(parts)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} s"


def _walls_in(cron: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """Wall-clock times in ``[start, end)`` the cron matches."""
    for wall in CronSim(cron, start - timedelta(microseconds=1)):
        if wall >= end:
            return
        yield wall


def _transitions(zone: ZoneInfo, after: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """``(local just before, local at)`` each UTC-offset change of ``zone`` in the next ``days``
    (found hourly, then to the minute)."""
    found: list[tuple[datetime, datetime]] = []
    cursor = after.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = cursor + timedelta(days=days)
    previous = cursor.astimezone(zone)
    while cursor < end:
        cursor += timedelta(hours=1)
        current = cursor.astimezone(zone)
        if current.utcoffset() != previous.utcoffset():
            lo, hi = cursor - timedelta(hours=1), cursor
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == previous.utcoffset():
                    lo = mid
                else:
                    hi = mid
            hi = hi.replace(second=0, microsecond=0)
            found.append((lo.astimezone(zone), hi.astimezone(zone)))
        previous = current
    return found
