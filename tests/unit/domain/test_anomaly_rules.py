"""The scan's pure rules: Benjamini-Hochberg, event merging, severity, chunk planning, data-quality
issues joined across chunks, settings and windows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.domain.anomaly import (
    FlaggedPoint,
    QualityIssue,
    ScanOptions,
    ScanSettings,
    boundary_gaps,
    fdr_threshold,
    join_quality_issues,
    merge_events,
    plan_scan_chunks,
    severity_level,
    severity_of,
    window_problems,
)
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.training_job import TimeWindow
from tests.support.builders import T0


def test_benjamini_hochberg_is_the_step_up_cutoff() -> None:
    # 10 tests at q = 0.05: bounds i * 0.005; p_(3) = 0.012 <= 0.015 although p_(2) = 0.011 > 0.010
    p = [0.001, 0.011, 0.012, 0.3, 0.9]
    assert fdr_threshold(p, tests=10, rate=0.05) == 0.012
    assert fdr_threshold([0.2, 0.3], tests=10, rate=0.05) is None
    assert fdr_threshold([], tests=0, rate=0.05) is None
    # the candidates alone give the same cutoff as every p-value of the scan
    assert fdr_threshold([0.001, 0.011, 0.012], tests=10, rate=0.05) == 0.012


def _point(minute: int, value: float = 30.0, p: float = 1e-6) -> FlaggedPoint:
    return FlaggedPoint(
        time=T0 + timedelta(minutes=minute), value=value, expected=20.0, p_value=p, half_width=3.0
    )


def test_flagged_points_merge_into_events_across_small_gaps() -> None:
    flagged = [_point(10), _point(12, 40.0, 1e-9), _point(13), _point(30, 10.0), _point(50)]
    events = merge_events(flagged, interval_seconds=60.0, merge_gap=2, min_points=1)
    assert [(e.start, e.end, e.points) for e in events] == [
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=13), 3),
        (T0 + timedelta(minutes=30), T0 + timedelta(minutes=30), 1),
        (T0 + timedelta(minutes=50), T0 + timedelta(minutes=50), 1),
    ]
    first, below, _ = events
    assert (first.peak_value, first.severity, first.level) == (40.0, 90, "critical")
    assert first.direction == "above" and below.direction == "below"
    assert below.breaches[0].threshold_type == "LOWER" and below.breaches[0].threshold_value == 17.0
    assert first.breaches[0].threshold_type == "UPPER" and first.breaches[0].threshold_value == 23.0
    assert len(merge_events(flagged, interval_seconds=60.0, merge_gap=2, min_points=2)) == 1
    assert len(merge_events(flagged, interval_seconds=60.0, merge_gap=0, min_points=1)) == 4


def test_severity_is_ten_points_per_order_of_magnitude() -> None:
    assert [severity_of(p) for p in (1.0, 1e-3, 1e-6, 1e-12, 0.0)] == [0, 30, 60, 100, 100]
    assert [severity_level(s) for s in (0, 19, 20, 40, 60, 80, 100)] == [
        "informational",
        "informational",
        "low",
        "medium",
        "high",
        "critical",
        "critical",
    ]


def test_scan_chunks_cover_the_window_once_each_reading_its_context_before() -> None:
    window = TimeWindow(first=T0, last=T0 + timedelta(hours=10))
    chunks = plan_scan_chunks(window, points=600, chunk_points=250, context=timedelta(minutes=30))
    assert [c.count for c in chunks] == [250, 250, 100]
    assert chunks[0].date_from == T0 and chunks[-1].date_to >= window.last
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.date_to == b.date_from
    assert all(c.date_from - c.context_from == timedelta(minutes=30) for c in chunks)


def test_flat_line_pieces_from_two_chunks_join_and_short_ones_drop() -> None:
    def flat(start: int, end: int, points: int, run: int | None = None, value: float = 5.0) -> QualityIssue:
        detail = {"value": value, **({"run_points": float(run)} if run else {})}
        return QualityIssue(
            kind="flat_line",
            start=T0 + timedelta(minutes=start),
            end=T0 + timedelta(minutes=end),
            points=points,
            detail=detail,
        )

    joined = join_quality_issues(
        [flat(0, 7, 8), flat(7, 12, 6), flat(100, 103, 4), flat(200, 203, 4, run=20)], flat_line_points=10
    )
    assert [(i.start, i.end, i.points) for i in joined] == [
        (T0, T0 + timedelta(minutes=12), 14),
        (T0 + timedelta(minutes=200), T0 + timedelta(minutes=203), 4),  # began in its context
    ]


def test_gaps_between_chunks_and_at_the_window_edges() -> None:
    window = TimeWindow(first=T0, last=T0 + timedelta(minutes=100))
    readings = [
        (T0, T0 + timedelta(minutes=40)),
        (None, None),
        (T0 + timedelta(minutes=50), T0 + timedelta(minutes=70)),
    ]
    gaps = boundary_gaps(readings, window, longest_seconds=240.0, interval_seconds=60.0)
    assert [(g.start, g.end, (g.detail or {}).get("window_edge")) for g in gaps] == [
        (T0 + timedelta(minutes=40), T0 + timedelta(minutes=50), None),
        (T0 + timedelta(minutes=70), window.last + timedelta(milliseconds=1), 1.0),
    ]
    assert gaps[0].detail == {"missing_intervals": 9.0}


def test_failure_tolerance() -> None:
    assert not ScanSettings().too_many_failures(0, 10)
    assert ScanSettings().too_many_failures(1, 10)
    assert not ScanSettings(tolerated_failure_percent=20).too_many_failures(2, 10)
    assert ScanSettings(tolerated_failure_percent=20).too_many_failures(3, 10)


def test_options_become_settings_or_name_the_field() -> None:
    assert ScanOptions(sensitivity="low").settings(horizon=3).false_discovery_rate == 0.01
    assert ScanOptions().settings(horizon=3) == ScanSettings()
    with pytest.raises(ValidationError) as raised:
        ScanOptions(horizon_steps=4).settings(horizon=3)
    assert raised.value.details[0]["field"] == "horizon_steps"
    assert window_problems(None, None, None)[0]["field"] == "date_from"
    assert window_problems(5, T0, None)[0]["field"] == "date_from"
    assert window_problems(None, T0, T0)[0]["field"] == "date_to"
    assert window_problems(5, None, None) == []
