"""Network construction and fitting: the only module that imports TensorFlow (lazily).

Import cost lands on the first call of :func:`fit_network` (or :func:`build_keras_model`), never on
``import chronos_core.ml.fitting``; the inference path never imports this module.

Contract of :func:`fit_network`:

- Architecture per :mod:`chronos_core.ml.network`; each RNN layer's ``dropout`` is a ``Dropout``
  after it, ``recurrent_dropout`` goes to the cell. Cell activations stay at their defaults
  (tanh / sigmoid, ``use_bias``, GRU ``reset_after=True``, not unrolled), which is what lets
  Keras pick the cuDNN kernels on a GPU (``recurrent_dropout > 0`` forbids them; a warning says so).
- Regularised by data size (:func:`regularize_for_data_size`): beyond
  :data:`PARAMETERS_PER_WINDOW` parameters per training window the layers are narrowed, dropout
  raised and weight decay added; the exported spec is the network actually fitted.
- Adam(``learning_rate``), MSE loss, ``EarlyStopping(val_loss, patience, restore_best_weights)``
  with the reference's patience rule, ``ReduceLROnPlateau(factor 0.5, patience max(3, p // 3),
  min_lr 1e-6)``, ``TerminateOnNaN``.
- Seeded with ``config.seed`` (Python, numpy, TF); on CPU op determinism is enabled, so two fits
  with the same data and config give the same weights.
- On a GPU, ``mixed_float16`` when ``config.mixed_precision`` is ``auto`` or ``on`` (the head
  stays float32). The exported/served network is a float32 clone with the trained weights.
- Progress goes to the :class:`ProgressReporter` after every epoch; when it answers
  ``should_stop()`` the fit stops at the end of that epoch and ``cancelled`` is set.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from chronos_core.application.ports.pipeline import ProgressReporter
from chronos_core.domain.errors import ChronosError
from chronos_core.domain.training_job import EpochProgress
from chronos_core.ml.artifacts import SizeRegularization, TrainingHistory
from chronos_core.ml.config import TrainingConfig
from chronos_core.ml.metrics import finite_or_none
from chronos_core.ml.network import NetworkSpec
from chronos_core.ml.preprocessing import PreparedDataset
from chronos_core.ml.transforms import F32Array
from chronos_core.observability import logger


class TrainingDivergedError(ChronosError):
    """The loss became NaN or infinite; no usable weights exist."""

    code = "training_diverged"


@dataclass(frozen=True)
class TrainedNetwork:
    """The outcome of a fit."""

    spec: NetworkSpec
    weights: list[npt.NDArray[np.float32]]
    keras_bytes: bytes
    history: TrainingHistory
    predict: Callable[[F32Array], F32Array]
    cancelled: bool
    #: The fit started from given weights (a warm start), and why it did or did not.
    warm_started: bool = False
    warm_start_note: str | None = None


def _import_tf() -> tuple[Any, Any]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    return tf, keras


def library_versions() -> dict[str, str | None]:
    """Versions of TensorFlow and Keras (imports them)."""
    tf, keras = _import_tf()
    return {"tensorflow": str(tf.__version__), "keras": str(keras.__version__)}


def configure_runtime(config: TrainingConfig) -> tuple[str, bool]:
    """Seed everything, pick the device and the dtype policy. Returns ``(device, mixed)``."""
    tf, keras = _import_tf()
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        with contextlib.suppress(RuntimeError):  # already initialised in this process
            tf.config.experimental.set_memory_growth(gpu, True)
    mixed = (bool(gpus) and config.mixed_precision != "off") or config.mixed_precision == "on"
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    keras.utils.set_random_seed(config.seed)
    if not gpus:
        tf.config.experimental.enable_op_determinism()
    device = "cpu"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"gpu:{details.get('device_name', gpus[0].name)}"
    return device, mixed


def build_keras_model(config: TrainingConfig, *, dtype: str | None = None) -> Any:
    """The Keras model for ``config`` (uncompiled). ``dtype='float32'`` forces a float32 clone."""
    _, keras = _import_tf()
    layers = keras.layers
    inputs = keras.Input(shape=(config.lookback_window, 1), name="x")
    x = inputs
    cell = layers.LSTM if config.model_type == "lstm" else layers.GRU
    last = len(config.rnn_layers) - 1
    for i, rnn in enumerate(config.rnn_layers):
        x = cell(
            rnn.units,
            return_sequences=i < last,
            recurrent_dropout=rnn.recurrent_dropout,
            name=f"rnn{i}",
            dtype=dtype,
        )(x)
        if rnn.dropout > 0:
            x = layers.Dropout(rnn.dropout, name=f"rnn{i}_dropout", dtype=dtype)(x)
    for j, dense in enumerate(config.dense_layers):
        x = layers.Dense(dense.units, activation=dense.activation, name=f"dense{j}", dtype=dtype)(x)
        if dense.dropout > 0:
            x = layers.Dropout(dense.dropout, name=f"dense{j}_dropout", dtype=dtype)(x)
    outputs = layers.Dense(config.forecast_horizon, name="head", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"chronos_{config.model_type}")


def keras_predictor(model: Any) -> Callable[[F32Array], F32Array]:
    """A batched inference function (training=False) for a Keras model."""

    def predict(x: F32Array) -> F32Array:
        out = model.predict(np.asarray(x, np.float32), batch_size=4096, verbose=0)
        return np.asarray(out, dtype=np.float32)

    return predict


def keras_model_bytes(model: Any) -> bytes:
    """The ``.keras`` zip of ``model``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _make_progress_callback(keras: Any, progress: ProgressReporter, epochs: int) -> Any:
    class ProgressCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.cancelled = False
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            lr = logs.get("learning_rate")
            if lr is None:
                try:
                    lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                except (AttributeError, TypeError, ValueError):
                    lr = None
            progress.epoch(
                EpochProgress(
                    epoch=epoch + 1,
                    epochs=epochs,
                    loss=finite_or_none(logs.get("loss")),
                    val_loss=finite_or_none(logs.get("val_loss")),
                    learning_rate=finite_or_none(lr),
                    elapsed_seconds=time.perf_counter() - self._t0,
                )
            )
            if progress.should_stop():
                self.cancelled = True
                self.model.stop_training = True

    return ProgressCallback()


