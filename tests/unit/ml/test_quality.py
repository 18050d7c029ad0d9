"""Quality guarantees: window normalisation, residual targets, the promotion gate, conformal
intervals and season detection. No TensorFlow: networks are exported constant ONNX models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.domain.artifacts import ArtifactMeta, ArtifactRefs, ArtifactType
from chronos_core.ml import inference
from chronos_core.ml.artifacts import InferenceSpec, PredictionIntervals, scaler_to_bytes
from chronos_core.ml.baselines import detect_season, seasonal_naive_forecast
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.conformal import calibrate, coverage, level_key
from chronos_core.ml.errors import InsufficientDataError
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.pipeline import evaluate, points_per_slot
from chronos_core.ml.preprocessing import prepare_dataset
from chronos_core.ml.transforms import (
    ScalerParams,
    TransformSpec,
    decode_outputs,
    encode_targets,
    encode_windows,
    seasonal_naive_from_context,
)

from .conftest import constant_network_bytes

RNG = np.random.default_rng(7)
SCALER = ScalerParams(features=["value"], mean=[3.0], scale=[2.0], n_samples=10)
SPECS = [
    TransformSpec(window_normalization="global", target_mode="direct"),
    TransformSpec(window_normalization="last_value", target_mode="direct"),
    TransformSpec(window_normalization="last_value", target_mode="residual_last_value", season_length=4),
    TransformSpec(window_normalization="last_value", target_mode="residual_seasonal_naive", season_length=4),
]


def _seasonal_points(
    n: int, period: int, noise: float, seed: int = 0, trend: float = 0.0
) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    values = 50.0 + 5.0 * np.sin(2 * np.pi * k / period) + trend * k + noise * rng.standard_normal(n)
    return list(zip((1_700_000_000.0 + 300.0 * k).tolist(), values.tolist(), strict=True))


# ------------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.target_mode + "/" + s.window_normalization)
def test_encoding_round_trips_in_every_mode(spec: TransformSpec) -> None:
    lookback, horizon = 6, 5
    contexts = RNG.normal(10.0, 3.0, (20, spec.context_length(lookback)))
    targets = RNG.normal(10.0, 3.0, (20, horizon))
    x = encode_windows(contexts, SCALER, spec)
    assert x.shape == (20, lookback, 1)
    y = encode_targets(targets, contexts, SCALER, spec)
    assert np.allclose(decode_outputs(y, contexts, SCALER, spec), targets, atol=1e-5)


@pytest.mark.parametrize("spec", SPECS[1:], ids=lambda s: s.target_mode)
def test_relative_modes_are_level_invariant(spec: TransformSpec) -> None:
    # A level far outside the training range leaves the network inputs unchanged and shifts the
    # decoded forecast by exactly that level: the network never leaves its domain.
    contexts = RNG.normal(10.0, 3.0, (4, spec.context_length(6)))
    outputs = RNG.normal(0.0, 1.0, (4, 3))
    shift = 1e4
    assert np.allclose(encode_windows(contexts + shift, SCALER, spec), encode_windows(contexts, SCALER, spec))
    moved = decode_outputs(outputs, contexts + shift, SCALER, spec)
    assert np.allclose(moved - decode_outputs(outputs, contexts, SCALER, spec), shift)


def test_global_normalisation_is_not_level_invariant() -> None:
    spec = SPECS[0]
    contexts = RNG.normal(10.0, 3.0, (2, 6))
    assert not np.allclose(
        encode_windows(contexts + 100, SCALER, spec), encode_windows(contexts, SCALER, spec)
    )


def test_default_config_uses_relative_inputs_and_auto_residual_mode() -> None:
    config = TrainingConfig()
    assert config.window_normalization == "last_value"
    assert config.target_mode == "auto"
    assert config.interval_levels == [0.8, 0.95]


# ------------------------------------------------------------------------------- residual mode


def test_seasonal_naive_from_context_matches_the_series_baseline() -> None:
    values = np.arange(100, dtype=np.float64) ** 1.5
    starts = np.array([40, 57, 90], dtype=np.int64)
    m, horizon = 7, 10  # H > m: steps beyond one season reach back two seasons
    expected = seasonal_naive_forecast(values, starts, horizon, m, np.zeros(3, dtype=np.int64))
    contexts = np.stack([values[s - 12 : s] for s in starts])
    assert np.array_equal(seasonal_naive_from_context(contexts, horizon, m), expected)


def test_a_zero_output_decodes_to_the_baseline_in_residual_modes() -> None:
    contexts = RNG.normal(10.0, 3.0, (5, 10))
    zero = np.zeros((5, 3))
    lv = TransformSpec(window_normalization="last_value", target_mode="residual_last_value")
    assert np.allclose(decode_outputs(zero, contexts, SCALER, lv), contexts[:, -1:])
    sn = TransformSpec(target_mode="residual_seasonal_naive", season_length=4)
    diffs = ScalerParams(
        features=["value"], mean=[0.0], scale=[2.0], n_samples=10, applies_to="seasonal_differences"
    )
    assert np.allclose(decode_outputs(zero, contexts, diffs, sn), seasonal_naive_from_context(contexts, 3, 4))
    # with a training drift mu per season, a zero output is "seasonal naive + drift"
    drift = diffs.model_copy(update={"mean": [0.5]})
    assert np.allclose(
        decode_outputs(zero, contexts, drift, sn), seasonal_naive_from_context(contexts, 3, 4) + 0.5
    )


def test_auto_mode_picks_the_residual_over_the_better_baseline() -> None:
    seasonal = prepare_dataset(
        _seasonal_points(1500, 24, 0.2), TrainingConfig(lookback_window=12, forecast_horizon=6)
    )
    assert seasonal.season_length == 24
    assert seasonal.transform.target_mode == "residual_seasonal_naive"
    assert seasonal.context_length == 12 + 24
    assert seasonal.x_scaler.applies_to == "seasonal_differences"
    assert seasonal.raw_inputs(seasonal.test_starts[:3]).shape == (3, 36)
    walk = np.cumsum(np.random.default_rng(1).standard_normal(1500))
    points = list(zip((300.0 * np.arange(1500)).tolist(), walk.tolist(), strict=True))
    plain = prepare_dataset(points, TrainingConfig(lookback_window=12, forecast_horizon=6))
    assert plain.season_length == 1
    assert plain.transform.target_mode == "residual_last_value"
    assert plain.context_length == 12


def test_explicit_seasonal_mode_with_too_little_data_fails_clearly() -> None:
    config = TrainingConfig(
        lookback_window=12, forecast_horizon=2, target_mode="residual_seasonal_naive", season_length=300
    )
    with pytest.raises(InsufficientDataError):
        prepare_dataset(_seasonal_points(400, 24, 0.1), config)


# ------------------------------------------------------------------------------- gate


def _useless_forecaster(prepared, bias: float) -> Forecaster:  # type: ignore[no-untyped-def]
    config = prepared.config
    spec = InferenceSpec(
        lookback=config.lookback_window,
        horizon=config.forecast_horizon,
        interval_seconds=prepared.series.interval,
        max_interpolated_gap=config.max_interpolated_gap,
        feature="value",
        transform=prepared.transform,
    )
    network = constant_network_bytes(
        config.lookback_window, config.forecast_horizon, [bias] * config.forecast_horizon
    )
    scaler = scaler_to_bytes(prepared.x_scaler)
    return Forecaster.from_bytes(network, scaler, scaler, spec)


def test_a_useless_network_is_not_served_and_the_baseline_keeps_its_intervals() -> None:
    config = TrainingConfig(lookback_window=12, forecast_horizon=6)
    prepared = prepare_dataset(_seasonal_points(1500, 24, 0.3), config)
    useless = _useless_forecaster(prepared, bias=25.0)  # 25 scale units off at every step
    evaluation = evaluate(prepared, useless)
    selection = evaluation.selection
    assert selection.serving == "seasonal_naive"
    assert not selection.network_beats_baselines
    scores = selection.validation_scores
    assert scores["network"].mae is not None and scores["seasonal_naive"].mae is not None
    assert scores["network"].mae > scores["seasonal_naive"].mae
    assert selection.test_metrics == evaluation.baselines.seasonal_naive  # served = baseline
    assert set(selection.test_coverage) == {"80", "95"}
    assert len(selection.intervals.half_widths[1]) == 6

    # Stored with the gate's decision, the forecaster serves the baseline (no network call).
    spec = useless.spec.model_copy(update={"selected": selection.serving, "intervals": selection.intervals})
    served = Forecaster(None, spec, useless.x_scaler, useless.y_scaler)  # no ONNX session at all
    assert served.context_length == 24 and served.context_points >= 26
    tail = prepared.series.values[-30:]
    result = served.forecast(tail)
    assert np.allclose(result, seasonal_naive_from_context(tail[None, :], 6, 24)[0])
    # A sensor that reported three readings per grid slot in training: fetch three times as many.
    dense = Forecaster(
        None, spec.model_copy(update={"points_per_slot": 3.0}), useless.x_scaler, useless.y_scaler
    )
    assert dense.context_points >= 3 * served.context_length


def test_the_fetch_for_a_forecast_covers_the_context_when_readings_share_slots() -> None:
    """Duplicated or faster-than-grid readings average into fewer grid points: the number of
    readings fetched scales by the training data's readings per slot, so the context is whole."""
    base = 1_700_000_000.0
    points = [(base + 60.0 * (i // 3), float(i // 3)) for i in range(3 * 400)]  # each minute 3 times
    prepared = prepare_dataset(points, TrainingConfig(lookback_window=48, forecast_horizon=4))
    assert points_per_slot(prepared.quality) == pytest.approx(3.0)
    assert points_per_slot(prepared.quality.model_copy(update={"observed_points": 0})) == 1.0


def test_a_good_network_is_served() -> None:
    # A zero-output network in seasonal residual mode *is* seasonal naive + drift; with pure
    # seasonal data and a trend it beats both baselines and is served.
    config = TrainingConfig(lookback_window=12, forecast_horizon=6)
    prepared = prepare_dataset(_seasonal_points(1500, 24, 0.05, trend=0.02), config)
    assert prepared.transform.target_mode == "residual_seasonal_naive"
    evaluation = evaluate(prepared, _useless_forecaster(prepared, bias=0.0))
    assert evaluation.selection.serving == "network"


# ------------------------------------------------------------------------------- intervals


def test_conformal_intervals_cover_as_promised_on_known_noise() -> None:
    rng = np.random.default_rng(3)
    sigma, horizon = 2.0, 4
    truth_cal = rng.normal(0, 1, (3000, horizon))
    cal = truth_cal + rng.normal(0, sigma, truth_cal.shape)
    intervals = calibrate(cal, truth_cal, [0.8, 0.95])
    z = {0.8: 1.2816, 0.95: 1.96}
    for level, widths in zip(intervals.levels, intervals.half_widths, strict=True):
        assert widths == sorted(widths)  # non-decreasing over the horizon
        assert np.allclose(widths, z[level] * sigma, rtol=0.08)
    truth = rng.normal(0, 1, (5000, horizon))
    observed = truth + rng.normal(0, sigma, truth.shape)
    overall, per_step = coverage(observed, truth, intervals)
    assert overall["80"] == pytest.approx(0.80, abs=0.02)
    assert overall["95"] == pytest.approx(0.95, abs=0.015)
    assert len(per_step["95"]) == horizon


def test_conformal_quantile_is_the_finite_sample_rank_and_saturates_when_too_few() -> None:
    y = np.arange(1.0, 10.0)[:, None]  # residuals 1..9 against a zero forecast
    intervals = calibrate(y, np.zeros_like(y), [0.8, 0.95])
    assert intervals.half_widths[0] == [8.0]  # ceil(10 * 0.8) = 8th smallest
    assert intervals.half_widths[1] == [9.0]  # ceil(10 * 0.95) = 10 > 9: the largest
    assert intervals.saturated == [False, True]
    assert level_key(0.8) == "80" and level_key(0.995) == "99.5"


def test_forecast_points_returns_serving_and_interval_bands() -> None:
    lookback, horizon = 8, 3
    scaler = ScalerParams(features=["value"], mean=[0.0], scale=[1.0], n_samples=5)
    spec = InferenceSpec(
        lookback=lookback,
        horizon=horizon,
        interval_seconds=60.0,
        max_interpolated_gap=2,
        feature="value",
        transform=TransformSpec(window_normalization="last_value", target_mode="residual_last_value"),
        selected="last_value",
        intervals=PredictionIntervals(levels=[0.8, 0.95], half_widths=[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]),
    )
    forecaster = Forecaster.from_bytes(
        constant_network_bytes(lookback, horizon, [9.0] * horizon),
        scaler_to_bytes(scaler),
        scaler_to_bytes(scaler),
        spec,
    )
    points = [(1_700_000_000.0 + 60.0 * i, float(i)) for i in range(forecaster.context_points)]
    result = forecaster.forecast_points(points)
    last = float(forecaster.context_points - 1)
    assert result.serving == "last_value"
    assert result.values == [last] * 3  # the baseline, not the network's +9
    assert result.intervals["80"].lower == [last - 1, last - 2, last - 3]
    assert result.intervals["95"].upper == [last + 2, last + 4, last + 6]
    dumped = json.loads(result.model_dump_json())
    assert dumped["intervals"]["95"] == {
        "lower": [last - 2, last - 4, last - 6],
        "upper": [last + 2, last + 4, last + 6],
    }


def test_a_served_seasonal_naive_model_loads_without_tensorflow_and_needs_a_season_of_context() -> None:
    store = InMemoryArtifactStore()
    lookback, horizon, season = 4, 3, 10
    scaler = scaler_to_bytes(ScalerParams(features=["value"], mean=[0.0], scale=[1.0], n_samples=5))
    spec = InferenceSpec(
        lookback=lookback,
        horizon=horizon,
        interval_seconds=60.0,
        max_interpolated_gap=2,
        feature="value",
        transform=TransformSpec(
            window_normalization="last_value", target_mode="residual_last_value", season_length=season
        ),
        selected="seasonal_naive",
        intervals=PredictionIntervals(levels=[0.95], half_widths=[[1.0, 1.0, 1.0]]),
    )
    metadata = json.dumps({"schema_version": 1, "inference": spec.model_dump(mode="json")}).encode()

    def put(data: bytes, kind: ArtifactType) -> str:
        return store.put(data, ArtifactMeta.for_bytes(data, kind, "m", "j"))

    refs = ArtifactRefs(
        model=put(b"keras", ArtifactType.MODEL),
        inference=put(constant_network_bytes(lookback, horizon, [0.0] * horizon), ArtifactType.INFERENCE),
        x_scaler=put(scaler, ArtifactType.X_SCALER),
        y_scaler=put(scaler, ArtifactType.Y_SCALER),
        metadata=put(metadata, ArtifactType.METADATA),
    )
    forecaster = inference.load_forecaster(store, refs)
    assert forecaster.serving == "seasonal_naive" and forecaster.context_length == season
    base = 1_700_000_000.0
    points = [(base + 60.0 * i, float(i % season)) for i in range(forecaster.context_points)]
    result = forecaster.forecast_points(points)
    nxt = len(points) % season
    assert result.values == [float((nxt + k) % season) for k in range(horizon)]
    assert result.intervals["95"].upper == [v + 1.0 for v in result.values]
    assert result.quality.status == "ok"
    # Fewer points than a season (and nothing before them to bridge from): issue 13 serves the
    # last value, marked degraded, where this used to refuse.
    short = forecaster.forecast_points(points[-(season - 1) :])
    assert short.serving == "last_value" and short.values == [points[-1][1]] * horizon
    assert short.quality.status == "degraded" and short.quality.reason is not None
    assert "The seasonal-naive forecast needs 10 points of context" in short.quality.reason


# ------------------------------------------------------------------------------- seasons


@pytest.mark.parametrize(
    ("period", "cycles", "trend"),
    [
        (288, 12, 0.0),  # 5-minute data, daily season
        (96, 30, 0.001),  # 15-minute data, daily season, slight drift
        (24, 60, 0.0),  # hourly data, daily season
        (168, 10, 0.0),  # hourly data, weekly season
        (12, 30, 0.05),  # monthly data, yearly season, strong trend
        (52, 30, 0.05),  # weekly data, yearly season, trend dominating the variance (CO2-like)
    ],
)
def test_detect_season_from_sub_hourly_to_monthly(period: int, cycles: int, trend: float) -> None:
    # A sensor-like profile: a smooth cycle plus a sharp daily event (a pure sinusoid's peak is so
    # flat that a long season is only found to within a step, which is harmless).
    rng = np.random.default_rng(period)
    k = np.arange(period * cycles)
    phase = k % period
    event = np.exp(-0.5 * ((phase - period / 3) / (period / 25)) ** 2)
    x = np.sin(2 * np.pi * k / period) + event + 0.3 * rng.standard_normal(k.size) + trend * k
    assert detect_season(x) == period


def test_season_override_wins_over_detection() -> None:
    config = TrainingConfig(lookback_window=12, forecast_horizon=3, season_length=7)
    data = prepare_dataset(_seasonal_points(1000, 24, 0.1), config)
    assert data.season_length == 7 and not data.season_detected
    assert data.transform.season_length == 7
    assert math.isclose(detect_season(np.ones(50)), 1)
