"""One training job end to end: points + config -> artifacts + metrics.

:func:`run_training_job` is the single entry the trainer (AWS Batch container, or in-process for
local runs and tests) calls. Steps:

1. ``preprocessing``: :func:`~chronos_core.ml.preprocessing.prepare_dataset` (may raise
   InsufficientDataError before anything heavy is imported).
2. ``training``: :func:`~chronos_core.ml.training.fit_network` (TensorFlow imported here).
3. ``exporting``: ONNX export, loaded into ONNX Runtime exactly as the forecast Lambdas will, and
   checked against Keras on the test windows (max |diff| in scaled units <= tolerance, else
   ExportParityError).
4. ``evaluating``: test-split metrics of the *exported* model's H-step forecasts in original units,
   with interpolated targets masked; the same for the last-value and seasonal-naive baselines.
5. ``saving``: five artifacts, metadata last (its presence means the set is complete).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from chronos_core.application.ports_ml import ArtifactStore, NullProgress, ProgressReporter
from chronos_core.ml.artifacts import (
    ArtifactMeta,
    ArtifactRefs,
    ArtifactType,
    ExportReport,
    InferenceSpec,
    TrainingHistory,
    TrainingMetadata,
    scaler_to_bytes,
)
from chronos_core.ml.baselines import last_value_forecast, mase_scale, seasonal_naive_forecast
from chronos_core.ml.config import JobIdentity, TrainingConfig
from chronos_core.ml.errors import ExportParityError, TrainingCancelledError
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.metrics import BaselineReport, ForecastMetrics, forecast_metrics, skill_score
from chronos_core.ml.onnx_export import OPSET, export_onnx
from chronos_core.ml.preprocessing import DataQuality, Point, PreparedDataset, prepare_dataset
from chronos_core.observability import logger

PARITY_WINDOWS = 1024


class TrainingOutcome(BaseModel):
    """What the job's record needs: artifact ids, headline metrics, and the quality report."""

    model_config = ConfigDict(extra="forbid")

    model_id: str
    training_job_id: str
    artifacts: ArtifactRefs
    sampling_interval_seconds: float
    lookback_window: int
    forecast_horizon: int
    test_metrics: ForecastMetrics
    baselines: BaselineReport
    data_quality: DataQuality
    training_history: TrainingHistory
    parity_max_abs_diff: float
    durations: dict[str, float]


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: ForecastMetrics
    baselines: BaselineReport


