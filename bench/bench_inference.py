"""Inference latency: one H=48, L=168 forecast, ONNX Runtime (served path) next to TensorFlow.

- Warm: p50/p99 over repeated single-window forecasts in one process (ONNX: the full
  ``Forecaster.forecast`` including scaling; TensorFlow: the Keras model called directly, through a
  compiled ``tf.function``, and through ``model.predict`` as the reference did).
- Cold: a fresh Python process importing the inference module, loading the artifact and making the
  first forecast (targets: warm <= 5 ms, cold <= 1.5 s), against importing TensorFlow, loading the
  ``.keras`` file and making the first forecast. Median of ``--cold-runs`` processes.

The network is the default architecture (one LSTM(64), or ``--model gru``) with random weights:
latency does not depend on the weight values. Usage:
    python bench/bench_inference.py [--model lstm|gru] [--calls 2000] [--cold-runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LAYER = Path(__file__).resolve().parents[1] / "layers" / "chronos_core"
sys.path.insert(0, str(LAYER))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from chronos_core.ml.artifacts import InferenceSpec, scaler_to_bytes  # noqa: E402
from chronos_core.ml.config import TrainingConfig  # noqa: E402
from chronos_core.ml.inference import Forecaster  # noqa: E402
from chronos_core.ml.network import NetworkSpec  # noqa: E402
from chronos_core.ml.onnx_export import export_onnx  # noqa: E402
from chronos_core.ml.transforms import ScalerParams, TransformSpec  # noqa: E402

L, H = 168, 48

COLD_ONNX = """
import time, sys
t0 = time.perf_counter()
from pathlib import Path
from chronos_core.ml.inference import Forecaster, inference_spec_from_metadata
d = Path(sys.argv[1])
f = Forecaster.from_bytes((d / "model.onnx").read_bytes(), (d / "x_scaler.json").read_bytes(),
                          (d / "y_scaler.json").read_bytes(),
                          inference_spec_from_metadata((d / "metadata.json").read_bytes()))
f.forecast([20.0] * 168)
print(time.perf_counter() - t0)
"""

COLD_TF = """
import time, sys, os
t0 = time.perf_counter()
import numpy as np
import keras
m = keras.saving.load_model(sys.argv[1] + "/model.keras")
m(np.full((1, 168, 1), 0.5, np.float32), training=False)
print(time.perf_counter() - t0)
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1e3
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def cold(code: str, directory: str, runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(LAYER), "TF_CPP_MIN_LOG_LEVEL": "2"}
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code, directory], capture_output=True, text=True, env=env, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm", choices=["lstm", "gru"])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()

    import tensorflow as tf

    from chronos_core.ml.fitting import build_keras_model, keras_model_bytes

    config = TrainingConfig(model_type=args.model, lookback_window=L, forecast_horizon=H)
    model = build_keras_model(config, dtype="float32")
    scaler = ScalerParams(features=["value"], mean=[20.0], scale=[2.0], n_samples=1000)
    spec = InferenceSpec(
        lookback=L,
        horizon=H,
        interval_seconds=1800.0,
        max_interpolated_gap=3,
        feature="value",
        transform=TransformSpec(),
    )
    onnx_bytes = export_onnx(NetworkSpec.from_config(config), model.get_weights())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "model.onnx").write_bytes(onnx_bytes)
        (d / "model.keras").write_bytes(keras_model_bytes(model))
        (d / "x_scaler.json").write_bytes(scaler_to_bytes(scaler))
        (d / "y_scaler.json").write_bytes(scaler_to_bytes(scaler))
        (d / "metadata.json").write_text(
            json.dumps({"schema_version": 1, "inference": spec.model_dump(mode="json")})
        )

        forecaster = Forecaster.from_bytes(onnx_bytes, scaler_to_bytes(scaler), scaler_to_bytes(scaler), spec)
        rng = np.random.default_rng(0)
        window = 20 + rng.standard_normal(L)
        x = ((window - 20) / 2).astype(np.float32)[None, :, None]

        def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
            for _ in range(min(50, n)):
                fn()
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t0)
            return samples

        onnx_p = percentiles(timed(lambda: forecaster.forecast(window), args.calls))
        compiled = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
        xt = tf.constant(x)
        tf_fn_p = percentiles(timed(lambda: compiled(xt).numpy(), args.calls))
        tf_eager_p = percentiles(timed(lambda: model(x, training=False).numpy(), max(200, args.calls // 4)))
        tf_predict_p = percentiles(timed(lambda: model.predict(x, verbose=0), max(100, args.calls // 10)))
        diff = float(np.max(np.abs(forecaster.predict_encoded(x) - compiled(xt).numpy())))

        cold_onnx = cold(COLD_ONNX, tmp, args.cold_runs)
        cold_tf = cold(COLD_TF, tmp, args.cold_runs)

    print(f"model {args.model.upper()}(64), L={L}, H={H}; ONNX vs Keras max |diff| {diff:.2e}")
    print(f"warm ONNX Runtime forecast: p50 {onnx_p[0]:.3f} ms, p99 {onnx_p[1]:.3f} ms")
    print(f"warm TensorFlow tf.function: p50 {tf_fn_p[0]:.3f} ms, p99 {tf_fn_p[1]:.3f} ms")
    print(f"warm TensorFlow eager call:  p50 {tf_eager_p[0]:.3f} ms, p99 {tf_eager_p[1]:.3f} ms")
    print(f"warm TensorFlow predict():   p50 {tf_predict_p[0]:.3f} ms, p99 {tf_predict_p[1]:.3f} ms")
    print(f"cold import + load + first forecast: ONNX {cold_onnx:.3f} s, TensorFlow {cold_tf:.3f} s")
    print()
    print("| runtime | warm p50 (ms) | warm p99 (ms) | cold import+load+first forecast (s) |")
    print("|---|---|---|---|")
    print(f"| ONNX Runtime (served) | {onnx_p[0]:.3f} | {onnx_p[1]:.3f} | {cold_onnx:.3f} |")
    print(f"| TensorFlow, tf.function | {tf_fn_p[0]:.3f} | {tf_fn_p[1]:.3f} | {cold_tf:.3f} |")
    print(f"| TensorFlow, eager call | {tf_eager_p[0]:.3f} | {tf_eager_p[1]:.3f} | - |")
    print(f"| TensorFlow, model.predict | {tf_predict_p[0]:.3f} | {tf_predict_p[1]:.3f} | - |")


if __name__ == "__main__":
    main()
