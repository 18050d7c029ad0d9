"""One training job end to end: points + config -> artifacts + metrics.

:func:`run_training_job` is the single entry the trainer (AWS Batch container, or in-process for
local runs and tests) calls. Steps:

1. ``preprocessing``: :func:`~chronos_core.ml.preprocessing.prepare_dataset` (may raise
   InsufficientDataError before anything heavy is imported).
2. ``training``: :func:`~chronos_core.ml.fitting.fit_network` (TensorFlow imported here).
3. ``exporting``: ONNX export, loaded into ONNX Runtime exactly as the forecast Lambdas will, and
   checked against Keras on the test windows (max |diff| in scaled units <= tolerance, else
   ExportParityError).
4. ``evaluating``: the promotion gate and the metrics, all on H-step forecasts in original units
   with interpolated targets masked.

   - Gate (:mod:`chronos_core.ml.gate`): the *exported* network, the seasonal-naive and the
     last-value forecasts and a blend of the network with the best baseline, scored on the
     validation split and on the rolling-origin backtest at the end of the training split. The
     network or the blend is served only when it beats ``(1 - gate_margin)`` x the best
     baseline on both and significantly on validation (Diebold-Mariano,
     ``gate_significance_level``); otherwise the best baseline is served.
   - Intervals: split-conformal from the served forecaster's validation residuals (a served
     baseline adds its backtest residuals), neighbouring steps pooled on short series
     (:mod:`chronos_core.ml.conformal`); their empirical coverage is measured on the test split.
   - Test split: the network's metrics (``test_metrics``), the two baselines', and the served
     forecaster's (``selection.test_metrics``).
5. ``saving``: five artifacts, metadata last (its presence means the set is complete). The
   metadata's ``inference.selected`` / ``inference.intervals`` / ``inference.blend`` make the
   forecast path serve the winner with its intervals.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from chronos_core.application.ports.artifacts import ArtifactStore
from chronos_core.application.ports.pipeline import ProgressReporter
from chronos_core.domain.artifacts import ArtifactMeta, ArtifactRefs, ArtifactType
from chronos_core.domain.evaluation import (
    BaselineReport,
    Blend,
    DataQuality,
    ForecastMetrics,
    IntervalCalibration,
    ServingChoice,
)
from chronos_core.domain.retraining import HoldoutComparison, WarmStart
from chronos_core.domain.training_job import EpochProgress
from chronos_core.ml.artifacts import (
    ExportReport,
    InferenceSpec,
    PredictionIntervals,
    Selection,
    TrainingHistory,
    TrainingMetadata,
    scaler_to_bytes,
)
from chronos_core.ml.baselines import last_value_forecast, mase_scale, seasonal_naive_forecast
from chronos_core.ml.config import JobIdentity, TrainingConfig
from chronos_core.ml.conformal import calibrate, coverage, level_key
from chronos_core.ml.errors import ExportParityError, TrainingCancelledError
from chronos_core.ml.gate import GateOutcome, SplitForecasts, decide
from chronos_core.ml.inference import Forecaster
from chronos_core.ml.metrics import forecast_metrics, skill_score
from chronos_core.ml.onnx_export import OPSET, export_onnx
from chronos_core.ml.preprocessing import Point, PreparedDataset, gather, prepare_dataset
from chronos_core.observability import logger

PARITY_WINDOWS = 1024


@dataclass(frozen=True)
class WarmStartSource:
    """Weights a fit may start from: the champion's Keras model (``.keras`` bytes), read with
    TensorFlow when the fit starts."""

    job_id: str
    keras_bytes: bytes

    def weights(self) -> list[np.ndarray[Any, Any]]:
        from chronos_core.ml.fitting import keras_weights  # TensorFlow, lazily

        return keras_weights(self.keras_bytes)


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
    #: The promotion gate's winner (also ``selection.serving``): what ``predict`` and the
    #: recurring forecasts serve.
    serving: ServingChoice
    #: Gate decision, validation scores of the three candidates, the served forecaster's
    #: intervals, test metrics and test coverage. ``test_metrics`` above stay the network's.
    selection: Selection
    #: The champion scored next to this run on its test split (a retraining).
    comparison: HoldoutComparison | None = None
    #: Whether the fit started from the champion's weights.
    warm_start: WarmStart | None = None


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: ForecastMetrics
    baselines: BaselineReport
    selection: Selection
    comparison: HoldoutComparison | None = None


@dataclass(frozen=True)
class Champion:
    """The model's champion as a retraining scores it: its served forecaster and its job."""

    forecaster: Forecaster
    job_id: str


