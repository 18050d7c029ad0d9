"""The live metrics as pure functions: live accuracy of published forecasts, the drift tests,
the relative normalisation, and crossing probabilities from conformal bands."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from chronos_core.domain.forecasting import ForecastPoint
from chronos_core.domain.live_metrics import (
    PublishedForecast,
    crossing_probabilities,
    exceedance_probability,
    ks_two_sample,
    population_stability_index,
    relative_values,
    score_forecasts,
)
from tests.support.builders import T0

HOUR = timedelta(hours=1)


def forecast(
    start_step: int = 0, values: tuple[float, ...] = (10.0, 12.0), width: float = 1.0
) -> PublishedForecast:
    origin = T0 + start_step * HOUR
    return PublishedForecast(
        job_id="job-1",
        generated_at=origin,
        interval_seconds=3600,
        points=[
            ForecastPoint(
                step=i + 1,
                value=v,
                target_timestamp=origin + (i + 1) * HOUR,
                lower={"80": v - width, "95": v - 2 * width},
                upper={"80": v + width, "95": v + 2 * width},
            )
            for i, v in enumerate(values)
        ],
    )


# ------------------------------------------------------------------------------- accuracy


def test_targets_are_scored_against_the_nearest_actual_within_half_an_interval() -> None:
    actuals = [(T0 + HOUR + timedelta(minutes=10), 11.0), (T0 + 2 * HOUR - timedelta(minutes=40), 99.0)]
    score = score_forecasts([forecast()], actuals, now=T0 + 5 * HOUR)
    assert score.scored == 1 and score.due_unscored == 1 and score.not_due == 0
    assert score.mae == pytest.approx(1.0) and score.bias == pytest.approx(-1.0)
    assert score.coverage == {"80": 1.0, "95": 1.0}
    assert [(s.step, s.scored) for s in score.per_step] == [(1, 1)]


def test_targets_in_the_future_are_awaiting_not_missing() -> None:
    score = score_forecasts([forecast()], [], now=T0 + timedelta(minutes=30))
    assert (score.scored, score.due_unscored, score.not_due) == (0, 0, 2)
    assert score.mae is None


def test_mae_bias_and_coverage_per_step_over_several_forecasts() -> None:
    forecasts = [forecast(0, (10.0, 10.0)), forecast(1, (10.0, 10.0))]
    actuals = [(T0 + k * HOUR, value) for k, value in [(1, 10.5), (2, 13.0), (3, 7.0)]]
    score = score_forecasts(forecasts, actuals, now=T0 + 10 * HOUR)
    # pairs: f0 s1 10 vs 10.5, f0 s2 10 vs 13, f1 s1 10 vs 13, f1 s2 10 vs 7
    assert score.scored == 4 and score.forecasts == 2
    assert score.mae == pytest.approx((0.5 + 3 + 3 + 3) / 4)
    assert score.bias == pytest.approx((-0.5 - 3 - 3 + 3) / 4)
    assert score.coverage["80"] == pytest.approx(0.25)  # only |err| <= 1
    assert score.coverage["95"] == pytest.approx(0.25)  # |err| <= 2
    step_two = score_forecasts(forecasts, actuals, now=T0 + 10 * HOUR, steps=[2])
    assert step_two.scored == 2 and step_two.mae == pytest.approx(3.0)


def test_missing_and_non_numeric_actuals_do_not_score() -> None:
    score = score_forecasts(
        [forecast()], [(T0 + HOUR, None), (T0 + 2 * HOUR, float("nan"))], now=T0 + 9 * HOUR
    )
    assert score.scored == 0 and score.due_unscored == 2


# ---------------------------------------------------------------------------------- drift


def test_relative_values_are_each_window_minus_its_last_value() -> None:
    assert relative_values([1, 2, 3, 10, 20, 30], 3) == [-2, -1, -20, -10]
    assert relative_values([5, 1, 2, 3], 3) == [-2, -1]  # the oldest partial window is left out
    with pytest.raises(ValueError):
        relative_values([1, 2], 1)


def test_ks_matches_the_textbook_statistic_and_detects_a_shift() -> None:
    d, p = ks_two_sample([1, 2, 3, 4], [3, 4, 5, 6])
    assert d == pytest.approx(0.5)
    assert 0.3 < p < 0.9
    rng = random.Random(7)
    reference = [rng.gauss(0, 1) for _ in range(1000)]
    same = [rng.gauss(0, 1) for _ in range(60)]
    shifted = [rng.gauss(1.0, 1) for _ in range(60)]
    assert ks_two_sample(reference, same)[1] > 0.05
    statistic, p_shift = ks_two_sample(reference, shifted)
    assert p_shift < 1e-4 and statistic > 0.3
    assert ks_two_sample(reference, reference) == (0.0, 1.0)
    with pytest.raises(ValueError):
        ks_two_sample([], [1.0])


def test_ks_p_value_is_close_to_scipys_asymptotic_one() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(3)
    a = [rng.gauss(0, 1) for _ in range(500)]
    for shift in (0.0, 0.3, 0.6):
        b = [rng.gauss(shift, 1) for _ in range(80)]
        ours = ks_two_sample(a, b)
        theirs = scipy_stats.ks_2samp(a, b, method="asymp")
        assert ours[0] == pytest.approx(theirs.statistic)
        assert ours[1] == pytest.approx(theirs.pvalue, abs=0.02)


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = random.Random(11)
    reference = [rng.gauss(0, 1) for _ in range(2000)]
    assert population_stability_index(reference, [rng.gauss(0, 1) for _ in range(500)]) < 0.05
    assert population_stability_index(reference, [rng.gauss(1.5, 1) for _ in range(500)]) > 1.0
    with pytest.raises(ValueError):
        population_stability_index(reference, [])


# --------------------------------------------------------------------- crossing probability


def test_exceedance_follows_the_band_quantiles() -> None:
    lower, upper = {"80": 8.0, "95": 7.0}, {"80": 12.0, "95": 13.0}
    assert exceedance_probability(10, lower, upper, 10, "above") == pytest.approx(0.5)
    assert exceedance_probability(10, lower, upper, 12, "above") == pytest.approx(0.10)
    assert exceedance_probability(10, lower, upper, 13, "above") == pytest.approx(0.025)
    assert exceedance_probability(10, lower, upper, 8, "below") == pytest.approx(0.10)
    beyond = exceedance_probability(10, lower, upper, 15, "above")
    assert 0 < beyond < 0.025  # an exponential tail, never exactly zero
    assert exceedance_probability(10, lower, upper, 11, "above") == pytest.approx(0.30)


def test_without_bands_the_forecast_is_taken_as_certain() -> None:
    assert exceedance_probability(10, {}, {}, 9, "above") == 1.0
    assert exceedance_probability(10, {}, {}, 11, "above") == 0.0


def test_crossing_within_the_horizon_reports_the_first_step_and_lead_time() -> None:
    rising = forecast(values=(8.0, 10.0, 12.0, 14.0), width=1.0)
    result = crossing_probabilities(rising.points, 12.5, "above", 0.5, rising.generated_at)
    assert result.probabilities[0] < 0.01 and result.probabilities[-1] > 0.9
    assert result.probability == max(result.probabilities)
    assert result.first_step == 4 and result.lead_time_seconds == 4 * 3600
    assert result.crossing_at == T0 + 4 * HOUR
    assert result.probability_independent >= result.probability
    short = crossing_probabilities(rising.points, 12.5, "above", 0.5, rising.generated_at, horizon_steps=2)
    assert short.first_step is None and short.probability < 0.05
