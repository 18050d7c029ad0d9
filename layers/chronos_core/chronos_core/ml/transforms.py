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

    @classmethod
    def fit(cls, values: FloatArray, feature: str = "value") -> ScalerParams:
        """Fit on a 1-D array of training values (population standard deviation, ddof=0)."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError("a scaler needs a non-empty 1-D array of finite values")
        mean = float(arr.mean())
        std = float(arr.std())
        if not std > _CONSTANT_EPS * max(1.0, abs(mean)):
            std = 1.0
        return cls(features=[feature], mean=[mean], scale=[std], n_samples=int(arr.size))

    def transform(self, values: FloatArray) -> FloatArray:
        """Scale values of the (single) feature."""
        return (np.asarray(values, dtype=np.float64) - self.mean[0]) / self.scale[0]

    def inverse(self, values: FloatArray) -> FloatArray:
        """Undo :meth:`transform`."""
        return np.asarray(values, dtype=np.float64) * self.scale[0] + self.mean[0]


class TransformSpec(BaseModel):
    """How raw windows map to network inputs/targets and back.

    ``target_mode`` is ``direct`` today: the network emits the (normalised) future values. A
    later ``residual_seasonal_naive`` mode (the network emits corrections to the seasonal-naive
    forecast) will add a value here and a branch in :func:`encode_targets` / :func:`decode_outputs`;
    ``season_length`` is already recorded for it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_normalization: WindowNormalization = "global"
    target_mode: Literal["direct"] = "direct"
    season_length: int | None = None


def _reference(windows_raw: FloatArray, y_scaler: ScalerParams, spec: TransformSpec) -> FloatArray:
    """Per-window offset in y-scaled units (zeros for global normalisation)."""
    if spec.window_normalization == "last_value":
        return y_scaler.transform(windows_raw[:, -1])
    return np.zeros(windows_raw.shape[0], dtype=np.float64)


def encode_windows(windows_raw: FloatArray, x_scaler: ScalerParams, spec: TransformSpec) -> F32Array:
    """``(N, L)`` raw values -> ``(N, L, 1)`` float32 network inputs."""
    raw = np.asarray(windows_raw, dtype=np.float64)
    scaled = x_scaler.transform(raw)
    if spec.window_normalization == "last_value":
        scaled = scaled - scaled[:, -1:]
    return scaled[:, :, np.newaxis].astype(np.float32)


def encode_targets(
    targets_raw: FloatArray, windows_raw: FloatArray, y_scaler: ScalerParams, spec: TransformSpec
) -> F32Array:
    """``(N, H)`` raw future values -> ``(N, H)`` float32 training targets."""
    ref = _reference(np.asarray(windows_raw, dtype=np.float64), y_scaler, spec)
    return (y_scaler.transform(np.asarray(targets_raw, dtype=np.float64)) - ref[:, None]).astype(np.float32)


def decode_outputs(
    outputs: npt.NDArray[np.floating], windows_raw: FloatArray, y_scaler: ScalerParams, spec: TransformSpec
) -> FloatArray:
    """``(N, H)`` network outputs -> ``(N, H)`` forecasts in original units (float64)."""
    ref = _reference(np.asarray(windows_raw, dtype=np.float64), y_scaler, spec)
    return y_scaler.inverse(np.asarray(outputs, dtype=np.float64) + ref[:, None])
