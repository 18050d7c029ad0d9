"""Gap-tolerant serving: the context a forecast runs on follows the training's gap policy, a
longer recent gap degrades the forecast instead of refusing it, and only a context without any
valid point is refused."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from chronos_core.domain.evaluation import ServingChoice
from chronos_core.domain.fiware import forbidden_value_problem
from chronos_core.ml.artifacts import InferenceSpec, PredictionIntervals, scaler_to_bytes
from chronos_core.ml.errors import InsufficientDataError
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.preprocessing import clean_points, regularize
from chronos_core.ml.serving_context import (
    MIN_OBSERVED_SHARE,
    Candidate,
    assemble_context,
    fallback_chain,
)
from chronos_core.ml.transforms import ScalerParams, TransformSpec, seasonal_naive_from_context

from .conftest import constant_network_bytes

T0 = 1_700_000_000.0
STEP = 60.0
LIMIT = 2  # max_interpolated_gap of the models below
L, H, M = 8, 3, 4  # lookback, horizon, season: the seasonal residual network needs L + M = 12 values
BIAS = 0.5


def points_at(slots: Sequence[int]) -> list[tuple[float, float]]:
    """Points on the 60 s grid at ``slots``; the value of slot ``k`` is ``k``."""
    return [(T0 + STEP * k, float(k)) for k in slots]


def seasonal_forecaster(served: ServingChoice = "network") -> Forecaster:
    """A seasonal residual network whose forecast is the seasonal-naive one of its context plus
    ``BIAS``: every forecast shows which context values it used."""
    unit = ScalerParams(features=["value"], mean=[0.0], scale=[1.0], n_samples=10)
    spec = InferenceSpec(
        lookback=L,
        horizon=H,
        interval_seconds=STEP,
        max_interpolated_gap=LIMIT,
        feature="temperature",
        transform=TransformSpec(
            window_normalization="last_value", target_mode="residual_seasonal_naive", season_length=M
        ),
        selected=served,
        intervals=PredictionIntervals(levels=[0.8], half_widths=[[1.0, 1.0, 1.0]]),
    )
    scaler = scaler_to_bytes(unit)
    return Forecaster.from_bytes(constant_network_bytes(L, H, [BIAS] * H), scaler, scaler, spec)


def no_forbidden_characters(reason: str | None) -> bool:
    return reason is not None and forbidden_value_problem(reason) is None


# ------------------------------------------------------------------------- the serving rule


def test_a_complete_latest_run_is_served_as_it_is() -> None:
    forecaster = seasonal_forecaster()
    result = forecaster.forecast_points(points_at(range(forecaster.context_points)))
    assert result.quality.status == "ok" and result.quality.interpolated_points == 0
    assert result.quality.reason is None and result.serving == "network"
    context = np.arange(forecaster.context_points, dtype=float)[-12:]
    expected = seasonal_naive_from_context(context[None, :], H, M)[0] + BIAS
    assert result.values == pytest.approx(expected.tolist())


def test_a_short_recent_gap_is_interpolated_exactly_as_in_training() -> None:
    # Two readings (slots 17, 18) missing in the last season: within the limit of 2.
    forecaster = seasonal_forecaster()
    slots = [k for k in range(20) if k not in (17, 18)]
    raw = [(T0 + STEP * k, float(k * k)) for k in slots]  # not linear: interpolation shows
    result = forecaster.forecast_points(raw)
    assert result.quality.status == "interpolated"
    assert result.quality.interpolated_points == 2 and result.quality.reason is None
    assert result.serving == "network"
    training_grid = regularize(clean_points(raw), STEP, LIMIT)  # the training's own preparation
    assert training_grid.segment_starts.tolist() == [0]
    expected = forecaster.forecast(training_grid.values)
    assert result.values == pytest.approx(expected.tolist())
    # The seasonal-naive part copies slots 16, 17, 18 (16 observed, 17 and 18 interpolated).
    filled = np.interp([17, 18], [16, 19], [256.0, 361.0])
    assert result.values == pytest.approx([256.0 + BIAS, filled[0] + BIAS, filled[1] + BIAS])


def test_a_recent_gap_over_the_limit_is_bridged_and_the_forecast_degraded() -> None:
    # Slots 0..14 observed, 15..19 missing (5 > limit 2), then 20..23: the latest run has 4
    # points, the network needs 12. Bridging keeps 7 of 12 observed (>= half): the network runs.
    forecaster = seasonal_forecaster()
    raw = points_at([*range(15), *range(20, 24)])
    result = forecaster.forecast_points(raw)
    quality = result.quality
    assert result.serving == "network"
    assert quality.status == "degraded" and quality.interpolated_points == 5
    assert quality.reason is not None
    assert "gap of 5 missing points" in quality.reason and "interpolation limit of 2" in quality.reason
    assert "bridged" in quality.reason and no_forbidden_characters(quality.reason)
    window = np.interp(np.arange(12.0, 24.0), [*range(15), *range(20, 24)], [*range(15), *range(20, 24)])
    expected = forecaster.forecast(window)
    assert result.values == pytest.approx(expected.tolist())
    assert result.last_observation.timestamp() == T0 + STEP * 23  # the grid still ends there


def test_a_few_points_after_a_long_gap_fall_back_to_the_seasonal_naive_forecast() -> None:
    # 3 points after a 31-slot gap: the network would see 3 of 12 observed (< half); the
    # seasonal-naive forecast needs 4, bridges one slot and keeps 3 of 4 observed.
    forecaster = seasonal_forecaster()
    raw = points_at([*range(20), *range(51, 54)])
    result = forecaster.forecast_points(raw)
    quality = result.quality
    assert result.serving == "seasonal_naive"
    assert quality.status == "degraded" and quality.interpolated_points == 1
    assert quality.reason is not None and no_forbidden_characters(quality.reason)
    assert quality.reason == (
        "The latest 3 points follow a gap of 31 missing points, over the interpolation limit of 2. "
        "The network needs 12 points of context and bridging the gap would leave only 3 of them "
        "observed. Served the seasonal-naive forecast instead, its 4 points of context bridged by "
        "linear interpolation, 1 of them interpolated."
    )
    bridged_first = np.interp(50.0, [19.0, 51.0], [19.0, 51.0])
    assert result.values == pytest.approx([bridged_first, 51.0, 52.0])  # no network bias
    assert result.intervals["80"].upper == pytest.approx([v + 1.0 for v in result.values])


def test_one_point_after_a_long_gap_falls_back_to_the_last_value() -> None:
    forecaster = seasonal_forecaster()
    result = forecaster.forecast_points(points_at([*range(20), 60]))
    assert result.serving == "last_value" and result.values == [60.0] * H
    quality = result.quality
    assert quality.status == "degraded" and quality.interpolated_points == 0
    assert quality.reason is not None and no_forbidden_characters(quality.reason)
    assert quality.reason.startswith("The latest point follows a gap of 40 missing points")
    assert "The network needs 12" in quality.reason
    assert "The seasonal-naive forecast needs 4" in quality.reason
    assert quality.reason.endswith("Served the last value instead.")


def test_a_short_history_without_gaps_serves_what_can_run_on_it() -> None:
    # Only 6 points exist: nothing to bridge from, the seasonal-naive forecast runs on them.
    forecaster = seasonal_forecaster()
    result = forecaster.forecast_points(points_at(range(6)))
    assert result.serving == "seasonal_naive" and result.quality.status == "degraded"
    assert result.quality.reason is not None and result.quality.reason.startswith("Only 6 points are")
    assert result.values == pytest.approx([2.0, 3.0, 4.0])


def test_a_served_baseline_falls_back_too() -> None:
    forecaster = seasonal_forecaster(served="seasonal_naive")
    assert forecaster.fallback_chain == (Candidate("seasonal_naive", M), Candidate("last_value", 1))
    ok = forecaster.forecast_points(points_at(range(10)))
    assert ok.serving == "seasonal_naive" and ok.quality.status == "ok"
    short = forecaster.forecast_points(points_at([*range(10), 40]))
    assert short.serving == "last_value" and short.quality.status == "degraded"
    served_last = seasonal_forecaster(served="last_value")
    single = served_last.forecast_points(points_at([*range(10), 40]))
    assert single.serving == "last_value" and single.quality.status == "ok" and single.values == [40.0] * H


@pytest.mark.parametrize(
    "raw",
    [
        [],
        [(T0, None), (T0 + STEP, float("nan")), ("not a time", 1.0), (T0 + 2 * STEP, "n/a")],
    ],
)
def test_no_valid_point_is_refused_naming_the_field(raw: list[tuple[object, object]]) -> None:
    with pytest.raises(InsufficientDataError) as raised:
        seasonal_forecaster().forecast_points(raw)
    assert "No valid temperature value" in raised.value.message
    assert raised.value.details == [{"field": "points", "feature": "temperature", "required": 1, "got": 0}]


# ------------------------------------------------------------------------- the pure module


def test_fallback_chains_go_from_the_served_forecaster_to_the_last_value() -> None:
    assert fallback_chain("network", 12, 4) == (
        Candidate("network", 12),
        Candidate("seasonal_naive", 4),
        Candidate("last_value", 1),
    )
    assert fallback_chain("network", 12, 1) == (Candidate("network", 12), Candidate("last_value", 1))
    assert fallback_chain("seasonal_naive", 4, 4) == (
        Candidate("seasonal_naive", 4),
        Candidate("last_value", 1),
    )
    assert fallback_chain("last_value", 1, 4) == (Candidate("last_value", 1),)


def test_bridging_needs_half_the_window_observed_and_never_extrapolates() -> None:
    assert MIN_OBSERVED_SHARE == 0.5
    chain = (Candidate("network", 10), Candidate("last_value", 1))

    def served(slots: Sequence[int]) -> str:
        context = assemble_context(
            clean_points(points_at(slots)), grid=STEP, max_interpolated_gap=LIMIT, candidates=chain
        )
        return context.forecaster

    assert served([*range(10), *range(15, 20)]) == "network"  # window 10..19: 5 of 10 observed
    assert served([*range(10), *range(16, 20)]) == "last_value"  # 4 of 10
    assert served([*range(12, 20)]) == "last_value"  # only 8 slots exist: no extrapolation
    assert served([*range(10, 20)]) == "network"


def test_a_context_holds_exactly_what_the_forecaster_needs() -> None:
    chain = (Candidate("network", 6), Candidate("last_value", 1))
    clean = clean_points(points_at([0, 1, 2, 4, 5, 6, 7]))  # slot 3 interpolated
    context = assemble_context(clean, grid=STEP, max_interpolated_gap=LIMIT, candidates=chain)
    assert context.values.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert context.quality.status == "interpolated" and context.quality.interpolated_points == 1
    assert context.last_time == T0 + 7 * STEP
    with pytest.raises(ValueError, match="one value"):
        assemble_context(clean, grid=STEP, max_interpolated_gap=LIMIT, candidates=chain[:1])
