"""Scoring with the served forecaster: calibrated p-values, the false-discovery control on
series with no anomaly, spikes and level shifts found, the horizon-consistency rule, the
Gaussian fallback, and the data-quality checks."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from chronos_core.domain.anomaly import ScanSettings, fdr_threshold
from chronos_core.domain.errors import ValidationError
from chronos_core.ml.anomaly import Calibration, StepCalibration, quality_findings
from tests.support.anomaly import INTERVAL, LEVEL, level_forecaster, level_scorer, noisy_series, with_spikes

# the reading out of order repeats the timestamp of an earlier one: a second duplicate
KINDS = ["duplicate_timestamps", "duplicate_timestamps", "flat_line", "gap", "out_of_order"]


def _flagged(points, *, rate: float = 0.05, steps: int = 1, **options) -> list:  # type: ignore[no-untyped-def]
    scorer = level_scorer(steps=steps, **options)
    scores = scorer.score(points, score_from=points[0][0], settings=ScanSettings(false_discovery_rate=rate))
    cutoff = fdr_threshold([c.p_value for c in scores.candidates], scores.points_scored, rate)
    return [] if cutoff is None else [c for c in scores.candidates if c.p_value <= cutoff]


def test_calibrated_p_values_are_uniform_under_the_null() -> None:
    calibration = StepCalibration.from_residuals(np.abs(np.random.default_rng(1).standard_normal(2000)))
    p = calibration.p_values(np.abs(np.random.default_rng(2).standard_normal(20_000)))
    for level in (0.01, 0.05, 0.2, 0.5):
        assert np.mean(p <= level) == pytest.approx(level, abs=0.25 * level + 0.003)
    assert np.all(np.diff(calibration.p_values(np.linspace(0, 20, 200))) <= 0)  # non-increasing
    assert calibration.p_values(np.array([50.0]))[0] > 0  # no bound in the tail


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.10])
def test_on_series_without_anomalies_the_flag_rate_stays_at_or_below_the_rate(rate: float) -> None:
    # On a clean series every flag is false, so the false-discovery rate is the chance that a
    # scan flags anything at all: over 30 scans, at most about ``rate`` of them may.
    flagged_scans = sum(1 for seed in range(30) if _flagged(noisy_series(1500, seed=seed), rate=rate))
    assert flagged_scans / 30 <= rate + 0.07


def test_spikes_and_a_level_shift_are_found() -> None:
    points = with_spikes(noisy_series(3000, seed=5), [500, 1800], size=8.0)
    points = points[:2500] + [(t, v - 7.0) for t, v in points[2500:2530]] + points[2530:]
    found = {c.time for c in _flagged(points)}
    assert {points[500][0], points[1800][0]} <= found
    assert sum(1 for i in range(2500, 2530) if points[i][0] in found) >= 25
    false = [t for t in found if t not in {points[i][0] for i in [500, 1800, *range(2500, 2530)]}]
    assert len(false) <= 2


def test_a_spike_is_flagged_but_not_its_echo_with_several_steps() -> None:
    points = with_spikes(noisy_series(800, seed=9), [400], size=10.0)
    flagged = _flagged(points, steps=2)
    assert [c.time for c in flagged] == [points[400][0]]


def test_artifacts_without_residuals_fall_back_on_the_interval_widths() -> None:
    scorer = level_scorer(with_residuals=False)
    assert scorer.calibration_source == "interval_widths"
    points = with_spikes(noisy_series(1000, seed=2), [600], size=9.0)
    assert [c.time for c in _flagged(points, with_residuals=False)] == [points[600][0]]


def test_a_forecaster_without_intervals_cannot_score() -> None:
    spec = level_forecaster().spec.model_copy(update={"intervals": None})
    with pytest.raises(ValidationError) as raised:
        Calibration.of(spec, 1)
    assert raised.value.details[0]["field"] == "job_id"


def test_quality_checks_find_gaps_flat_lines_duplicates_and_disorder() -> None:
    points = noisy_series(300, seed=4)
    points = points[:100] + points[110:]  # a gap of 11 intervals
    stuck = points[150][0]
    points = (
        points[:150] + [(stuck + timedelta(seconds=INTERVAL * i), LEVEL) for i in range(15)] + points[165:]
    )
    points.insert(200, points[199])  # a duplicate timestamp
    points.insert(250, (points[240][0], 1.0))  # out of order
    report = quality_findings(
        points,
        score_from=points[0][0].timestamp(),
        interval_seconds=INTERVAL,
        gap_intervals=4,
        flat_points=12,
    )
    kinds = sorted(i.kind for i in report.issues)
    assert kinds == KINDS
    gap = next(i for i in report.issues if i.kind == "gap")
    assert gap.start == points[99][0] and (gap.detail or {})["missing_intervals"] == pytest.approx(10.0)
    flat = next(i for i in report.issues if i.kind == "flat_line")
    assert flat.points == 15 and flat.start == stuck