def _masked_mae(
    y: np.ndarray[Any, Any], pred: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]
) -> float | None:
    err = np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64))[mask]
    err = err[np.isfinite(err)]
    return float(err.mean()) if err.size else None


def compare_with_champion(
    prepared: PreparedDataset,
    test: SplitForecasts,
    challenger_pred: np.ndarray[Any, Any],
    serving: ServingChoice,
    champion: Champion,
) -> HoldoutComparison:
    """Score the champion's served forecaster next to the challenger's on the challenger's test
    windows: the same raw contexts (the longer of the two context lengths, within one segment),
    the same targets, interpolated targets left out; H-step MAE in original units."""
    forecaster = champion.forecaster
    base = {
        "champion_job_id": champion.job_id,
        "champion_serving": forecaster.serving,
        "challenger_serving": serving,
    }
    interval = prepared.series.interval
    if abs(forecaster.spec.interval_seconds - interval) > 0.01 * interval:
        note = f"the champion's grid step {forecaster.spec.interval_seconds:g} s differs from {interval:g} s"
        return HoldoutComparison(challenger_mae=None, champion_mae=None, windows=0, note=note, **base)
    if forecaster.horizon != prepared.config.forecast_horizon:
        challenger = prepared.config.forecast_horizon
        note = f"the champion forecasts {forecaster.horizon} steps, the challenger {challenger}"
        return HoldoutComparison(challenger_mae=None, champion_mae=None, windows=0, note=note, **base)
    starts = prepared.test_starts
    need = max(forecaster.context_length, prepared.context_length)
    keep = starts - need >= prepared.series.segment_start_of(starts)
    contexts = (
        gather(prepared.series.values, starts[keep], -need, need) if keep.any() else np.empty((0, need))
    )
    finite = np.all(np.isfinite(contexts), axis=1)
    contexts = contexts[finite]
    if contexts.shape[0] == 0:
        note = f"no test window holds the {need} values of context both forecasters need"
        return HoldoutComparison(challenger_mae=None, champion_mae=None, windows=0, note=note, **base)
    y, mask = test.y[keep][finite], test.mask[keep][finite]
    champion_pred = forecaster.forecast_windows(contexts)
    return HoldoutComparison(
        challenger_mae=_masked_mae(y, challenger_pred[keep][finite], mask),
        champion_mae=_masked_mae(y, champion_pred, mask),
        windows=int(contexts.shape[0]),
        **base,
    )


def candidate_forecasts(
    prepared: PreparedDataset, forecaster: Forecaster, starts: np.ndarray[Any, Any]
) -> dict[ServingChoice, np.ndarray[Any, Any]]:
    """``(N, H)`` forecasts of the network and both baselines for the windows starting at ``starts``."""
    series = prepared.series
    horizon = prepared.config.forecast_horizon
    return {
        "network": forecaster.network_forecast_windows(prepared.raw_inputs(starts)),
        "seasonal_naive": seasonal_naive_forecast(
            series.values, starts, horizon, prepared.season_length, series.segment_start_of(starts)
        ),
        "last_value": last_value_forecast(series.values, starts, horizon),
    }


def split_forecasts(
    prepared: PreparedDataset, forecaster: Forecaster, starts: np.ndarray[Any, Any]
) -> SplitForecasts:
    """Targets, observed mask and the three base candidates' forecasts of one split's windows."""
    return SplitForecasts(
        y=prepared.raw_targets(starts),
        mask=prepared.target_observed(starts),
        preds=candidate_forecasts(prepared, forecaster, starts),
    )


def served_forecast(
    split: SplitForecasts, serving: ServingChoice, blend: Blend | None
) -> np.ndarray[Any, Any]:
    """The served forecaster's ``(N, H)`` forecasts on a split (a blend with its final weight)."""
    if serving == "blend":
        if blend is None:
            raise ValueError("a blend is served without weights")
        w = blend.network_weight
        return np.asarray(w * split.preds["network"] + (1.0 - w) * split.preds[blend.baseline])
    return split.preds[serving]


