"""Forecasting without TensorFlow: ONNX Runtime plus the JSON scalers.

The API and forecast Lambdas import this module only (numpy, pydantic; ``onnxruntime`` is imported
when the first model is loaded). :func:`load_forecaster` reads a job's artifacts from an
:class:`~chronos_core.application.ports.artifacts.ArtifactReader` and verifies their checksums;
a :class:`ForecasterCache` (one per warm container, owned by the bootstrap) keeps up to
:data:`MAX_CACHED_MODELS` loaded forecasters (LRU, keyed by artifact ids, which are immutable).

A forecast takes the last :attr:`Forecaster.context_length` values on the training grid and returns
``H`` values in original units. What is served is the promotion gate's winner recorded in the
metadata (``inference.selected``): the network (one ONNX Runtime call), the seasonal-naive or
last-value forecast (pure numpy; the network is not run), or a blend of the network with one of
them (``inference.blend``: its weight and baseline). Every forecast carries the served
forecaster's split-conformal intervals (``inference.intervals``). :meth:`Forecaster.forecast_points`
does the context preparation for raw ``(timestamp, value)`` points with the training job's own
interval and gap rule on the training's grid (:mod:`chronos_core.ml.grid`: calendar months, or
seconds on the sensor's phase; :mod:`chronos_core.ml.serving_context`: gaps within the limit are
interpolated as in training; a longer recent gap is bridged, or a baseline serves, and the
forecast's ``quality`` says so), and dates each step on that grid (the next slots after the last
one: calendar months stay calendar months); callers fetch the latest
:attr:`Forecaster.context_points` points for it.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from chronos_core.application.ports.artifacts import ArtifactReader
from chronos_core.domain.artifacts import METADATA_SCHEMA_VERSION, ArtifactRefs, ArtifactType, verify
from chronos_core.domain.evaluation import BaselineChoice, Blend, ServingChoice
from chronos_core.domain.forecasting import ForecastResult, IntervalBand
from chronos_core.ml.artifacts import InferenceSpec, scaler_from_bytes
from chronos_core.ml.conformal import bands
from chronos_core.ml.errors import InsufficientDataError, UnsupportedArtifactError
from chronos_core.ml.preprocessing import Point, clean_points
from chronos_core.ml.serving_context import Candidate, assemble_context, fallback_chain
from chronos_core.ml.transforms import (
    F32Array,
    FloatArray,
    ScalerParams,
    decode_outputs,
    encode_windows,
    seasonal_naive_from_context,
)

MAX_CACHED_MODELS = 8


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

    @property
    def serving(self) -> ServingChoice:
        """The forecaster served: the promotion gate's winner."""
        return self.spec.selected

    @property
    def season_length(self) -> int:
        return self.spec.transform.season

    @property
    def network_context_length(self) -> int:
        """Raw values one network input needs (``L``, or ``L + m`` in seasonal residual mode)."""
        return self.spec.transform.context_length(self.lookback)

    def baseline_context_length(self, baseline: BaselineChoice) -> int:
        """Grid values a naive forecast needs: ``m`` for seasonal naive, 1 for the last value."""
        return self.season_length if baseline == "seasonal_naive" else 1

    @property
    def context_length(self) -> int:
        """Grid values the *served* forecaster needs: the network's context, ``m`` for the
        seasonal-naive forecast, 1 for the last value, the longer of the network's and its
        baseline's for a blend."""
        return self.context_length_of(self.serving)

    def context_length_of(self, forecaster: ServingChoice) -> int:
        """Grid values ``forecaster`` needs (:attr:`context_length` for the served one)."""
        if forecaster == "seasonal_naive" or forecaster == "last_value":
            return self.baseline_context_length(forecaster)
        if forecaster == "blend":
            blend = self._blend()
            return max(self.network_context_length, self.baseline_context_length(blend.baseline))
        return self.network_context_length

    def _blend(self) -> Blend:
        if self.spec.blend is None:  # the spec's validator makes this unreachable
            raise UnsupportedArtifactError("A blend is served but the metadata has no blend weights.")
        return self.spec.blend

    @property
    def context_points(self) -> int:
        """How many of the most recent raw points a caller should pass to :meth:`forecast_points`:
        :attr:`context_length` plus slack for duplicates, unparsable values and jitter.

        Counting points, not time, is enough with gaps: ``n`` observed points on distinct grid
        slots span at least ``n`` slots, so they reach back to (or past) the start of the context
        window however many slots are missing in it, which is what interpolating or bridging the
        gaps needs; and the read stays bounded by ``n``. Readings that share a slot (data finer
        than its grid, duplicates, unparsable values) are averaged or dropped, so the count is
        scaled by the training data's raw points per slot (:attr:`InferenceSpec.points_per_slot`).
        """
        need = self.context_length
        return math.ceil((need + max(2, -(-need // 10))) * self.spec.points_per_slot)

    @property
    def fallback_chain(self) -> tuple[Candidate, ...]:
        """The forecasters :meth:`forecast_points` may serve, the promotion gate's winner first
        (:func:`~chronos_core.ml.serving_context.fallback_chain`)."""
        return fallback_chain(self.serving, self.context_length, self.season_length)

    def predict_encoded(self, x: F32Array) -> F32Array:
        """Raw network call: ``(N, L, 1)`` encoded inputs -> ``(N, H)`` encoded outputs."""
        out = self._session.run(
            [self.spec.output_name], {self.spec.input_name: np.ascontiguousarray(x, np.float32)}
        )
        return np.asarray(out[0], dtype=np.float32)

    def network_forecast_windows(self, contexts: FloatArray, batch_size: int = 4096) -> FloatArray:
        """The network's forecasts: ``(N, C)`` raw contexts (``C >= network_context_length``; the
        last columns are used) -> ``(N, H)`` in original units."""
        raw = np.asarray(contexts, dtype=np.float64)
        need = self.network_context_length
        if raw.ndim != 2 or raw.shape[1] < need:
            raise ValueError(f"contexts must have shape (N, >= {need}), got {raw.shape}")
        raw = raw[:, raw.shape[1] - need :]
        outputs = [
            self.predict_encoded(encode_windows(raw[i : i + batch_size], self.x_scaler, self.spec.transform))
            for i in range(0, raw.shape[0], batch_size)
        ]
        encoded = np.concatenate(outputs) if outputs else np.empty((0, self.horizon), np.float32)
        return decode_outputs(encoded, raw, self.y_scaler, self.spec.transform)

    def forecast_windows(
        self, windows: FloatArray, batch_size: int = 4096, *, forecaster: ServingChoice | None = None
    ) -> FloatArray:
        """The *served* forecasts (or ``forecaster``'s): ``(N, C)`` raw contexts (``C >=`` its
        context length; the last columns are used) -> ``(N, H)`` in original units."""
        raw = np.asarray(windows, dtype=np.float64)
        choice = forecaster or self.serving
        need = self.context_length_of(choice)
        if raw.ndim != 2 or raw.shape[1] < need:
            raise ValueError(f"windows must have shape (N, >= {need}), got {raw.shape}")
        if choice == "seasonal_naive" or choice == "last_value":
            return self.baseline_forecast_windows(raw, choice)
        network = self.network_forecast_windows(raw, batch_size)
        if choice == "blend":
            blend = self._blend()
            base = self.baseline_forecast_windows(raw, blend.baseline)
            w = blend.network_weight
            return np.asarray(w * network + (1.0 - w) * base, dtype=np.float64)
        return network

    def baseline_forecast_windows(self, contexts: FloatArray, baseline: BaselineChoice) -> FloatArray:
        """A naive forecast from ``(N, C)`` raw contexts (the last columns are used)."""
        raw = np.asarray(contexts, dtype=np.float64)
        if baseline == "seasonal_naive":
            need = self.season_length
            return seasonal_naive_from_context(raw[:, max(0, raw.shape[1] - need) :], self.horizon, need)
        return np.repeat(raw[:, -1:], self.horizon, axis=1)

    def forecast(self, values: Sequence[float] | FloatArray) -> FloatArray:
        """``H`` served forecasts from the last :attr:`context_length` grid values."""
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        need = self.context_length
        if arr.size < need:
            raise InsufficientDataError(
                f"The forecast needs the last {need} values; got {arr.size}.",
                details=[{"field": "values", "required": need, "got": int(arr.size)}],
            )
        if not np.all(np.isfinite(arr[-need:])):
            raise InsufficientDataError("The context window contains non-finite values.")
        result: FloatArray = self.forecast_windows(arr[None, -need:])[0]
        return result

    def intervals_for(self, forecast: FloatArray) -> dict[str, IntervalBand]:
        """The served forecaster's intervals around ``forecast`` (``(H,)``), by level key."""
        return {
            key: IntervalBand(lower=[float(v) for v in lo], upper=[float(v) for v in hi])
            for key, (lo, hi) in bands(forecast, self.spec.intervals).items()
        }

    def forecast_points(self, points: Iterable[Point]) -> ForecastResult:
        """Forecast from raw ``(timestamp, value)`` points (e.g. the latest STH history; pass the
        latest :attr:`context_points`).

        The points are cleaned and put on the *training* grid (a seconds grid re-phased to the
        context if the sensor's phase moved) with the training's gap rule; the context is chosen
        by :func:`~chronos_core.ml.serving_context.assemble_context` (the served forecaster on the
        latest run, gaps within the limit interpolated; else a bridged window; else a baseline of
        :attr:`fallback_chain`), and the result's ``serving`` and ``quality`` say what ran on
        what. Raises InsufficientDataError only when no point has a parsable timestamp and a
        finite value.
        """
        clean = clean_points(points)
        interval = self.spec.interval_seconds
        if clean.times.size == 0:
            raise InsufficientDataError(
                f"No valid {self.spec.feature} value to forecast from: none of the "
                f"{clean.raw_points} point(s) has a timestamp and a finite number.",
                details=[
                    {"field": "points", "feature": self.spec.feature, "required": 1, "got": 0},
                ],
            )
        context = assemble_context(
            clean,
            grid=self.spec.sampling_grid().aligned_to(clean.times),
            max_interpolated_gap=self.spec.max_interpolated_gap,
            candidates=self.fallback_chain,
        )
        values: FloatArray = self.forecast_windows(context.values[None, :], forecaster=context.forecaster)[0]
        last = context.last_time
        stamps = context.grid.targets(last, self.horizon)
        return ForecastResult(
            values=[float(v) for v in values],
            timestamps=stamps,
            last_observation=datetime.fromtimestamp(last, tz=UTC),
            interval_seconds=interval,
            serving=context.forecaster,
            intervals=self.intervals_for(values),
            quality=context.quality,
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


def load_forecaster(store: ArtifactReader, refs: ArtifactRefs) -> Forecaster:
    """Load and verify the forecaster of a job's artifacts (no caching).

    Raises ArtifactNotFoundError, ArtifactIntegrityError (checksum or type mismatch) or
    UnsupportedArtifactError.
    """
    metadata = verify(store.get(refs.metadata), ArtifactType.METADATA)
    inference = verify(store.get(refs.inference), ArtifactType.INFERENCE)
    x_scaler = verify(store.get(refs.x_scaler), ArtifactType.X_SCALER)
    y_scaler = verify(store.get(refs.y_scaler), ArtifactType.Y_SCALER)
    return Forecaster.from_bytes(
        inference.data, x_scaler.data, y_scaler.data, inference_spec_from_metadata(metadata.data)
    )


class ForecasterCache:
    """:class:`~chronos_core.application.ports.forecasting.ForecasterLoader` keeping the
    ``max_models`` most recently used forecasters of one artifact store (thread-safe)."""

    def __init__(self, store: ArtifactReader, max_models: int = MAX_CACHED_MODELS) -> None:
        self._store = store
        self._max = max_models
        self._cache: OrderedDict[ArtifactRefs, Forecaster] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, refs: ArtifactRefs) -> Forecaster:
        with self._lock:
            hit = self._cache.get(refs)
            if hit is not None:
                self._cache.move_to_end(refs)
                return hit
        forecaster = load_forecaster(self._store, refs)
        with self._lock:
            self._cache[refs] = forecaster
            self._cache.move_to_end(refs)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return forecaster

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def clear(self) -> None:
        """Forget every loaded forecaster."""
        with self._lock:
            self._cache.clear()
