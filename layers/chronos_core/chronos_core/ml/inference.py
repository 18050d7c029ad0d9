"""Forecasting without TensorFlow: ONNX Runtime plus the JSON scalers.

The API and forecast Lambdas import this module only (numpy, pydantic; ``onnxruntime`` is imported
when the first model is loaded). :func:`load_forecaster` reads a job's artifacts from an
:class:`~chronos_core.application.ports_ml.ArtifactReader`, verifies their checksums, and keeps
up to :data:`MAX_CACHED_MODELS` loaded forecasters per warm container (LRU, keyed by artifact ids,
which are immutable).

A forecast takes the last ``L`` values on the training grid and returns ``H`` values in original
units in one network call. :meth:`Forecaster.forecast_points` does the context preparation for raw
``(timestamp, value)`` points with the training job's own interval and gap rule, and dates each
step ``last_timestamp + k * interval``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from chronos_core.application.ports_ml import ArtifactReader
from chronos_core.ml.artifacts import (
    METADATA_SCHEMA_VERSION,
    ArtifactRefs,
    ArtifactType,
    InferenceSpec,
    scaler_from_bytes,
    verify,
)
from chronos_core.ml.errors import InsufficientDataError, UnsupportedArtifactError
from chronos_core.ml.preprocessing import Point, clean_points, regularize
from chronos_core.ml.transforms import F32Array, FloatArray, ScalerParams, decode_outputs, encode_windows

MAX_CACHED_MODELS = 8


class ForecastResult(BaseModel):
    """``H`` forecast values (original units) and the instants they are for."""

    model_config = ConfigDict(frozen=True)

    values: list[float]
    timestamps: list[datetime]
    last_observation: datetime
    interval_seconds: float


class Forecaster:
    """A loaded inference model. Thread-safe for concurrent :meth:`forecast` calls."""

    def __init__(
        self, session: Any, spec: InferenceSpec, x_scaler: ScalerParams, y_scaler: ScalerParams
    ) -> None:
        self._session = session
        self.spec = spec
        self.x_scaler = x_scaler
        self.y_scaler = y_scaler

    @classmethod
    def from_bytes(
        cls, inference: bytes, x_scaler: bytes, y_scaler: bytes, spec: InferenceSpec, *, threads: int = 1
    ) -> Forecaster:
        """Build a forecaster from artifact bytes. ``threads`` bounds ONNX Runtime's intra-op pool
        (1 is the fastest for these small sequential models on a Lambda vCPU)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(inference, sess_options=options, providers=["CPUExecutionProvider"])
        return cls(session, spec, scaler_from_bytes(x_scaler), scaler_from_bytes(y_scaler))

    @property
    def lookback(self) -> int:
        return self.spec.lookback

    @property
    def horizon(self) -> int:
        return self.spec.horizon

    def predict_encoded(self, x: F32Array) -> F32Array:
        """Raw network call: ``(N, L, 1)`` encoded inputs -> ``(N, H)`` encoded outputs."""
        out = self._session.run(
            [self.spec.output_name], {self.spec.input_name: np.ascontiguousarray(x, np.float32)}
        )
        return np.asarray(out[0], dtype=np.float32)

    def forecast_windows(self, windows: FloatArray, batch_size: int = 4096) -> FloatArray:
        """``(N, L)`` raw windows -> ``(N, H)`` forecasts in original units."""
        raw = np.asarray(windows, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != self.lookback:
            raise ValueError(f"windows must have shape (N, {self.lookback}), got {raw.shape}")
        outputs = [
            self.predict_encoded(encode_windows(raw[i : i + batch_size], self.x_scaler, self.spec.transform))
            for i in range(0, raw.shape[0], batch_size)
        ]
        encoded = np.concatenate(outputs) if outputs else np.empty((0, self.horizon), np.float32)
        return decode_outputs(encoded, raw, self.y_scaler, self.spec.transform)

    def forecast(self, values: Sequence[float] | FloatArray) -> FloatArray:
        """``H`` forecasts from the last ``L`` grid values (at least ``L`` must be given)."""
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.size < self.lookback:
            raise InsufficientDataError(
                f"The forecast needs the last {self.lookback} values; got {arr.size}.",
                details=[{"field": "values", "required": self.lookback, "got": int(arr.size)}],
            )
        if not np.all(np.isfinite(arr[-self.lookback :])):
            raise InsufficientDataError("The context window contains non-finite values.")
        result: FloatArray = self.forecast_windows(arr[None, -self.lookback :])[0]
        return result

    def forecast_points(self, points: Iterable[Point]) -> ForecastResult:
        """Forecast from raw ``(timestamp, value)`` points (e.g. the latest STH history).

        The points are cleaned and put on a grid with the *training* interval, short gaps are
        interpolated, and the last gap-free run must hold ``L`` points.
        """
        clean = clean_points(points)
        interval = self.spec.interval_seconds
        if clean.times.size == 0:
            raise InsufficientDataError(
                "No valid points to forecast from.", details=[{"field": "points", "required": self.lookback}]
            )
        series = regularize(clean, interval, self.spec.max_interpolated_gap)
        start = int(series.segment_starts[-1])
        tail = series.values[start:]
        if tail.size < self.lookback:
            raise InsufficientDataError(
                f"The latest gap-free run has {tail.size} points on the {interval:g} s grid; "
                f"the model needs {self.lookback}.",
                details=[{"field": "points", "required": self.lookback, "got": int(tail.size)}],
            )
        values = self.forecast(tail)
        last = float(series.times[-1])
        stamps = [datetime.fromtimestamp(last + k * interval, tz=UTC) for k in range(1, self.horizon + 1)]
        return ForecastResult(
            values=[float(v) for v in values],
            timestamps=stamps,
            last_observation=datetime.fromtimestamp(last, tz=UTC),
            interval_seconds=interval,
        )


def inference_spec_from_metadata(data: bytes) -> InferenceSpec:
    """The ``inference`` section of a metadata artifact (schema version checked)."""
    raw = json.loads(data)
    if raw.get("schema_version") != METADATA_SCHEMA_VERSION or "inference" not in raw:
        raise UnsupportedArtifactError(
            f"Unsupported metadata schema_version {raw.get('schema_version')!r}.",
            details=[{"supported": METADATA_SCHEMA_VERSION}],
        )
    return InferenceSpec.model_validate(raw["inference"])


_cache: OrderedDict[ArtifactRefs, Forecaster] = OrderedDict()
_cache_lock = threading.Lock()


def load_forecaster(store: ArtifactReader, refs: ArtifactRefs) -> Forecaster:
    """The forecaster for a job's artifacts, from the per-container cache or loaded and verified.

    Raises ArtifactNotFoundError, ArtifactIntegrityError (checksum or type mismatch) or
    UnsupportedArtifactError.
    """
    with _cache_lock:
        hit = _cache.get(refs)
        if hit is not None:
            _cache.move_to_end(refs)
            return hit
    metadata = verify(store.get(refs.metadata), ArtifactType.METADATA)
    inference = verify(store.get(refs.inference), ArtifactType.INFERENCE)
    x_scaler = verify(store.get(refs.x_scaler), ArtifactType.X_SCALER)
    y_scaler = verify(store.get(refs.y_scaler), ArtifactType.Y_SCALER)
    forecaster = Forecaster.from_bytes(
        inference.data, x_scaler.data, y_scaler.data, inference_spec_from_metadata(metadata.data)
    )
    with _cache_lock:
        _cache[refs] = forecaster
        _cache.move_to_end(refs)
        while len(_cache) > MAX_CACHED_MODELS:
            _cache.popitem(last=False)
    return forecaster


def clear_cache() -> None:
    """Forget every loaded forecaster (tests; or after an artifact is deleted)."""
    with _cache_lock:
        _cache.clear()


def cached_models() -> int:
    with _cache_lock:
        return len(_cache)