# --------------------------------------------------------------------------------------------
# Regularisation by data size
# --------------------------------------------------------------------------------------------

#: Trainable parameters the network may have per training window. A window's H targets overlap
#: its neighbours', so the windows, not the target values, measure how much the data can support.
PARAMETERS_PER_WINDOW = 10
#: No layer is shrunk below this width.
MIN_UNITS = 4
#: Dropout floor and (decoupled, Adam) weight decay of a shrunk network.
SMALL_DATA_DROPOUT = 0.2
SMALL_DATA_WEIGHT_DECAY = 0.01


def parameter_count(config: TrainingConfig) -> int:
    """Trainable parameters of the network ``config`` describes (LSTM: 4 gates, GRU: 3 gates
    with ``reset_after``'s second bias; dense layers and the ``H``-unit head)."""
    total, width = 0, 1
    for layer in config.rnn_layers:
        u = layer.units
        total += (
            4 * (width * u + u * u + u) if config.model_type == "lstm" else 3 * (width * u + u * u + 2 * u)
        )
        width = u
    for dense in config.dense_layers:
        total += width * dense.units + dense.units
        width = dense.units
    return total + width * config.forecast_horizon + config.forecast_horizon


def _scaled(config: TrainingConfig, factor: float) -> TrainingConfig:
    """``config`` with every layer ``factor`` times as wide (at least :data:`MIN_UNITS`, never wider)
    and the small-data dropout floor."""

    def width(units: int) -> int:
        return max(min(units, MIN_UNITS), min(units, int(units * factor)))

    return config.model_copy(
        update={
            "rnn_layers": [
                layer.model_copy(
                    update={"units": width(layer.units), "dropout": max(layer.dropout, SMALL_DATA_DROPOUT)}
                )
                for layer in config.rnn_layers
            ],
            "dense_layers": [
                layer.model_copy(
                    update={"units": width(layer.units), "dropout": max(layer.dropout, SMALL_DATA_DROPOUT)}
                )
                for layer in config.dense_layers
            ],
        }
    )


def regularize_for_data_size(
    config: TrainingConfig, train_windows: int
) -> tuple[TrainingConfig, SizeRegularization]:
    """The configuration actually fitted on ``train_windows`` windows, and what was changed.

    Rule: the network may have at most :data:`PARAMETERS_PER_WINDOW` x ``train_windows`` trainable
    parameters. Within that budget the configuration is fitted as given. Beyond it every layer is
    narrowed by one common factor (the largest that fits the budget; no layer below
    :data:`MIN_UNITS`), the dropout of every layer is raised to at least
    :data:`SMALL_DATA_DROPOUT` and Adam gets a decoupled weight decay of
    :data:`SMALL_DATA_WEIGHT_DECAY`: a few hundred points then cannot be memorised in a few
    epochs. (The gate still serves the network only on significant evidence.)
    """
    budget = PARAMETERS_PER_WINDOW * max(0, int(train_windows))
    configured = parameter_count(config)

    def report(fitted: TrainingConfig, applied: bool, rule: str) -> SizeRegularization:
        return SizeRegularization(
            applied=applied,
            train_windows=int(train_windows),
            parameter_budget=budget,
            configured_parameters=configured,
            fitted_parameters=parameter_count(fitted),
            rnn_units=[layer.units for layer in fitted.rnn_layers],
            dense_units=[layer.units for layer in fitted.dense_layers],
            min_dropout=SMALL_DATA_DROPOUT if applied else 0.0,
            weight_decay=SMALL_DATA_WEIGHT_DECAY if applied else None,
            rule=rule,
        )

    if configured <= budget:
        return config, report(config, False, f"{configured} parameters within the budget of {budget}")
    lo, hi = 0.0, 1.0  # the largest factor whose network fits the budget (bisection)
    for _ in range(30):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if parameter_count(_scaled(config, mid)) <= budget else (lo, mid)
    fitted = _scaled(config, lo)
    rule = (
        f"{configured} parameters exceed {PARAMETERS_PER_WINDOW} x {train_windows} training windows: layers "
        f"narrowed to {parameter_count(fitted)} parameters, dropout >= {SMALL_DATA_DROPOUT:g}, weight decay "
        f"{SMALL_DATA_WEIGHT_DECAY:g}"
    )
    return fitted, report(fitted, True, rule)


