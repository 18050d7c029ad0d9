"""Helpers shared by the forecasting-core unit tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

SeriesFactory = Callable[..., list[tuple[float, float]]]


@pytest.fixture
def make_series() -> SeriesFactory:
    """``make_series(n, interval=300.0, period=48, noise=0.1, seed=0, level=10.0)`` -> points."""

    def build(
        n: int,
        interval: float = 300.0,
        period: int = 48,
        noise: float = 0.1,
        seed: int = 0,
        level: float = 10.0,
    ) -> list[tuple[float, float]]:
        rng = np.random.default_rng(seed)
        k = np.arange(n)
        values = level + np.sin(2 * np.pi * k / period) + noise * rng.standard_normal(n)
        times = 1_700_000_000.0 + k * interval
        return list(zip(times.tolist(), values.tolist(), strict=True))

    return build


def constant_network_bytes(lookback: int, horizon: int, bias: list[float], units: int = 4) -> bytes:
    """An exported LSTM whose output is exactly ``bias`` (all other weights zero)."""
    from chronos_core.ml.network import NetworkSpec
    from chronos_core.ml.onnx_export import export_onnx

    spec = NetworkSpec(model_type="lstm", lookback=lookback, horizon=horizon, rnn_units=[units])
    weights = [
        np.zeros((1, 4 * units), np.float32),
        np.zeros((units, 4 * units), np.float32),
        np.zeros(4 * units, np.float32),
        np.zeros((units, horizon), np.float32),
        np.asarray(bias, np.float32),
    ]
    return export_onnx(spec, weights)
