"""Artifact schemas: what a training job writes to the ``model_artifacts`` bucket and how it is
verified on load.

A job writes five files: the Keras model (``model``), the ONNX inference model (``inference``),
the two scalers (``x_scaler``, ``y_scaler``; JSON, never pickled) and the metadata document
(``metadata``). Every file's store metadata is an :class:`ArtifactMeta` with the sha256 of its
bytes, checked by :func:`verify` whenever it is read.

The metadata document (:class:`TrainingMetadata`) is versioned and has room for what later
issues add. The promotion gate's winner is ``inference.selected`` (what the forecast path serves),
its split-conformal intervals ``inference.intervals``, and the whole decision with validation
scores and test coverage ``selection``; ``inference.transform`` says how windows are encoded.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chronos_core.domain.artifacts import METADATA_SCHEMA_VERSION
from chronos_core.domain.evaluation import (
    BaselineReport,
    Blend,
    DataQuality,
    ForecastMetrics,
    GateDecision,
    ServingChoice,
)
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.errors import UnsupportedArtifactError
from chronos_core.ml.grid import Grid, MonthsGrid, SecondsGrid, legacy_grid
from chronos_core.ml.network import NetworkSpec
from chronos_core.ml.transforms import ScalerParams, TransformSpec

# --------------------------------------------------------------------------------------------
# The metadata document
# --------------------------------------------------------------------------------------------


class SizeRegularization(BaseModel):
    """What the fit did about a small training set (see ``fitting.regularize_for_data_size``):
    the configured and fitted layer widths, the dropout floor and the weight decay applied."""

    model_config = ConfigDict(extra="forbid")

    applied: bool
    train_windows: int
    parameter_budget: int
    configured_parameters: int
    fitted_parameters: int
    rnn_units: list[int]
    dense_units: list[int]
    min_dropout: float
    weight_decay: float | None
    rule: str


class TrainingHistory(BaseModel):
    """Fit summary. ``best_epoch`` is 0-based (the reference's convention)."""

    model_config = ConfigDict(extra="forbid")

    best_epoch: int
    epochs_trained: int
    best_train_loss: float | None
    best_val_loss: float | None
    stopped_early: bool
    history: dict[str, list[float | None]]
    duration_seconds: float
    device: str
    mixed_precision: bool
    windows_per_second: float | None = None
    #: The data-size rule's outcome (``None`` in artifacts written before it).
    regularization: SizeRegularization | None = None


class ExportReport(BaseModel):
    """The inference export and its parity check against Keras (scaled units)."""

    model_config = ConfigDict(extra="forbid")

    runtime: Literal["onnxruntime"] = "onnxruntime"
    format: Literal["onnx"] = "onnx"
    opset: int
    parity_max_abs_diff: float
    parity_windows: int
    parity_tolerance: float


class PredictionIntervals(BaseModel):
    """Split-conformal prediction intervals of the served forecaster (see ``ml.conformal``).

    ``half_widths[i][h]`` is the half-width, in original units, of the interval of nominal
    coverage ``levels[i]`` at horizon step ``h``: the ``ceil((n + 1) * level)``-th smallest
    absolute residual of steps ``h - r .. h + r`` (``r = pooled_radius[h]``, the smallest radius
    that gives enough residuals; ``n = calibration_counts[h]``, the distinct targets behind them,
    the rank taken as a quantile of the pooled residuals), made non-decreasing over the steps.
    ``split`` names the residuals' splits (a baseline also uses its backtest residuals).
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["split_conformal"] = "split_conformal"
    split: Literal["validation", "validation+backtest"] = "validation"
    levels: list[float]
    half_widths: list[list[float]]  # [level][step], in original units
    #: Per step, the distinct targets behind its (pooled) residuals.
    calibration_counts: list[int] = Field(default_factory=list)
    saturated: list[bool] = Field(default_factory=list)  # per level: too few residuals, max used
    pooled_radius: list[int] = Field(default_factory=list)  # per step; empty before pooling
    #: Per step ``h`` (the first :data:`~chronos_core.ml.conformal.MAX_SKETCH_STEPS` steps), the
    #: pooled absolute calibration residuals the half-widths were taken from, ascending: all of
    #: them, or :data:`~chronos_core.ml.conformal.MAX_SKETCH_RESIDUALS` evenly spaced order
    #: statistics of them (the largest kept). Anomaly scans turn residuals into p-values with
    #: them. ``None`` in artifacts written before anomaly scans (which fall back on the
    #: half-widths).
    residuals: list[list[float]] | None = None
    #: Per step of ``residuals``, how many pooled residuals the sketch stands for.
    residual_counts: list[int] | None = None


class InferenceSpec(BaseModel):
    """All the forecast path needs besides the ONNX bytes and the two scalers.

    ``grid`` is the training's grid (calendar or seconds, see :mod:`chronos_core.ml.grid`);
    ``interval_seconds`` its step in seconds (nominal for months), kept for artifacts written
    before calendar grids, which have no ``grid`` and are served on :func:`sampling_grid`'s
    legacy seconds grid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["onnx"] = "onnx"
    input_name: str = "x"
    output_name: str = "y"
    lookback: int = Field(ge=1)
    horizon: int = Field(ge=1)
    n_features: int = 1
    interval_seconds: float = Field(gt=0)
    grid: Grid | None = None
    #: Raw points per occupied slot in training (more than 1 when the data is finer than the
    #: grid, e.g. hourly readings on a stated ``P1M``): scales how many points a forecast reads.
    points_per_slot: float = Field(default=1.0, ge=1.0)
    max_interpolated_gap: int = Field(ge=0)
    feature: str
    transform: TransformSpec
    #: The promotion gate's winner: what :class:`~chronos_core.ml.inference.Forecaster` serves.
    selected: ServingChoice = "network"
    #: Intervals of the ``selected`` forecaster (``None`` in artifacts written before the gate).
    intervals: PredictionIntervals | None = None
    #: The blend's baseline and weight when ``selected`` is ``blend`` (``None`` otherwise, and in
    #: artifacts written before blends).
    blend: Blend | None = None

    @model_validator(mode="after")
    def _blend_has_weights(self) -> Self:
        if self.selected == "blend" and self.blend is None:
            raise ValueError("inference.selected is 'blend' but inference.blend is missing")
        return self

    def sampling_grid(self) -> SecondsGrid | MonthsGrid:
        """``grid``, or for older artifacts the ``interval_seconds`` grid anchored at each
        context's first point (their behaviour)."""
        return self.grid if self.grid is not None else legacy_grid(self.interval_seconds)


class Selection(GateDecision):
    """The promotion gate's decision (:class:`GateDecision`) with the served forecaster's
    split-conformal intervals, as the metadata artifact records it."""

    intervals: PredictionIntervals

    def decision(self) -> GateDecision:
        """The decision without the interval half-widths (what the job keeps)."""
        return GateDecision.model_validate(self.model_dump(exclude={"intervals"}))


class TrainingMetadata(BaseModel):
    """The ``metadata`` artifact. ``window_size`` and ``feature_columns`` keep the reference names;
    the reference's ``model_config`` is ``training_config`` here."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = METADATA_SCHEMA_VERSION
    model_id: str
    training_job_id: str
    created_at: datetime
    feature: str
    feature_columns: list[str]
    window_size: int
    forecast_horizon: int
    sampling_interval_seconds: float
    network: NetworkSpec
    training_config: TrainingConfig
    inference: InferenceSpec
    training_history: TrainingHistory
    test_metrics: ForecastMetrics
    baselines: BaselineReport
    data_quality: DataQuality
    export: ExportReport
    durations: dict[str, float]
    library_versions: dict[str, str | None]
    selection: Selection | None = None

    def to_json_bytes(self) -> bytes:
        """Strict JSON (NaN and infinity refused)."""
        return dumps_strict(self.model_dump(mode="json"))

    @classmethod
    def from_json_bytes(cls, data: bytes) -> TrainingMetadata:
        raw = json.loads(data)
        if raw.get("schema_version") != METADATA_SCHEMA_VERSION:
            raise UnsupportedArtifactError(
                f"Unsupported metadata schema_version {raw.get('schema_version')!r}.",
                details=[{"supported": METADATA_SCHEMA_VERSION}],
            )
        return cls.model_validate(raw)


def dumps_strict(document: Any) -> bytes:
    """UTF-8 JSON, sorted keys, NaN/inf rejected (raises ValueError)."""
    return json.dumps(document, allow_nan=False, sort_keys=True, indent=1).encode("utf-8")


def scaler_to_bytes(scaler: ScalerParams) -> bytes:
    return dumps_strict(scaler.model_dump(mode="json"))


def scaler_from_bytes(data: bytes) -> ScalerParams:
    return ScalerParams.model_validate_json(data)
