"""The blend candidate: fitted weight, served through the TensorFlow-free forecast path, and old
artifacts (no blend fields) still loading and serving."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.domain.artifacts import ArtifactMeta, ArtifactRefs, ArtifactType
from chronos_core.domain.evaluation import Blend
from chronos_core.ml import inference
from chronos_core.ml.artifacts import InferenceSpec, PredictionIntervals, scaler_to_bytes
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.gate import cross_fitted_blend, fit_blend_weight
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.pipeline import candidate_forecasts
from chronos_core.ml.preprocessing import prepare_dataset
from chronos_core.ml.transforms import ScalerParams, TransformSpec, seasonal_naive_from_context

from .conftest import constant_network_bytes

SCALER = ScalerParams(features=["value"], mean=[0.0], scale=[1.0], n_samples=5)


def _spec(lookback: int, horizon: int, season: int, **update: object) -> InferenceSpec:
    spec = InferenceSpec(
        lookback=lookback,
        horizon=horizon,
        interval_seconds=60.0,
        max_interpolated_gap=2,
        feature="value",
        transform=TransformSpec(
            window_normalization="last_value", target_mode="residual_last_value", season_length=season
        ),
    )
    return spec.model_copy(update=update)


def _store(
    spec_json: dict, lookback: int, horizon: int, bias: float
) -> tuple[InMemoryArtifactStore, ArtifactRefs]:  # type: ignore[type-arg]
    store = InMemoryArtifactStore()
    scaler = scaler_to_bytes(SCALER)
    metadata = json.dumps({"schema_version": 1, "inference": spec_json}).encode()

    def put(data: bytes, kind: ArtifactType) -> str:
        return store.put(data, ArtifactMeta.for_bytes(data, kind, "m", "j"))

    refs = ArtifactRefs(
        model=put(b"keras", ArtifactType.MODEL),
        inference=put(constant_network_bytes(lookback, horizon, [bias] * horizon), ArtifactType.INFERENCE),
        x_scaler=put(scaler, ArtifactType.X_SCALER),
        y_scaler=put(scaler, ArtifactType.Y_SCALER),
        metadata=put(metadata, ArtifactType.METADATA),
    )
    return store, refs


def test_blend_weight_lies_in_the_unit_interval_and_finds_the_optimum() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, (300, 4))
    mask = np.ones(y.shape, np.bool_)
    # errors of opposite sign and equal size: the average is exact
    e = rng.normal(0, 1, y.shape)
    assert fit_blend_weight(y, y + e, y - e, mask) == pytest.approx(0.5)
    assert fit_blend_weight(y, y, y + e, mask) == 1.0  # a perfect network
    assert fit_blend_weight(y, y + e, y, mask) == 0.0  # a perfect baseline
    w = fit_blend_weight(y, y + 2 * e + rng.normal(0, 1, y.shape), y - e, mask)
    assert 0.0 <= w <= 1.0
    crossed = cross_fitted_blend(y, y + e, y - e, mask)
    assert np.allclose(crossed, y)  # both halves fit 0.5


@pytest.mark.parametrize(("lookback", "season"), [(4, 10), (12, 5)])
def test_a_blend_is_served_with_the_longer_context_of_its_parts(lookback: int, season: int) -> None:
    horizon, weight, bias = 3, 0.25, 9.0
    spec = _spec(
        lookback,
        horizon,
        season,
        selected="blend",
        blend=Blend(baseline="seasonal_naive", network_weight=weight),
    )
    store, refs = _store(spec.model_dump(mode="json"), lookback, horizon, bias)
    forecaster = inference.load_forecaster(store, refs)
    assert forecaster.serving == "blend"
    assert forecaster.context_length == max(lookback, season)
    context = np.sin(np.arange(40, dtype=np.float64))
    served = forecaster.forecast(context)
    network = context[-1] + bias  # residual over the last value, scale 1
    seasonal = seasonal_naive_from_context(context[None, -season:], horizon, season)[0]
    assert np.allclose(served, weight * network + (1 - weight) * seasonal)
    # raw points: the context is the blend's, and the timestamps follow the grid
    points = [(1_700_000_000.0 + 60.0 * i, float(v)) for i, v in enumerate(context)]
    result = forecaster.forecast_points(points[-forecaster.context_points :])
    assert result.serving == "blend" and np.allclose(result.values, served)


def test_a_blend_with_the_last_value_needs_only_the_network_context() -> None:
    spec = _spec(6, 2, 24, selected="blend", blend=Blend(baseline="last_value", network_weight=0.5))
    forecaster = Forecaster.from_bytes(
        constant_network_bytes(6, 2, [2.0, 4.0]), scaler_to_bytes(SCALER), scaler_to_bytes(SCALER), spec
    )
    assert forecaster.context_length == 6
    assert forecaster.forecast([1.0] * 6).tolist() == pytest.approx([2.0, 3.0])  # (3 + 1) / 2, (5 + 1) / 2


def test_a_blend_without_weights_is_rejected() -> None:
    document = {**_spec(4, 2, 3).model_dump(mode="json"), "selected": "blend"}
    with pytest.raises(ValidationError, match="blend"):
        InferenceSpec.model_validate(document)
    assert InferenceSpec.model_validate(
        {**document, "blend": {"baseline": "last_value", "network_weight": 0.5}}
    ).blend == Blend(baseline="last_value", network_weight=0.5)
    with pytest.raises(ValidationError):
        Blend(baseline="last_value", network_weight=1.5)


def test_old_metadata_without_blend_or_pooling_fields_still_serves() -> None:
    # The inference section as jobs wrote it before blends and pooled intervals existed.
    old = {
        "format": "onnx",
        "input_name": "x",
        "output_name": "y",
        "lookback": 4,
        "horizon": 2,
        "n_features": 1,
        "interval_seconds": 60.0,
        "max_interpolated_gap": 2,
        "feature": "value",
        "transform": {
            "window_normalization": "last_value",
            "target_mode": "residual_last_value",
            "season_length": 3,
        },
        "selected": "network",
        "intervals": {
            "method": "split_conformal",
            "split": "validation",
            "levels": [0.8, 0.95],
            "half_widths": [[1.0, 1.5], [2.0, 3.0]],
            "calibration_counts": [30, 30],
            "saturated": [False, False],
        },
    }
    store, refs = _store(old, 4, 2, 1.0)
    forecaster = inference.load_forecaster(store, refs)
    assert forecaster.spec.blend is None and forecaster.serving == "network"
    assert forecaster.context_length == 4
    result = forecaster.forecast_points(
        [(1_700_000_000.0 + 60.0 * i, 5.0) for i in range(forecaster.context_points)]
    )
    assert result.values == pytest.approx([6.0, 6.0])
    assert result.intervals["95"].upper == pytest.approx([8.0, 9.0])
    assert (
        isinstance(forecaster.spec.intervals, PredictionIntervals)
        and forecaster.spec.intervals.pooled_radius == []
    )


def test_the_served_blend_reproduces_the_evaluated_blend_on_real_windows() -> None:
    rng = np.random.default_rng(4)
    k = np.arange(1200)
    values = 20 + 3 * np.sin(2 * np.pi * k / 24) + 0.02 * k + 0.3 * rng.standard_normal(k.size)
    points = list(zip((1_700_000_000.0 + 300.0 * k).tolist(), values.tolist(), strict=True))
    prepared = prepare_dataset(points, TrainingConfig(lookback_window=12, forecast_horizon=6))
    assert prepared.season_length == 24
    config = prepared.config
    spec = InferenceSpec(
        lookback=config.lookback_window,
        horizon=config.forecast_horizon,
        interval_seconds=prepared.series.interval,
        max_interpolated_gap=config.max_interpolated_gap,
        feature="value",
        transform=prepared.transform,
    )
    scaler = scaler_to_bytes(prepared.x_scaler)
    network = Forecaster.from_bytes(constant_network_bytes(12, 6, [0.3] * 6), scaler, scaler, spec)
    starts = prepared.test_starts
    preds = candidate_forecasts(prepared, network, starts)
    blend = Blend(baseline="seasonal_naive", network_weight=0.4)
    served = Forecaster(
        network._session,
        spec.model_copy(update={"selected": "blend", "blend": blend}),
        network.x_scaler,
        network.y_scaler,
    )
    expected = 0.4 * preds["network"] + 0.6 * preds["seasonal_naive"]
    assert np.allclose(served.forecast_windows(prepared.raw_inputs(starts)), expected)
