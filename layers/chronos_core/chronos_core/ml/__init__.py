"""Forecasting: preprocessing, metrics, training (TensorFlow only inside the training module).

Public entry points (import them from their modules; this package imports nothing eagerly so
that the forecast path stays light):

- Training one job (TensorFlow imported lazily, inside):
  :func:`chronos_core.ml.pipeline.run_training_job` ``(points, config: TrainingConfig,
  job: JobIdentity, store: ArtifactStore, progress: ProgressReporter | None) -> TrainingOutcome``.
- Admission check shared with the API: :func:`chronos_core.ml.preprocessing.minimum_points`.
- Forecasting without TensorFlow: :func:`chronos_core.ml.inference.load_forecaster`
  ``(store: ArtifactReader, refs: ArtifactRefs) -> Forecaster``, then
  ``Forecaster.forecast(last_values)`` or ``Forecaster.forecast_points(points)`` with the latest
  ``Forecaster.context_points`` points; it serves the promotion gate's winner
  (``Forecaster.serving``) with split-conformal intervals, applying the training's gap policy to
  the context (``serving_context``; the result's ``quality`` says how).

Modules: ``config`` (TrainingConfig), ``grid`` (cadence detection; calendar-month and seconds
grids, forecast target instants), ``preprocessing`` (clean, grid, split, windows),
``transforms`` (JSON scalers, window encoding), ``baselines`` (naive forecasts, season
detection), ``metrics``, ``conformal`` (split-conformal intervals, coverage), ``network``
(architecture as data), ``onnx_export``, ``training`` (Keras; the only TensorFlow importer),
``artifacts`` (schemas, checksums), ``inference``, ``serving_context`` (the forecast's context
and its quality),
``pipeline``, ``errors``.
"""
