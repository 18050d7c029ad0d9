"""Retraining schedules: cron read in an IANA zone (daylight saving: a local time that does not
exist is skipped, a repeated one fires once), rates, start/end, and the coalescing of missed
fire times into the latest one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chronos_core.domain.retraining import RetrainingPolicy, StoredPolicy
from chronos_core.domain.schedule import Schedule

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_cron_is_read_in_its_zone_and_answered_in_utc() -> None:
    schedule = Schedule(cron="0 3 * * *", timezone="Europe/Madrid")
    # winter: CET = UTC+1; summer: CEST = UTC+2
    assert schedule.next_after(utc(2026, 1, 10, 12, 0), anchor=ANCHOR) == utc(2026, 1, 11, 2, 0)
    assert schedule.next_after(utc(2026, 7, 10, 12, 0), anchor=ANCHOR) == utc(2026, 7, 11, 1, 0)


def test_a_local_time_that_does_not_exist_is_skipped() -> None:
    # Europe/Berlin springs forward on 2026-03-29 at 02:00 -> 03:00: 02:30 never happens that day
    schedule = Schedule(cron="30 2 * * *", timezone="Europe/Berlin")
    fires = schedule.upcoming(utc(2026, 3, 27, 12, 0), 3, anchor=ANCHOR)
    assert fires == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]
    notes = schedule.dst_notes(utc(2026, 3, 1))
    assert any("2026-03-29 02:30" in n and "skipped" in n for n in notes)


def test_a_repeated_local_time_fires_once_at_its_first_occurrence() -> None:
    # Europe/Berlin falls back on 2026-10-25 at 03:00 -> 02:00: 02:30 happens twice
    schedule = Schedule(cron="30 2 * * *", timezone="Europe/Berlin")
    fires = schedule.upcoming(utc(2026, 10, 24, 12, 0), 3, anchor=ANCHOR)
    assert fires == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)]
    # a tick during the second pass (02:30 CET = 01:30 UTC) sees the first as the due one
    assert schedule.latest_at_or_before(utc(2026, 10, 25, 1, 45), anchor=ANCHOR) == utc(2026, 10, 25, 0, 30)
    notes = schedule.dst_notes(utc(2026, 10, 1))
    assert any("2026-10-25 02:30" in n and "fires once" in n for n in notes)


def test_an_every_minute_cron_runs_through_the_repeated_hour_once() -> None:
    schedule = Schedule(cron="*/30 * * * *", timezone="America/New_York")
    # New York falls back on 2026-11-01 at 02:00 EDT -> 01:00 EST
    fires = schedule.upcoming(utc(2026, 11, 1, 4, 45), 4, anchor=ANCHOR)  # 00:45 EDT
    local = [f.astimezone(schedule.zone).strftime("%H:%M %Z") for f in fires]
    assert local == ["01:00 EDT", "01:30 EDT", "02:00 EST", "02:30 EST"]


def test_a_rate_is_anchored_at_start_and_ignores_daylight_saving() -> None:
    schedule = Schedule(rate="rate(6 hours)", start=utc(2026, 3, 28, 1, 0))
    fires = schedule.upcoming(utc(2026, 3, 28, 0, 0), 4, anchor=ANCHOR)
    assert [f - fires[0] for f in fires] == [timedelta(hours=6 * k) for k in range(4)]
    assert fires[0] == utc(2026, 3, 28, 1, 0)
    assert Schedule(rate="PT15M").upcoming(ANCHOR, 2, anchor=ANCHOR) == [
        ANCHOR + timedelta(minutes=15),
        ANCHOR + timedelta(minutes=30),
    ]


def test_cron_and_rate_together_fire_at_the_union_and_end_bounds_them() -> None:
    schedule = Schedule(
        cron="0 12 * * *", rate="rate(1 day)", start=utc(2026, 1, 1, 6), end=utc(2026, 1, 2, 12)
    )
    fires = schedule.upcoming(utc(2026, 1, 1, 0), 10, anchor=ANCHOR)
    assert fires == [utc(2026, 1, 1, 6), utc(2026, 1, 1, 12), utc(2026, 1, 2, 6), utc(2026, 1, 2, 12)]


def test_missed_fire_times_are_coalesced_into_the_latest() -> None:
    stored = StoredPolicy(
        model_id="m",
        fiware_service="energy",
        policy=RetrainingPolicy(schedule=Schedule(cron="0 * * * *")),
        schedule_since=utc(2026, 1, 1, 0, 30),
        created_at=utc(2026, 1, 1),
        updated_at=utc(2026, 1, 1),
    )
    # the scheduler was down from 01:00 to 05:20: one due fire time, the 05:00 one
    assert stored.due_fire(utc(2026, 1, 1, 5, 20)) == utc(2026, 1, 1, 5, 0)
    # nothing before the schedule was set fires
    assert stored.due_fire(utc(2026, 1, 1, 0, 45)) is None
    disabled = stored.model_copy(update={"policy": stored.policy.model_copy(update={"enabled": False})})
    assert disabled.due_fire(utc(2026, 1, 1, 5, 20)) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "0 3 * * * *"}, "five fields"),
        ({"cron": "0 0 30 2 *"}, "day-of-month"),
        ({"cron": "0 25 * * *"}, "invalid cron"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "IANA"),
        ({"rate": "rate(30 seconds)"}, "not a rate"),
        ({"rate": "P1M"}, "not a rate"),
        ({}, "cron expression, a rate"),
        ({"rate": "PT1H", "start": "2026-02-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "after start"),
    ],
)
def test_a_bad_schedule_says_what_is_wrong(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Schedule.model_validate(body)
    assert field in str(raised.value)
