"""Scaling and window encoding shared, bit for bit, by training and inference.

Pure numpy. A scaler is a JSON document (mean and scale per feature), never a pickle. The
:class:`TransformSpec` stored with every model says how a raw window becomes network inputs and
how network outputs become values in original units, so the inference side never has to guess.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from chronos_core.ml.config import WindowNormalization

FloatArray = npt.NDArray[np.float64]
F32Array = npt.NDArray[np.float32]

SCALER_SCHEMA_VERSION = 1

#: Relative standard deviation below which a feature is considered constant (scale forced to 1).
_CONSTANT_EPS = 1e-12


class ScalerParams(BaseModel):
    """A fitted z-score scaler: ``scaled = (x - mean) / scale``, one entry per feature.

    ``scale`` is 1.0 for a constant feature (the sklearn convention), so a constant series
    scales to zeros instead of dividing by zero.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["standard"] = "standard"
    schema_version: int = SCALER_SCHEMA_VERSION
    features: list[str] = Field(min_length=1)
    mean: list[float] = Field(min_length=1)
    scale: list[float] = Field(min_length=1)
    n_samples: int = Field(ge=1)
    fitted_on: Literal["train"] = "train"
    #: What the scaler was fitted on: the values, or their seasonal differences
    #: (``x_i - x_{i-m}``, the ``residual_seasonal_naive`` transform).
    applies_to: Literal["values", "seasonal_differences"] = "values"

    @classmethod
    def fit(
        cls,
        values: FloatArray,
        feature: str = "value",
        applies_to: Literal["values", "seasonal_differences"] = "values",
    ) -> ScalerParams:
        """Fit on a 1-D array of training values (population standard deviation, ddof=0)."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError("a scaler needs a non-empty 1-D array of finite values")
        mean = float(arr.mean())
        std = float(arr.std())
        if not std > _CONSTANT_EPS * max(1.0, abs(mean)):
            std = 1.0
        return cls(
            features=[feature], mean=[mean], scale=[std], n_samples=int(arr.size), applies_to=applies_to
        )

    def transform(self, values: FloatArray) -> FloatArray:
        """Scale values of the (single) feature."""
        return (np.asarray(values, dtype=np.float64) - self.mean[0]) / self.scale[0]

    def inverse(self, values: FloatArray) -> FloatArray:
        """Undo :meth:`transform`."""
        return np.asarray(values, dtype=np.float64) * self.scale[0] + self.mean[0]


TargetMode = Literal["direct", "residual_last_value", "residual_seasonal_naive"]


class TransformSpec(BaseModel):
    """How raw context windows map to network inputs/targets and back (stored in the metadata).

    ``target_mode``:

    - ``direct``: the network emits the future values, normalised per ``window_normalization``
      (``global``: z-score; ``last_value``: z-score minus the window's last z-scored value).
    - ``residual_last_value``: inputs ``(x - x_last) / s``, targets ``(y - x_last) / s`` (the
      network predicts the change from the last observation; a zero output is the last-value
      forecast). Numerically the same as ``direct`` with ``last_value`` normalisation.
    - ``residual_seasonal_naive``: inputs are the window's seasonal differences
      ``(x_i - x_{i-m} - mu) / s`` and targets the residual over the seasonal-naive forecast,
      ``(y - sn - mu) / s``, with ``mu, s`` fitted on the training split's seasonal differences
      (the scaler artifacts then say ``applies_to: seasonal_differences``). A zero output is the
      seasonal-naive forecast plus the training drift ``mu`` per season.

    The raw context a window needs is :meth:`context_length` values: ``L``, or ``L + m`` for the
    seasonal residual mode (the differences of the first input reach one season back).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_normalization: WindowNormalization = "global"
    target_mode: TargetMode = "direct"
    season_length: int | None = None

    @property
    def season(self) -> int:
        return max(1, int(self.season_length or 1))

    def context_length(self, lookback: int) -> int:
        """Raw values one network input needs (the most recent last)."""
        if self.target_mode == "residual_seasonal_naive":
            return lookback + self.season
        return lookback


def seasonal_naive_from_context(context: FloatArray, horizon: int, season: int) -> FloatArray:
    """``(N, H)`` seasonal-naive forecasts from ``(N, C)`` raw contexts ending just before the origin.

    Step ``h`` copies the value ``m * ceil((h + 1) / m)`` steps before the target (the most recent
    value one or more whole seasons back); when the context is too short for that, the last value.
    Same rule as :func:`chronos_core.ml.baselines.seasonal_indices`.
    """
    ctx = np.atleast_2d(np.asarray(context, dtype=np.float64))
    m = max(1, int(season))
    size = ctx.shape[1]
    steps = np.arange(horizon, dtype=np.int64)
    back = m * ((steps + m) // m)
    idx = size + steps - back
    idx = np.where(idx >= 0, idx, size - 1)
    return ctx[:, idx]


def _reference(
    context_raw: FloatArray, y_scaler: ScalerParams, spec: TransformSpec, horizon: int
) -> FloatArray:
    """Per-window, per-step offset in y-scaled units, ``(N, H)``."""
    n = context_raw.shape[0]
    if spec.target_mode == "residual_seasonal_naive":
        # ``y_scaler`` describes the seasonal differences: the offset is the baseline / scale.
        return seasonal_naive_from_context(context_raw, horizon, spec.season) / y_scaler.scale[0]
    if spec.target_mode == "residual_last_value" or spec.window_normalization == "last_value":
        return np.repeat(y_scaler.transform(context_raw[:, -1])[:, None], horizon, axis=1)
    return np.zeros((n, horizon), dtype=np.float64)


def encode_windows(context_raw: FloatArray, x_scaler: ScalerParams, spec: TransformSpec) -> F32Array:
    """``(N, C)`` raw contexts (``C >= spec.context_length(L)``) -> ``(N, L, 1)`` float32 inputs.

    ``L`` is ``C`` for the level modes and ``C - m`` for the seasonal residual mode, so callers
    pass exactly ``spec.context_length(L)`` values.
    """
    raw = np.atleast_2d(np.asarray(context_raw, dtype=np.float64))
    if spec.target_mode == "residual_seasonal_naive":
        m = spec.season
        diffs = raw[:, m:] - raw[:, :-m]
        scaled = x_scaler.transform(diffs)
    else:
        scaled = x_scaler.transform(raw)
        if spec.target_mode == "residual_last_value" or spec.window_normalization == "last_value":
            scaled = scaled - scaled[:, -1:]
    return scaled[:, :, np.newaxis].astype(np.float32)


def encode_targets(
    targets_raw: FloatArray, context_raw: FloatArray, y_scaler: ScalerParams, spec: TransformSpec
) -> F32Array:
    """``(N, H)`` raw future values -> ``(N, H)`` float32 training targets."""
    targets = np.atleast_2d(np.asarray(targets_raw, dtype=np.float64))
    ref = _reference(
        np.atleast_2d(np.asarray(context_raw, dtype=np.float64)), y_scaler, spec, targets.shape[1]
    )
    return (y_scaler.transform(targets) - ref).astype(np.float32)


def decode_outputs(
    outputs: npt.NDArray[np.floating], context_raw: FloatArray, y_scaler: ScalerParams, spec: TransformSpec
) -> FloatArray:
    """``(N, H)`` network outputs -> ``(N, H)`` forecasts in original units (float64)."""
    out = np.atleast_2d(np.asarray(outputs, dtype=np.float64))
    ref = _reference(np.atleast_2d(np.asarray(context_raw, dtype=np.float64)), y_scaler, spec, out.shape[1])
    return y_scaler.inverse(out + ref)