def _calibrate_served(
    prepared: PreparedDataset,
    validation: SplitForecasts,
    backtest: SplitForecasts,
    serving: ServingChoice,
    outcome: GateOutcome,
) -> PredictionIntervals:
    """Split-conformal intervals of the served forecaster: validation residuals (a blend's
    cross-fitted ones, so the fitted weight does not narrow them), and for a baseline (out of
    sample on the training split) its backtest residuals too."""
    levels = prepared.config.interval_levels
    y, mask = [validation.y], [validation.mask]
    if serving == "blend" and outcome.blend_validation_pred is not None:
        pred = [outcome.blend_validation_pred]
    else:
        pred = [served_forecast(validation, serving, outcome.blend)]
    if serving not in ("network", "blend") and backtest.windows:
        y.append(backtest.y)
        mask.append(backtest.mask)
        pred.append(backtest.preds[serving])
    split: Literal["validation", "validation+backtest"] = (
        "validation" if len(y) == 1 else "validation+backtest"
    )
    return calibrate(np.concatenate(y), np.concatenate(pred), levels, np.concatenate(mask), split=split)


def _calibration_summary(intervals: PredictionIntervals) -> IntervalCalibration:
    return IntervalCalibration(
        sources=intervals.split.split("+"),
        residuals_per_step=intervals.calibration_counts,
        pooled_radius=intervals.pooled_radius,
        saturated={level_key(lv): sat for lv, sat in zip(intervals.levels, intervals.saturated, strict=True)},
    )