def keras_weights(data: bytes) -> list[npt.NDArray[np.float32]]:
    """The weights of a ``.keras`` model (``model.get_weights()`` order)."""
    _, keras = _import_tf()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        model = keras.models.load_model(path, compile=False)
    return [np.asarray(w, dtype=np.float32) for w in model.get_weights()]


def _warm_start(model: Any, initial: list[npt.NDArray[np.float32]] | None) -> tuple[bool, str | None]:
    """Set ``initial`` on ``model`` when every weight has the same shape; ``(applied, note)``."""
    if initial is None:
        return False, None
    current = model.get_weights()
    shapes = [tuple(w.shape) for w in current]
    given = [tuple(np.shape(w)) for w in initial]
    if shapes != given:
        return (
            False,
            "the champion's network has another architecture (or size regularisation changed it): cold start",
        )
    model.set_weights([np.asarray(w, dtype=c.dtype) for w, c in zip(initial, current, strict=True)])
    return True, "started from the champion's weights"


def fit_network(
    prepared: PreparedDataset,
    progress: ProgressReporter,
    *,
    initial_weights: list[npt.NDArray[np.float32]] | None = None,
) -> TrainedNetwork:
    """Train the network described by ``prepared.config`` on ``prepared``'s train/validation
    windows, narrowed and regularised for a small training set (:func:`regularize_for_data_size`;
    the returned ``spec`` is the network actually fitted). ``initial_weights`` (a warm start)
    are used when their shapes match the network's; otherwise the fit starts cold."""
    _, keras = _import_tf()
    x_train, y_train = prepared.network_arrays(prepared.train_starts)
    x_val, y_val = prepared.network_arrays(prepared.validation_starts)
    config, regularization = regularize_for_data_size(prepared.config, int(x_train.shape[0]))
    if regularization.applied:
        logger.info("small training set: network narrowed", extra={"rule": regularization.rule})
    device, mixed = configure_runtime(config)
    if device.startswith("gpu") and any(layer.recurrent_dropout > 0 for layer in config.rnn_layers):
        logger.warning("recurrent_dropout > 0 disables the cuDNN RNN kernels; training will be slower")

    model = build_keras_model(config)
    warm, warm_note = _warm_start(model, initial_weights)
    optimizer = keras.optimizers.Adam(
        learning_rate=config.learning_rate, weight_decay=regularization.weight_decay
    )
    model.compile(optimizer=optimizer, loss="mse")
    progress_cb = _make_progress_callback(keras, progress, config.epochs)
    early = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.patience, restore_best_weights=True
    )
    callbacks = [
        early,
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=config.lr_patience, min_lr=1e-6
        ),
        keras.callbacks.TerminateOnNaN(),
        progress_cb,
    ]
    t0 = time.perf_counter()
    fit = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=config.shuffle,
        verbose=0,
        callbacks=callbacks,
    )
    duration = time.perf_counter() - t0

    raw_history: dict[str, list[Any]] = {k: list(v) for k, v in fit.history.items()}
    history = {k: [finite_or_none(float(x)) for x in v] for k, v in raw_history.items()}
    val = np.array([np.nan if x is None else x for x in history.get("val_loss", [])], dtype=np.float64)
    if val.size == 0 or not np.any(np.isfinite(val)):
        raise TrainingDivergedError("Training produced no finite validation loss (the loss diverged).")
    best = int(np.nanargmin(val))
    epochs_trained = len(val)
    losses = history.get("loss", [])

    clone = build_keras_model(config, dtype="float32")
    clone.set_weights(model.get_weights())
    weights = [np.asarray(w, dtype=np.float32) for w in clone.get_weights()]
    result_history = TrainingHistory(
        best_epoch=best,
        epochs_trained=epochs_trained,
        best_train_loss=losses[best] if best < len(losses) else None,
        best_val_loss=finite_or_none(val[best]),
        stopped_early=epochs_trained < config.epochs and not progress_cb.cancelled,
        history=history,
        duration_seconds=duration,
        device=device,
        mixed_precision=mixed,
        windows_per_second=(x_train.shape[0] * epochs_trained / duration) if duration > 0 else None,
        regularization=regularization,
    )
    return TrainedNetwork(
        spec=NetworkSpec.from_config(config),
        weights=weights,
        keras_bytes=keras_model_bytes(clone),
        history=result_history,
        predict=keras_predictor(clone),
        cancelled=bool(progress_cb.cancelled),
        warm_started=warm,
        warm_start_note=warm_note,
    )
