"""Calendar-true grids: cadence detection, regularisation in slots, and forecast target instants."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from chronos_core.ml.artifacts import InferenceSpec
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.grid import (
    MonthsGrid,
    SecondsGrid,
    choose_grid,
    detect_grid,
    legacy_grid,
    round_step,
)
from chronos_core.ml.preprocessing import clean_points, prepare_dataset, regularize, sampling_interval
from chronos_core.ml.transforms import TransformSpec


def epoch(stamps: list[datetime]) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray([s.timestamp() for s in stamps], dtype=np.float64)


def month_start(year: int, month0: int) -> datetime:
    """The first day of month ``month0`` (0-based, may exceed 11) after January of ``year``."""
    return datetime(year + month0 // 12, month0 % 12 + 1, 1, tzinfo=UTC)


def month_end(year: int, month0: int) -> datetime:
    first = month_start(year, month0)
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ------------------------------------------------------------------------- cadence detection


def test_month_starts_are_a_monthly_grid_even_with_missing_and_jittered_months() -> None:
    stamps = [month_start(2015, k) for k in range(96) if k not in (7, 30, 31, 55)]
    stamps[10] += timedelta(days=1, hours=5)  # a late reading
    stamps[40] -= timedelta(hours=20)  # an early one
    choice = detect_grid(epoch(stamps))
    assert choice.grid == MonthsGrid(step_months=1, day_of_month=1)
    report = choice.report()
    assert (report.kind, report.interval, report.source) == ("monthly", "P1M", "detected")
    assert report.anchor == "day 1 at 00:00:00 UTC"
    assert report.aligned_share == pytest.approx((len(stamps) - 2) / len(stamps), abs=1e-4)


def test_month_ends_are_a_monthly_grid_on_the_last_day() -> None:
    stamps = [month_end(2012, k) for k in range(60)]
    choice = detect_grid(epoch(stamps))
    assert choice.grid == MonthsGrid(step_months=1, day_of_month=-1)
    assert choice.report().anchor == "the last day at 00:00:00 UTC"


def test_local_midnight_month_starts_are_the_last_day_in_utc() -> None:
    # 00:00 in Madrid is 23:00 UTC (winter) or 22:00 UTC (summer) of the previous day.
    stamps = [
        month_start(2016, k) - timedelta(hours=1 if (k % 12) in (0, 1, 2, 10, 11) else 2) for k in range(72)
    ]
    grid = detect_grid(epoch(stamps)).grid
    assert isinstance(grid, MonthsGrid) and grid.day_of_month == -1
    assert grid.time_of_day_seconds in (22 * 3600, 23 * 3600)


def test_the_same_day_of_month_clamps_in_short_months() -> None:
    stamps = [month_start(2019, k) for k in range(48)]
    stamps = [s.replace(day=min(30, calendar.monthrange(s.year, s.month)[1])) for s in stamps]
    grid = detect_grid(epoch(stamps)).grid
    assert grid == MonthsGrid(step_months=1, day_of_month=30)
    # The grid's instants are the data's own dates, February included.
    assert grid.times_of(grid.slots_of(epoch(stamps))).tolist() == epoch(stamps).tolist()


def test_quarter_ends_are_a_quarterly_grid() -> None:
    stamps = [month_end(2000, 2 + 3 * k) for k in range(40)]  # Mar, Jun, Sep, Dec
    choice = detect_grid(epoch(stamps))
    assert choice.grid == MonthsGrid(step_months=3, month_phase=2, day_of_month=-1)
    assert choice.report().kind == "quarterly"
    assert choice.report().anchor.endswith("in Mar/Jun/Sep/Dec")


def test_yearly_readings_are_a_yearly_grid() -> None:
    stamps = [utc(1950 + k, 7, 1) for k in range(70) if k != 33]
    choice = detect_grid(epoch(stamps))
    assert choice.grid == MonthsGrid(step_months=12, month_phase=6, day_of_month=1)
    assert (choice.report().kind, choice.report().interval) == ("yearly", "P1Y")


def test_weekly_readings_are_anchored_to_their_weekday() -> None:
    first = utc(2021, 1, 4, 6)  # a Monday, 06:00
    stamps = [first + timedelta(weeks=k) for k in range(150) if k % 37 != 5]
    choice = detect_grid(epoch(stamps))
    assert choice.grid == SecondsGrid(step_seconds=7 * 86400, anchor_seconds=first.timestamp())
    assert (choice.report().kind, choice.report().interval) == ("weekly", "P1W")
    assert choice.report().anchor == "Monday 06:00:00 UTC"
    assert choice.grid.natural_seasons() == [52]


def test_daily_readings_are_a_daily_grid_at_their_time_of_day() -> None:
    first = utc(2020, 3, 1, 9, 30)
    rng = np.random.default_rng(1)
    times = first.timestamp() + 86400.0 * np.arange(800) + rng.uniform(-90, 90, 800)
    choice = detect_grid(times)
    assert choice.grid.step == 86400 and choice.report().kind == "daily"
    assert choice.report().anchor == "09:30:00 UTC"  # snapped within the readings' own spread
    assert choice.grid.natural_seasons() == [7]


def test_half_hourly_readings_with_millisecond_jitter_take_a_round_step_on_the_sensor_phase() -> None:
    rng = np.random.default_rng(2)
    phase = utc(2024, 5, 1, 0, 7, 12).timestamp()  # the sensor reports at :07:12 and :37:12
    times = phase + 1800.0 * np.arange(4000) + rng.uniform(-0.004, 0.004, 4000)
    assert sampling_interval(times) != 1800.0  # the median gap is not the round step
    choice = detect_grid(times)
    assert choice.grid == SecondsGrid(step_seconds=1800.0, anchor_seconds=phase)
    assert (choice.report().kind, choice.report().interval) == ("sub_daily", "PT30M")
    assert choice.report().aligned_share == 1.0
    assert choice.grid.natural_seasons() == [48, 336]


def test_irregular_timestamps_are_a_seconds_grid_marked_irregular() -> None:
    rng = np.random.default_rng(3)
    times = 1.7e9 + np.cumsum(rng.exponential(600.0, 2000))
    choice = detect_grid(times)
    assert isinstance(choice.grid, SecondsGrid)
    assert choice.report().kind == "irregular"
    assert choice.aligned_share < 0.5


def test_a_fixed_thirty_day_cadence_is_not_monthly() -> None:
    times = utc(2020, 1, 1).timestamp() + 30 * 86400.0 * np.arange(60)
    choice = detect_grid(times)
    assert choice.grid == SecondsGrid(step_seconds=30 * 86400.0, anchor_seconds=float(times[0]))
    assert (choice.report().kind, choice.report().interval) == ("multi_day", "P30D")


@pytest.mark.parametrize(
    ("gap", "step"),
    [
        (1800.004, 1800.0),
        (3599.2, 3600.0),
        (59.9, 60.0),
        (86401.0, 86400.0),
        (0.2501, 0.25),
        (1234.5678, 1235.0),
    ],
)
def test_round_steps(gap: float, step: float) -> None:
    assert round_step(gap) == step


def test_a_stated_interval_overrides_detection() -> None:
    hourly = utc(2024, 1, 1).timestamp() + 3600.0 * np.arange(24 * 90) + 600.0  # at :10
    monthly = choose_grid(hourly, "P1M")
    assert monthly.source == "configured"
    # Hourly data fits no day of the month: each reading goes to its calendar month.
    assert monthly.grid == MonthsGrid(step_months=1, assignment="period")
    clean = clean_points([(t, float(datetime.fromtimestamp(t, tz=UTC).month)) for t in hourly])
    series = regularize(clean, monthly.grid, max_interpolated_gap=0)
    assert series.times.tolist() == epoch([utc(2024, 1, 1), utc(2024, 2, 1), utc(2024, 3, 1)]).tolist()
    assert series.values.tolist() == [1.0, 2.0, 3.0]  # the month means: no hour of a month leaks
    two_hours = choose_grid(hourly, "PT2H")
    assert two_hours.grid.step == 7200 and two_hours.report().source == "configured"


def test_one_reading_per_month_on_varying_days_goes_to_its_month() -> None:
    rng = np.random.default_rng(5)
    stamps = [month_start(2010, k) + timedelta(days=int(rng.integers(0, 28)), hours=8) for k in range(100)]
    choice = detect_grid(epoch(stamps))
    assert choice.grid == MonthsGrid(step_months=1, assignment="period")
    clean = clean_points([(s, float(k)) for k, s in enumerate(stamps)])
    series = regularize(clean, choice.grid, max_interpolated_gap=0)
    assert series.quality.slot_collisions == 0 and len(series) == 100
    assert series.times.tolist() == epoch([month_start(2010, k) for k in range(100)]).tolist()


# ------------------------------------------------------------------- calendar regularisation


def test_ten_years_of_months_never_collide_on_the_calendar_grid() -> None:
    stamps = [month_start(2010, k) for k in range(120)]
    clean = clean_points([(s, float(k)) for k, s in enumerate(stamps)])
    # The former median-gap grid (31 days) puts some months on one slot and skips others.
    old = regularize(clean, sampling_interval(clean.times), max_interpolated_gap=3)
    assert old.quality.slot_collisions > 0
    series = regularize(clean, detect_grid(clean.times).grid, max_interpolated_gap=3)
    assert series.quality.slot_collisions == 0 and series.quality.interpolated_points == 0
    assert len(series) == 120
    assert series.times.tolist() == epoch(stamps).tolist()  # the true calendar instants
    assert series.values.tolist() == [float(k) for k in range(120)]


def test_a_missing_month_is_interpolated_in_slot_space() -> None:
    # Month starts with February missing: the gap spans 59 days (Jan 1 -> Mar 1); in slots it
    # is one month, and the filled value sits halfway between its neighbours.
    stamps = [month_start(2023, k) for k in range(24) if k != 1]
    values = [float(k) * 10.0 for k in range(24) if k != 1]
    clean = clean_points(list(zip(stamps, values, strict=True)))
    series = regularize(clean, MonthsGrid(step_months=1), max_interpolated_gap=1)
    assert series.quality.segments == 1 and series.quality.interpolated_points == 1
    assert series.times[1] == utc(2023, 2, 1).timestamp()
    assert series.values[1] == 10.0
    assert not series.observed[1]


def test_prepare_dataset_records_the_grid_in_the_data_quality() -> None:
    points = [(month_start(2000, k), 10.0 + np.sin(k / 12 * 2 * np.pi)) for k in range(240)]
    data = prepare_dataset(points, TrainingConfig(lookback_window=12, forecast_horizon=3))
    grid = data.quality.grid
    assert grid is not None
    assert (grid.kind, grid.unit, grid.step, grid.interval, grid.source) == (
        "monthly",
        "months",
        1.0,
        "P1M",
        "detected",
    )
    assert data.quality.slot_collisions == 0
    assert data.series.interval == pytest.approx(365.2425 / 12 * 86400)
    configured = prepare_dataset(
        points, TrainingConfig(lookback_window=12, forecast_horizon=3, sampling_interval="P3M")
    )
    assert configured.quality.grid is not None and configured.quality.grid.source == "configured"
    # Month starts are finer than quarters: each month goes to its calendar quarter.
    assert len(configured.series) == 80
    first_quarter = [v for t, v in points[:3]]
    assert configured.series.values[0] == pytest.approx(np.mean(first_quarter))
    assert {datetime.fromtimestamp(t, tz=UTC).strftime("%m-%d") for t in configured.series.times} == {
        "01-01",
        "04-01",
        "07-01",
        "10-01",
    }


# ---------------------------------------------------------------------------- target instants


def test_month_end_targets_follow_the_last_day_through_february() -> None:
    grid = MonthsGrid(step_months=1, day_of_month=-1)
    targets = grid.targets(utc(2024, 1, 31).timestamp(), 4)
    assert targets == [utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 4, 30), utc(2024, 5, 31)]
    assert grid.targets(utc(2023, 1, 31).timestamp(), 1) == [utc(2023, 2, 28)]


def test_a_day_31_rule_clamps_to_short_months_and_comes_back() -> None:
    grid = MonthsGrid(step_months=1, day_of_month=31, time_of_day_seconds=12 * 3600)
    assert grid.targets(utc(2025, 1, 31, 12).timestamp(), 3) == [
        utc(2025, 2, 28, 12),
        utc(2025, 3, 31, 12),
        utc(2025, 4, 30, 12),
    ]


def test_month_start_targets_are_month_starts_for_years() -> None:
    grid = MonthsGrid(step_months=1)
    targets = grid.targets(utc(2023, 11, 1).timestamp(), 25)
    assert targets[0] == utc(2023, 12, 1) and targets[1] == utc(2024, 1, 1)
    assert all(t.day == 1 and t.hour == 0 for t in targets)
    assert targets[-1] == utc(2025, 12, 1)


def test_quarterly_targets_stay_on_the_quarter() -> None:
    grid = MonthsGrid(step_months=3, month_phase=2, day_of_month=-1)
    assert grid.targets(utc(2024, 12, 31).timestamp(), 3) == [
        utc(2025, 3, 31),
        utc(2025, 6, 30),
        utc(2025, 9, 30),
    ]


def test_sub_daily_targets_do_not_creep_over_a_thousand_steps() -> None:
    rng = np.random.default_rng(4)
    phase = utc(2024, 5, 1, 0, 7, 12).timestamp()
    times = phase + 1800.0 * np.arange(3000) + rng.uniform(-0.004, 0.004, 3000)
    grid = detect_grid(times).grid
    last = float(times[-1])
    targets = grid.targets(last, 1000)
    expected = [
        datetime.fromtimestamp(phase, tz=UTC) + timedelta(seconds=1800 * (2999 + k)) for k in range(1, 1001)
    ]
    assert targets == expected
    assert all(t.microsecond == 0 and t.second == 12 for t in targets)
    # The former rule, last + k * median, drifts by milliseconds.
    median = sampling_interval(times)
    old_last = datetime.fromtimestamp(last + 1000 * median, tz=UTC)
    assert abs((old_last - expected[-1]).total_seconds()) > 0.001


def test_serving_keeps_the_trained_phase_and_follows_a_sensor_that_moved() -> None:
    grid = SecondsGrid(step_seconds=600.0, anchor_seconds=1_700_000_000.0)
    jittered = 1_700_000_000.0 + 600.0 * np.arange(100, 150) + 0.003
    assert grid.aligned_to(jittered) == grid
    moved = 1_700_000_000.0 + 600.0 * np.arange(100, 150) + 240.0  # now at +4 min
    rephased = grid.aligned_to(moved)
    assert rephased.anchor_seconds is not None
    assert (rephased.anchor_seconds - 1_700_000_000.0) % 600.0 == 240.0
    assert rephased.targets(float(moved[-1]), 1)[0].timestamp() == moved[-1] + 600.0


# ----------------------------------------------------------------------- artifacts and legacy


def test_the_grid_round_trips_through_the_inference_spec_and_old_specs_keep_seconds() -> None:
    spec = InferenceSpec(
        lookback=4,
        horizon=2,
        interval_seconds=MonthsGrid(step_months=1).nominal_seconds,
        grid=MonthsGrid(step_months=1, day_of_month=-1),
        max_interpolated_gap=1,
        feature="value",
        transform=TransformSpec(),
    )
    loaded = InferenceSpec.model_validate_json(spec.model_dump_json())
    assert loaded.sampling_grid() == MonthsGrid(step_months=1, day_of_month=-1)
    old = spec.model_dump(mode="json")
    del old["grid"]  # an artifact written before calendar grids
    legacy = InferenceSpec.model_validate(old).sampling_grid()
    assert legacy == legacy_grid(spec.interval_seconds)
    times = np.asarray([1000.0, 1000.0 + legacy.step])
    anchored = legacy.aligned_to(times)
    assert anchored.anchor_seconds == 1000.0  # the former rule: the first point anchors the grid