def evaluate(
    prepared: PreparedDataset, forecaster: Forecaster, champion: Champion | None = None
) -> Evaluation:
    """Gate on validation and backtest (:mod:`chronos_core.ml.gate`), calibrate the served
    forecaster's intervals, and score everything on the test split (with ``champion``: the
    champion too, on the same windows, :func:`compare_with_champion`)."""
    series = prepared.series
    config = prepared.config
    train = slice(0, prepared.train_end)
    segment_of = np.searchsorted(series.segment_starts, np.arange(len(series)), side="right")
    scale = mase_scale(series.values[train], segment_of[train], prepared.season_length)

    def metrics(
        split: SplitForecasts, preds: dict[ServingChoice, np.ndarray[Any, Any]]
    ) -> dict[ServingChoice, ForecastMetrics]:
        naive = split.preds["last_value"]
        return {
            name: forecast_metrics(split.y, pred, naive_pred=naive, mase_scale=scale, mask=split.mask)
            for name, pred in preds.items()
        }

    validation = split_forecasts(prepared, forecaster, prepared.validation_starts)
    backtest = split_forecasts(prepared, forecaster, prepared.backtest_starts)
    outcome = decide(
        validation,
        backtest,
        horizon=config.forecast_horizon,
        margin=config.gate_margin,
        alpha=config.gate_significance_level,
    )
    serving, blend = outcome.serving, outcome.blend
    val_preds, bt_preds = dict(validation.preds), dict(backtest.preds)
    if blend is not None and outcome.blend_validation_pred is not None:
        val_preds["blend"] = outcome.blend_validation_pred  # cross-fitted, as the gate scored it
        bt_preds["blend"] = served_forecast(backtest, "blend", blend)
    val_scores = metrics(validation, val_preds)
    bt_scores = metrics(backtest, bt_preds) if backtest.windows else {}
    intervals = _calibrate_served(prepared, validation, backtest, serving, outcome)

    test = split_forecasts(prepared, forecaster, prepared.test_starts)
    test_preds = dict(test.preds)
    if blend is not None:
        test_preds["blend"] = served_forecast(test, "blend", blend)
    test_scores = metrics(test, test_preds)
    cover, cover_steps = coverage(test.y, test_preds[serving], intervals, test.mask)
    model_m, seasonal_m, naive_m = (
        test_scores["network"],
        test_scores["seasonal_naive"],
        test_scores["last_value"],
    )
    comparison = (
        compare_with_champion(prepared, test, test_preds[serving], serving, champion) if champion else None
    )
    return Evaluation(
        comparison=comparison,
        metrics=model_m,
        baselines=BaselineReport(
            season_length=prepared.season_length,
            season_detected=prepared.season_detected,
            last_value=naive_m,
            seasonal_naive=seasonal_m,
            skill_vs_seasonal_naive=skill_score(model_m.mse, seasonal_m.mse),
            skill_vs_last_value=skill_score(model_m.mse, naive_m.mse),
            season_evidence=prepared.season_evidence,
        ),
        selection=Selection(
            serving=serving,
            rule=outcome.rule,
            gate_margin=config.gate_margin,
            validation_scores=val_scores,
            network_beats_baselines=serving in ("network", "blend"),
            season_length=prepared.season_length,
            target_mode=prepared.transform.target_mode,
            intervals=intervals,
            test_metrics=test_scores[serving],
            test_coverage=cover,
            test_coverage_per_step=cover_steps,
            significance_level=config.gate_significance_level,
            best_baseline=outcome.best_baseline,
            backtest_scores=bt_scores,
            evidence=outcome.evidence,
            blend=blend if serving == "blend" else None,
            calibration=_calibration_summary(intervals),
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


class NullProgress:
    """A reporter that ignores everything and never stops."""

    def phase(self, name: str) -> None:
        return None

    def epoch(self, progress: EpochProgress) -> None:
        return None

    def should_stop(self) -> bool:
        return False


class _Phases:
    """Announces each phase to the reporter and times it into ``durations``."""

    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter = reporter
        self.durations: dict[str, float] = {}
        self._started = time.perf_counter()

    @contextlib.contextmanager
    def run(self, name: str, duration_key: str) -> Iterator[None]:
        self.reporter.phase(name)
        started = time.perf_counter()
        yield
        self.durations[duration_key] = time.perf_counter() - started

    def total(self) -> None:
        """Record ``total_seconds``: from the start of preprocessing until now."""
        self.durations["total_seconds"] = time.perf_counter() - self._started


@dataclass(frozen=True)
class _Export:
    """The exported network, loaded as the forecast path will load it, and its parity check."""

    inference_bytes: bytes
    x_scaler_bytes: bytes
    y_scaler_bytes: bytes
    spec: InferenceSpec
    forecaster: Forecaster
    parity_max_abs_diff: float
    parity_windows: int


def _export(prepared: PreparedDataset, trained: Any, feature: str) -> _Export:
    """ONNX export, loaded into ONNX Runtime and compared with Keras on the test windows.
    Raises ExportParityError beyond the tolerance."""
    config = prepared.config
    inference_bytes = export_onnx(trained.spec, trained.weights)
    x_scaler_bytes = scaler_to_bytes(prepared.x_scaler)
    y_scaler_bytes = scaler_to_bytes(prepared.y_scaler)
    spec = InferenceSpec(
        lookback=config.lookback_window,
        horizon=config.forecast_horizon,
        interval_seconds=prepared.series.interval,
        grid=prepared.series.grid,
        points_per_slot=points_per_slot(prepared.quality),
        max_interpolated_gap=config.max_interpolated_gap,
        feature=feature,
        transform=prepared.transform,
    )
    forecaster = Forecaster.from_bytes(inference_bytes, x_scaler_bytes, y_scaler_bytes, spec)
    x_check, _ = prepared.network_arrays(prepared.test_starts[:PARITY_WINDOWS])
    diff = float(np.max(np.abs(forecaster.predict_encoded(x_check) - trained.predict(x_check))))
    if not diff <= config.parity_tolerance:
        raise ExportParityError(
            f"Exported model differs from Keras by {diff:.3g} (tolerance {config.parity_tolerance:g}).",
            details=[{"max_abs_diff": diff, "tolerance": config.parity_tolerance}],
        )
    return _Export(
        inference_bytes, x_scaler_bytes, y_scaler_bytes, spec, forecaster, diff, int(x_check.shape[0])
    )


def points_per_slot(quality: DataQuality) -> float:
    """Raw points read per occupied grid slot in training, at least 1: duplicates, unparsable
    values and points sharing a slot all take part of a fetch and add no grid value, so a
    forecast's fetch scales by it."""
    if quality.observed_points <= 0:
        return 1.0
    return max(1.0, round(quality.raw_points / quality.observed_points, 3))


def _save(
    store: ArtifactStore,
    job: JobIdentity,
    prepared: PreparedDataset,
    trained: Any,
    exported: _Export,
    evaluation: Evaluation,
    durations: dict[str, float],
) -> ArtifactRefs:
    """Write the five artifacts, the metadata last (its presence means the set is complete)."""
    config = prepared.config

    def put(data: bytes, kind: ArtifactType) -> str:
        return store.put(data, ArtifactMeta.for_bytes(data, kind, job.model_id, job.training_job_id))

    ids = {
        "model": put(trained.keras_bytes, ArtifactType.MODEL),
        "inference": put(exported.inference_bytes, ArtifactType.INFERENCE),
        "x_scaler": put(exported.x_scaler_bytes, ArtifactType.X_SCALER),
        "y_scaler": put(exported.y_scaler_bytes, ArtifactType.Y_SCALER),
    }
    selection = evaluation.selection
    spec = exported.spec.model_copy(
        update={"selected": selection.serving, "intervals": selection.intervals, "blend": selection.blend}
    )
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
        data_quality=prepared.quality,
        export=ExportReport(
            opset=OPSET,
            parity_max_abs_diff=exported.parity_max_abs_diff,
            parity_windows=exported.parity_windows,
            parity_tolerance=config.parity_tolerance,
        ),
        durations=durations,
        library_versions=_versions(),
        selection=evaluation.selection,
    )
    ids["metadata"] = put(metadata.to_json_bytes(), ArtifactType.METADATA)
    return ArtifactRefs(**ids)


def run_training_job(
    points: Iterable[Point],
    config: TrainingConfig,
    job: JobIdentity,
    store: ArtifactStore,
    progress: ProgressReporter | None = None,
    *,
    champion: Champion | None = None,
    warm_start: WarmStartSource | None = None,
) -> TrainingOutcome:
    """Preprocess, train, export, evaluate and store one job. See the module docstring.

    ``champion``: score it next to this run on the test split (``comparison``). ``warm_start``:
    start the fit from those weights (the champion's ``.keras``) when the network fitted has the
    same architecture; ``warm_start`` in the outcome says whether it did.

    ``points`` are ``(timestamp, value)`` pairs; timestamps may be datetimes, epoch seconds or
    ISO-8601 strings. Raises InsufficientDataError, TrainingCancelledError, ExportParityError,
    TrainingDivergedError (all ChronosError); nothing is written unless the job succeeds.
    """
    phases = _Phases(progress if progress is not None else NullProgress())
    log_keys = {"model_id": job.model_id, "job_id": job.training_job_id}
    with phases.run("preprocessing", "preprocessing_seconds"):
        prepared = prepare_dataset(points, config, feature=job.feature)
    logger.info("preprocessed", extra={**log_keys, **prepared.quality.model_dump(mode="json")})
    with phases.run("training", "training_seconds"):
        from chronos_core.ml.fitting import fit_network  # TensorFlow is imported here, lazily

        initial = warm_start.weights() if warm_start is not None else None
        trained = fit_network(prepared, phases.reporter, initial_weights=initial)
    if trained.cancelled:
        raise TrainingCancelledError(
            "Training was cancelled.", details=[{"epochs_trained": trained.history.epochs_trained}]
        )
    with phases.run("exporting", "export_seconds"):
        exported = _export(prepared, trained, job.feature)
    with phases.run("evaluating", "evaluation_seconds"):
        evaluation = evaluate(prepared, exported.forecaster, champion)
    with phases.run("saving", "saving_seconds"):
        phases.total()
        refs = _save(store, job, prepared, trained, exported, evaluation, phases.durations)
    logger.info(
        "training job finished",
        extra={
            **log_keys,
            "test_mae": evaluation.metrics.mae,
            "mase": evaluation.metrics.mase,
            "skill_vs_seasonal_naive": evaluation.baselines.skill_vs_seasonal_naive,
            "serving": evaluation.selection.serving,
            "target_mode": evaluation.selection.target_mode,
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
        data_quality=prepared.quality,
        training_history=trained.history,
        parity_max_abs_diff=exported.parity_max_abs_diff,
        durations=phases.durations,
        serving=evaluation.selection.serving,
        selection=evaluation.selection,
        comparison=evaluation.comparison,
        warm_start=(
            WarmStart(
                requested=True,
                applied=trained.warm_started,
                from_job_id=warm_start.job_id,
                reason=trained.warm_start_note,
            )
            if warm_start is not None
            else None
        ),
    )