def evaluate(prepared: PreparedDataset, forecaster: Forecaster) -> Evaluation:
    """Test-split metrics of ``forecaster`` and of the two baselines (original units)."""
    series = prepared.series
    starts = prepared.test_starts
    horizon = prepared.config.forecast_horizon
    y_true = prepared.raw_targets(starts)
    mask = prepared.target_observed(starts)
    y_pred = forecaster.forecast_windows(prepared.raw_inputs(starts))
    origin_segments = series.segment_start_of(starts)
    naive = last_value_forecast(series.values, starts, horizon)
    seasonal = seasonal_naive_forecast(
        series.values, starts, horizon, prepared.season_length, origin_segments
    )

    train = slice(0, prepared.train_end)
    segment_of = np.searchsorted(series.segment_starts, np.arange(len(series)), side="right")
    scale = mase_scale(series.values[train], segment_of[train], prepared.season_length)

    def score(pred: np.ndarray[Any, Any]) -> ForecastMetrics:
        return forecast_metrics(y_true, pred, naive_pred=naive, mase_scale=scale, mask=mask)

    model_m, naive_m, seasonal_m = score(y_pred), score(naive), score(seasonal)
    return Evaluation(
        metrics=model_m,
        baselines=BaselineReport(
            season_length=prepared.season_length,
            season_detected=prepared.season_detected,
            last_value=naive_m,
            seasonal_naive=seasonal_m,
            skill_vs_seasonal_naive=skill_score(model_m.mse, seasonal_m.mse),
            skill_vs_last_value=skill_score(model_m.mse, naive_m.mse),
        ),
    )


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("numpy", "tensorflow", "tensorflow-cpu", "keras", "onnx", "onnxruntime", "pydantic"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = None
    return out


def run_training_job(
    points: Iterable[Point],
    config: TrainingConfig,
    job: JobIdentity,
    store: ArtifactStore,
    progress: ProgressReporter | None = None,
) -> TrainingOutcome:
    """Preprocess, train, export, evaluate and store one job. See the module docstring.

    ``points`` are ``(timestamp, value)`` pairs; timestamps may be datetimes, epoch seconds or
    ISO-8601 strings. Raises InsufficientDataError, TrainingCancelledError, ExportParityError,
    TrainingDivergedError (all ChronosError); nothing is written unless the job succeeds.
    """
    reporter: ProgressReporter = progress if progress is not None else NullProgress()
    durations: dict[str, float] = {}
    t_start = time.perf_counter()
    log_keys = {"model_id": job.model_id, "job_id": job.training_job_id}

    reporter.phase("preprocessing")
    t = time.perf_counter()
    prepared = prepare_dataset(points, config, feature=job.feature)
    durations["preprocessing_seconds"] = time.perf_counter() - t
    quality = prepared.quality
    logger.info("preprocessed", extra={**log_keys, **quality.model_dump(mode="json")})

    reporter.phase("training")
    from chronos_core.ml.training import fit_network  # TensorFlow is imported here, lazily

    t = time.perf_counter()
    trained = fit_network(prepared, reporter)
    durations["training_seconds"] = time.perf_counter() - t
    if trained.cancelled:
        raise TrainingCancelledError(
            "Training was cancelled.", details=[{"epochs_trained": trained.history.epochs_trained}]
        )

    reporter.phase("exporting")
    t = time.perf_counter()
    inference_bytes = export_onnx(trained.spec, trained.weights)
    x_scaler_bytes = scaler_to_bytes(prepared.x_scaler)
    y_scaler_bytes = scaler_to_bytes(prepared.y_scaler)
    spec = InferenceSpec(
        lookback=config.lookback_window,
        horizon=config.forecast_horizon,
        interval_seconds=prepared.series.interval,
        max_interpolated_gap=config.max_interpolated_gap,
        feature=job.feature,
        transform=prepared.transform,
    )
    forecaster = Forecaster.from_bytes(inference_bytes, x_scaler_bytes, y_scaler_bytes, spec)
    x_check, _ = prepared.network_arrays(prepared.test_starts[:PARITY_WINDOWS])
    diff = float(np.max(np.abs(forecaster.predict_encoded(x_check) - trained.predict(x_check))))
    durations["export_seconds"] = time.perf_counter() - t
    if not diff <= config.parity_tolerance:
        raise ExportParityError(
            f"Exported model differs from Keras by {diff:.3g} (tolerance {config.parity_tolerance:g}).",
            details=[{"max_abs_diff": diff, "tolerance": config.parity_tolerance}],
        )

    reporter.phase("evaluating")
    t = time.perf_counter()
    evaluation = evaluate(prepared, forecaster)
    durations["evaluation_seconds"] = time.perf_counter() - t

    reporter.phase("saving")
    t = time.perf_counter()

    def put(data: bytes, kind: ArtifactType) -> str:
        return store.put(data, ArtifactMeta.for_bytes(data, kind, job.model_id, job.training_job_id))

    ids = {
        "model": put(trained.keras_bytes, ArtifactType.MODEL),
        "inference": put(inference_bytes, ArtifactType.INFERENCE),
        "x_scaler": put(x_scaler_bytes, ArtifactType.X_SCALER),
        "y_scaler": put(y_scaler_bytes, ArtifactType.Y_SCALER),
    }
    durations["total_seconds"] = time.perf_counter() - t_start
    metadata = TrainingMetadata(
        model_id=job.model_id,
        training_job_id=job.training_job_id,
        created_at=datetime.now(UTC),
        feature=job.feature,
        feature_columns=[job.feature],
        window_size=config.lookback_window,
        forecast_horizon=config.forecast_horizon,
        sampling_interval_seconds=prepared.series.interval,
        network=trained.spec,
        training_config=config,
        inference=spec,
        training_history=trained.history,
        test_metrics=evaluation.metrics,
        baselines=evaluation.baselines,
        data_quality=quality,
        export=ExportReport(
            opset=OPSET,
            parity_max_abs_diff=diff,
            parity_windows=int(x_check.shape[0]),
            parity_tolerance=config.parity_tolerance,
        ),
        durations=durations,
        library_versions=_versions(),
    )
    ids["metadata"] = put(metadata.to_json_bytes(), ArtifactType.METADATA)
    durations["saving_seconds"] = time.perf_counter() - t
    refs = ArtifactRefs(**ids)
    logger.info(
        "training job finished",
        extra={
            **log_keys,
            "test_mae": evaluation.metrics.mae,
            "mase": evaluation.metrics.mase,
            "skill_vs_seasonal_naive": evaluation.baselines.skill_vs_seasonal_naive,
        },
    )
    return TrainingOutcome(
        model_id=job.model_id,
        training_job_id=job.training_job_id,
        artifacts=refs,
        sampling_interval_seconds=prepared.series.interval,
        lookback_window=config.lookback_window,
        forecast_horizon=config.forecast_horizon,
        test_metrics=evaluation.metrics,
        baselines=evaluation.baselines,
        data_quality=quality,
        training_history=trained.history,
        parity_max_abs_diff=diff,
        durations=durations,
    )
