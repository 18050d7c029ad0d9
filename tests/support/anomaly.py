"""A real scorer for anomaly-scan tests: a served forecaster that always forecasts ``LEVEL``
(an exported LSTM whose output is its bias), calibrated on standard-normal residuals. A series
``LEVEL + N(0, 1)`` is therefore exactly what the scorer expects; anything else is an anomaly."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.ml.anomaly import ForecastScorer
from chronos_core.ml.artifacts import InferenceSpec, PredictionIntervals, scaler_to_bytes
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.transforms import ScalerParams, TransformSpec
from tests.support.builders import T0
from tests.unit.ml.conftest import constant_network_bytes

LOOKBACK, HORIZON, INTERVAL = 8, 3, 60.0
LEVEL = 20.0


def level_forecaster(
    *, calibration_size: int = 2000, seed: int = 7, with_residuals: bool = True
) -> Forecaster:
    rng = np.random.default_rng(seed)
    residuals = [sorted(np.abs(rng.standard_normal(calibration_size)).tolist()) for _ in range(HORIZON)]
    intervals = PredictionIntervals(
        levels=[0.8, 0.95],
        half_widths=[[1.2816] * HORIZON, [1.96] * HORIZON],
        calibration_counts=[calibration_size] * HORIZON,
        residuals=residuals if with_residuals else None,
        residual_counts=[calibration_size] * HORIZON if with_residuals else None,
    )
    spec = InferenceSpec(
        lookback=LOOKBACK,
        horizon=HORIZON,
        interval_seconds=INTERVAL,
        max_interpolated_gap=2,
        feature="demand",
        transform=TransformSpec.model_validate({"window_normalization": "global"}),
        intervals=intervals,
    )
    scaler = scaler_to_bytes(ScalerParams(features=["value"], mean=[LEVEL], scale=[1.0], n_samples=100))
    return Forecaster.from_bytes(
        constant_network_bytes(LOOKBACK, HORIZON, [0.0] * HORIZON), scaler, scaler, spec
    )


def level_scorer(steps: int = 1, **options: object) -> ForecastScorer:
    return ForecastScorer(level_forecaster(**options), steps)  # type: ignore[arg-type]


def noisy_series(n: int, *, seed: int = 0, start: datetime = T0) -> list[TimedPoint]:
    """``n`` readings ``LEVEL + N(0, 1)``, one ``INTERVAL`` apart from ``start``."""
    rng = np.random.default_rng(seed)
    values = LEVEL + rng.standard_normal(n)
    return [(start + timedelta(seconds=INTERVAL * i), float(v)) for i, v in enumerate(values)]


def with_spikes(points: list[TimedPoint], at: list[int], size: float = 9.0) -> list[TimedPoint]:
    out = list(points)
    for i in at:
        t, v = out[i]
        out[i] = (t, v + size)
    return out
