"""Exported ONNX model vs Keras: same outputs within 1e-4 (scaled units)."""

from __future__ import annotations

import numpy as np
import pytest

from chronos_core.ml.artifacts import InferenceSpec
from chronos_core.ml.config import DenseLayerConfig, RnnLayerConfig, TrainingConfig
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.network import NetworkSpec
from chronos_core.ml.onnx_export import export_onnx
from chronos_core.ml.transforms import ScalerParams, TransformSpec

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import tensorflow  # noqa: E402,F401  (the suite requires requirements-ml.txt; a missing TensorFlow must fail)

from chronos_core.ml.fitting import build_keras_model, keras_predictor  # noqa: E402

TOLERANCE = 1e-4
_SCALER = ScalerParams(features=["value"], mean=[0.0], scale=[1.0], n_samples=1).model_dump_json().encode()

CASES = {
    "lstm-single": TrainingConfig(
        model_type="lstm", rnn_layers=[RnnLayerConfig(units=32)], lookback_window=24, forecast_horizon=6
    ),
    "gru-single": TrainingConfig(
        model_type="gru", rnn_layers=[RnnLayerConfig(units=32)], lookback_window=24, forecast_horizon=6
    ),
    "lstm-stacked": TrainingConfig(
        model_type="lstm",
        rnn_layers=[RnnLayerConfig(units=24, recurrent_dropout=0.1), RnnLayerConfig(units=16)],
        dense_layers=[
            DenseLayerConfig(units=16, activation="relu"),
            DenseLayerConfig(units=8, activation="gelu"),
        ],
        lookback_window=48,
        forecast_horizon=12,
    ),
    "gru-stacked": TrainingConfig(
        model_type="gru",
        rnn_layers=[RnnLayerConfig(units=24), RnnLayerConfig(units=16), RnnLayerConfig(units=8)],
        dense_layers=[
            DenseLayerConfig(units=16, activation="tanh"),
            DenseLayerConfig(units=16, activation="swish"),
            DenseLayerConfig(units=8, activation="selu"),
            DenseLayerConfig(units=8, activation="elu"),
            DenseLayerConfig(units=8, activation="sigmoid"),
            DenseLayerConfig(units=8, activation="linear"),
        ],
        lookback_window=48,
        forecast_horizon=12,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_onnx_matches_keras(name: str) -> None:
    config = CASES[name]
    model = build_keras_model(config, dtype="float32")
    rng = np.random.default_rng(7)
    # Non-trivial weights: larger than Glorot so gates saturate differently and biases matter.
    model.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(np.float32) for w in model.get_weights()])
    spec = NetworkSpec.from_config(config)
    onnx_bytes = export_onnx(spec, model.get_weights())
    forecaster = Forecaster.from_bytes(
        onnx_bytes,
        _SCALER,
        _SCALER,
        InferenceSpec(
            lookback=config.lookback_window,
            horizon=config.forecast_horizon,
            interval_seconds=1.0,
            max_interpolated_gap=0,
            feature="value",
            transform=TransformSpec(),
        ),
    )
    x = rng.standard_normal((64, config.lookback_window, 1)).astype(np.float32) * 2.0
    expected = keras_predictor(model)(x)
    got = forecaster.predict_encoded(x)
    assert got.shape == (64, config.forecast_horizon)
    assert float(np.max(np.abs(got - expected))) <= TOLERANCE
    # A single window (the serving shape) matches too.
    assert float(np.max(np.abs(forecaster.predict_encoded(x[:1]) - expected[:1]))) <= TOLERANCE
