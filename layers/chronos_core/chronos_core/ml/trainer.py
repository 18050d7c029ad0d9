"""The forecasting library behind the application's training ports.

:class:`DatasetCheck` is the pipeline's preparation check (numpy only); :class:`NetworkTrainer`
runs :func:`~chronos_core.ml.pipeline.run_training_job` (TensorFlow, imported only when it
trains) and turns its outcome into the domain's :class:`TrainingResult`.
"""

from __future__ import annotations

from collections.abc import Sequence

from chronos_core.application.ports.artifacts import ArtifactStore
from chronos_core.application.ports.pipeline import ProgressReporter, RawPoint, TrainOptions
from chronos_core.domain.artifacts import ArtifactType, verify
from chronos_core.domain.evaluation import TrainingMetrics, TrainingResult, TrainingRunSummary
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model
from chronos_core.domain.training_job import DatasetSummary
from chronos_core.ml.config import JobIdentity, training_config_for
from chronos_core.ml.inference import load_forecaster
from chronos_core.ml.preprocessing import prepare_dataset


class DatasetCheck:
    """:class:`~chronos_core.application.ports.pipeline.DatasetPreparer`: the training's own
    preprocessing, run before anything heavy."""

    def summarize(self, points: Sequence[RawPoint], model: Model) -> DatasetSummary:
        prepared = prepare_dataset(points, training_config_for(model), feature=model.source.feature)
        return DatasetSummary(
            data_quality=prepared.quality, sampling_interval_seconds=float(prepared.series.interval)
        )


class NetworkTrainer:
    """:class:`~chronos_core.application.ports.pipeline.Trainer` writing artifacts to ``store``."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def train(
        self,
        points: Sequence[RawPoint],
        model: Model,
        job_id: JobId,
        progress: ProgressReporter,
        options: TrainOptions | None = None,
    ) -> TrainingResult:
        from chronos_core.ml.pipeline import Champion, WarmStartSource, run_training_job  # TF inside

        identity = JobIdentity(model_id=model.id, training_job_id=job_id, feature=model.source.feature)
        champion_ref = options.champion if options else None
        champion = (
            Champion(
                forecaster=load_forecaster(self._store, champion_ref.artifacts), job_id=champion_ref.job_id
            )
            if champion_ref
            else None
        )
        warm = None
        if champion_ref is not None and options is not None and options.warm_start:
            keras_file = verify(self._store.get(champion_ref.artifacts.model), ArtifactType.MODEL)
            warm = WarmStartSource(job_id=champion_ref.job_id, keras_bytes=keras_file.data)
        outcome = run_training_job(
            points,
            training_config_for(model),
            identity,
            self._store,
            progress,
            champion=champion,
            warm_start=warm,
        )
        selection = outcome.selection
        return TrainingResult(
            artifacts=outcome.artifacts,
            serving=outcome.serving,
            selection=selection.decision(),
            metrics=TrainingMetrics(
                test=outcome.test_metrics,
                served=selection.test_metrics,
                test_coverage=selection.test_coverage,
                baselines=outcome.baselines,
            ),
            summary=TrainingRunSummary(
                parity_max_abs_diff=outcome.parity_max_abs_diff,
                durations=outcome.durations,
                lookback_window=outcome.lookback_window,
                forecast_horizon=outcome.forecast_horizon,
            ),
            sampling_interval_seconds=outcome.sampling_interval_seconds,
            data_quality=outcome.data_quality,
            comparison=outcome.comparison,
            warm_start=outcome.warm_start,
        )
