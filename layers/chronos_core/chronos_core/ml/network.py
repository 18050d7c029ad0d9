"""The network's architecture as data, shared by the Keras builder and the ONNX exporter.

The network maps ``(N, L, 1)`` encoded windows to ``(N, H)`` encoded forecasts: a stack of LSTM
or GRU layers (all but the last return sequences), optional dense layers, and a linear
``Dense(H)`` head that emits all horizon steps at once (direct multi-step; no recursion, so one
forecast is one network call and the error measured on the test split is the error served).

Weights travel as the flat list Keras' ``model.get_weights()`` returns for this architecture:
per recurrent layer ``kernel, recurrent_kernel, bias``; per dense layer and the head
``kernel, bias``. Dropout layers have no weights.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.ml.config import Activation, ModelKind, TrainingConfig


class DenseSpec(BaseModel):
    """A dense layer as it matters at inference (dropout is training-only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: int = Field(gt=0)
    activation: Activation = "relu"


class NetworkSpec(BaseModel):
    """Inference-relevant architecture of a trained network."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_type: ModelKind
    lookback: int = Field(ge=1)
    horizon: int = Field(ge=1)
    n_features: int = Field(default=1, ge=1)
    rnn_units: list[int] = Field(min_length=1)
    dense: list[DenseSpec] = Field(default_factory=list)

    @classmethod
    def from_config(cls, config: TrainingConfig) -> NetworkSpec:
        return cls(
            model_type=config.model_type,
            lookback=config.lookback_window,
            horizon=config.forecast_horizon,
            rnn_units=[layer.units for layer in config.rnn_layers],
            dense=[DenseSpec(units=d.units, activation=d.activation) for d in config.dense_layers],
        )

    @property
    def weight_count(self) -> int:
        """Number of arrays in the flat weight list."""
        return 3 * len(self.rnn_units) + 2 * len(self.dense) + 2
