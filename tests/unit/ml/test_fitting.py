"""A small real fit on CPU through the whole job: preprocessing, Keras, ONNX export, metrics, artifacts."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.domain.artifacts import ArtifactType
from chronos_core.domain.training_job import EpochProgress
from chronos_core.ml import inference
from chronos_core.ml.artifacts import TrainingMetadata
from chronos_core.ml.config import JobIdentity, RnnLayerConfig, TrainingConfig
from chronos_core.ml.errors import TrainingCancelledError
from chronos_core.ml.pipeline import run_training_job
from chronos_core.ml.preprocessing import prepare_dataset

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import tensorflow  # noqa: E402,F401  (the suite requires requirements-ml.txt; a missing TensorFlow must fail)

JOB = JobIdentity(model_id="model-1", training_job_id="job-1", feature="temperature")
SMALL = TrainingConfig(
    model_type="lstm",
    rnn_layers=[RnnLayerConfig(units=16, dropout=0.0)],
    lookback_window=16,
    forecast_horizon=4,
    epochs=8,
    batch_size=32,
    learning_rate=0.01,
)


class RecordingProgress:
    def __init__(self, stop_after: int | None = None) -> None:
        self.phases: list[str] = []
        self.epochs: list[EpochProgress] = []
        self.stop_after = stop_after

    def phase(self, name: str) -> None:
        self.phases.append(name)

    def epoch(self, progress: EpochProgress) -> None:
        self.epochs.append(progress)

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.epochs) >= self.stop_after


def test_small_real_fit_writes_artifacts_and_truthful_metrics(make_series) -> None:  # type: ignore[no-untyped-def]
    store = InMemoryArtifactStore()
    progress = RecordingProgress()
    points = make_series(400, period=24)
    outcome = run_training_job(points, SMALL, JOB, store, progress)

    assert progress.phases == ["preprocessing", "training", "exporting", "evaluating", "saving"]
    assert [p.epoch for p in progress.epochs] == list(range(1, len(progress.epochs) + 1))
    assert all(p.loss is not None and p.val_loss is not None for p in progress.epochs)
    first_loss, last_loss = progress.epochs[0].loss, progress.epochs[-1].loss
    assert first_loss is not None and last_loss is not None and last_loss < first_loss  # it learns

    assert outcome.parity_max_abs_diff <= 1e-4
    assert outcome.sampling_interval_seconds == 300.0
    assert outcome.baselines.season_length == 24 and outcome.baselines.season_detected
    m = outcome.test_metrics
    assert len(m.mae_per_step) == 4
    assert m.windows == outcome.data_quality.test_windows > 0
    assert m.mae is not None and m.mase is not None and m.theil_u is not None
    assert outcome.baselines.last_value.theil_u == pytest.approx(1.0)

    # Five artifacts, each checksummed; the metadata is strict JSON with the contract's sections.
    assert len(store) == 5
    metadata_bytes = store.get(outcome.artifacts.metadata).data
    raw = json.loads(metadata_bytes)
    for key in (
        "window_size",
        "forecast_horizon",
        "sampling_interval_seconds",
        "feature",
        "training_history",
        "test_metrics",
        "baselines",
        "data_quality",
        "library_versions",
        "inference",
        "export",
    ):
        assert key in raw
    assert raw["feature"] == "temperature"
    assert raw["library_versions"]["onnxruntime"]
    metadata = TrainingMetadata.from_json_bytes(metadata_bytes)
    assert metadata.training_history.epochs_trained == len(progress.epochs)
    keras_zip = store.get(outcome.artifacts.model)
    assert keras_zip.meta.artifact_type is ArtifactType.MODEL
    assert zipfile.is_zipfile(io.BytesIO(keras_zip.data))

    # The promotion gate: the candidates scored on validation and backtest, the winner recorded
    # everywhere; the network (or its blend) is served only on significant evidence.
    sel = outcome.selection
    assert sel.target_mode == "residual_seasonal_naive"  # auto: season 24 found, beats last value
    base = {"network", "seasonal_naive", "last_value"}
    assert base <= set(sel.validation_scores) <= base | {"blend"}
    assert base <= set(sel.backtest_scores)
    assert outcome.serving == sel.serving == metadata.inference.selected
    maes = {k: v.mae for k, v in sel.validation_scores.items()}
    assert all(v is not None for v in maes.values())
    assert sel.best_baseline in ("seasonal_naive", "last_value")
    verdicts = {v.candidate: v for v in sel.evidence}
    assert "network" in verdicts and verdicts["network"].test.p_value is not None
    if sel.serving in ("network", "blend"):
        assert verdicts[sel.serving].passes
        assert maes[sel.serving] < maes[sel.best_baseline]  # type: ignore[index,operator]
    else:
        assert sel.serving == sel.best_baseline and not any(v.passes for v in sel.evidence)
    assert (metadata.inference.blend is not None) == (sel.serving == "blend")
    assert outcome.baselines.season_evidence is not None and outcome.baselines.season_evidence.chosen == 24
    assert metadata.selection is not None and metadata.inference.intervals == sel.intervals
    assert set(sel.test_coverage) == {"80", "95"} and all(v is not None for v in sel.test_coverage.values())
    assert raw["selection"]["serving"] == sel.serving

    # The served forecaster (TensorFlow-free) reproduces the evaluated forecasts of the winner.
    forecaster = inference.load_forecaster(store, outcome.artifacts)
    assert forecaster.serving == sel.serving
    data = prepare_dataset(points, SMALL, feature="temperature")
    start = data.test_starts[:1]
    network = forecaster.network_forecast_windows(data.raw_inputs(start))
    assert network.shape == (1, 4)
    served = forecaster.forecast(data.raw_inputs(start)[0])
    assert served.shape == (4,)
    result = forecaster.forecast_points(points[-forecaster.context_points :])
    assert len(result.values) == 4 and result.serving == sel.serving
    assert set(result.intervals) == {"80", "95"}
    for band in result.intervals.values():
        assert all(lo <= v <= hi for lo, v, hi in zip(band.lower, result.values, band.upper, strict=True))


def test_a_small_series_trains_a_narrower_network_that_still_exports_and_serves(make_series) -> None:  # type: ignore[no-untyped-def]
    store = InMemoryArtifactStore()
    config = SMALL.model_copy(update={"rnn_layers": [RnnLayerConfig(units=64, dropout=0.0)], "epochs": 3})
    outcome = run_training_job(make_series(160, period=12), config, JOB, store)
    metadata = TrainingMetadata.from_json_bytes(store.get(outcome.artifacts.metadata).data)
    rule = metadata.training_history.regularization
    assert rule is not None and rule.applied
    assert metadata.network.rnn_units == rule.rnn_units and rule.rnn_units[0] < 64
    assert rule.fitted_parameters <= rule.parameter_budget == 10 * rule.train_windows
    assert metadata.training_config.rnn_layers[0].units == 64  # the configuration as given
    assert outcome.parity_max_abs_diff <= 1e-4
    forecaster = inference.load_forecaster(store, outcome.artifacts)
    assert forecaster.forecast(np.full(forecaster.context_length, 10.0)).shape == (4,)


def test_cpu_training_is_reproducible(make_series) -> None:  # type: ignore[no-untyped-def]
    from chronos_core.ml.fitting import fit_network
    from chronos_core.ml.pipeline import NullProgress

    config = SMALL.model_copy(update={"epochs": 2})
    data = prepare_dataset(make_series(300, period=24), config)
    first = fit_network(data, NullProgress())
    second = fit_network(data, NullProgress())
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.history.history["loss"] == second.history.history["loss"]


def test_cancellation_stops_the_fit_and_writes_nothing(make_series) -> None:  # type: ignore[no-untyped-def]
    store = InMemoryArtifactStore()
    progress = RecordingProgress(stop_after=1)
    with pytest.raises(TrainingCancelledError):
        run_training_job(make_series(300), SMALL, JOB, store, progress)
    assert len(progress.epochs) == 1
    assert len(store) == 0


@pytest.mark.slow
def test_keras_artifact_reloads_in_safe_mode(make_series) -> None:  # type: ignore[no-untyped-def]
    import tempfile
    from pathlib import Path

    import keras

    store = InMemoryArtifactStore()
    config = SMALL.model_copy(update={"model_type": "gru", "epochs": 2})
    outcome = run_training_job(make_series(300), config, JOB, store)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.keras"
        path.write_bytes(store.get(outcome.artifacts.model).data)
        model = keras.saving.load_model(path, safe_mode=True)
    assert model.output_shape == (None, 4)
