"""Training configuration for one forecasting job, independent of the persistence model.

A domain ``Model`` becomes a :class:`TrainingConfig` with :func:`training_config_for`; this
module owns only what the machine-learning code needs, with the same names and bounds as the
model definition, plus the preprocessing and evaluation knobs the model does not (yet) expose.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chronos_core.domain.evaluation import ServingChoice as DomainServingChoice
from chronos_core.domain.model import Model, default_patience
from chronos_core.domain.sampling import canonical_sampling_interval

ModelKind = Literal["lstm", "gru"]

#: Dense activations the exporter and the inference runtime both implement.
Activation = Literal["relu", "tanh", "sigmoid", "linear", "elu", "selu", "gelu", "swish"]

#: How a window is normalised before it reaches the network (see ``transforms``).
#: ``global``: z-score with the training split's mean and scale.
#: ``last_value``: the z-scored window minus its own last value (targets likewise); the network
#: then learns changes relative to the present, which makes level shifts harmless.
WindowNormalization = Literal["global", "last_value"]

#: What the network learns (see ``transforms.TransformSpec``). ``auto`` (the default) picks, on the
#: validation split, the better of the two naive forecasts and trains the network on the residual
#: over it: ``residual_seasonal_naive`` when a season was found, the seasonal-naive forecast beats
#: the last value and enough training windows remain with the longer context; otherwise
#: ``residual_last_value``. ``direct`` keeps the plain encoding of ``window_normalization``.
TargetModeSetting = Literal["auto", "direct", "residual_last_value", "residual_seasonal_naive"]

#: Forecasters the promotion gate chooses from.
ServingChoice = DomainServingChoice

_Dropout = Annotated[float, Field(ge=0.0, lt=1.0)]
_Window = Annotated[int, Field(ge=1, le=8760)]
_Ratio = Annotated[float, Field(gt=0.0, lt=1.0)]


class RnnLayerConfig(BaseModel):
    """One recurrent layer.

    ``dropout`` is applied to the layer's *outputs* (a ``Dropout`` layer after it), not to its
    inputs: for a univariate series input dropout would zero the only feature. A non-zero
    ``recurrent_dropout`` disables the cuDNN kernels on a GPU.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: int = Field(gt=0, le=2048)
    dropout: _Dropout = 0.1
    recurrent_dropout: _Dropout = 0.0


class DenseLayerConfig(BaseModel):
    """One hidden dense layer between the recurrent stack and the multi-step head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: int = Field(gt=0, le=2048)
    dropout: _Dropout = 0.1
    activation: Activation = "relu"


class TrainingConfig(BaseModel):
    """Everything one training job needs to know about the network and the data handling.

    Hyperparameter fields mirror the model definition (same names, same defaults as the
    reference: one LSTM layer of 64 units, L = 24, H = 1, batch 32, 100 epochs, lr 1e-3,
    ratios 0.15 / 0.15). ``early_stopping_patience=None`` means "derive it with
    :func:`default_patience`".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_type: ModelKind = "lstm"
    rnn_layers: list[RnnLayerConfig] = Field(
        default_factory=lambda: [RnnLayerConfig(units=64)], min_length=1, max_length=8
    )
    dense_layers: list[DenseLayerConfig] = Field(default_factory=list, max_length=8)
    lookback_window: _Window = 24
    forecast_horizon: _Window = 1
    batch_size: int = Field(default=32, ge=1, le=1024)
    epochs: int = Field(default=100, ge=1, le=1000)
    learning_rate: float = Field(default=0.001, gt=0.0, le=1.0)
    validation_ratio: _Ratio = 0.15
    test_ratio: _Ratio = 0.15
    early_stopping_patience: int | None = Field(default=None, ge=1, le=1000)

    # Preprocessing.
    sampling_interval: str | None = Field(
        default=None,
        description="The series' grid as an ISO-8601 duration (PT30M, P1D, P1W, P1M, P3M, P1Y); "
        "None detects the cadence from the timestamps (see chronos_core.ml.grid).",
    )
    max_interpolated_gap: int = Field(
        default=3,
        ge=0,
        le=1000,
        description="Longest run of missing grid points filled by linear interpolation; a longer "
        "gap splits the series into segments and no window crosses it.",
    )
    window_normalization: WindowNormalization = Field(
        default="last_value",
        description="Input normalisation in 'direct' target mode: 'last_value' (default) makes "
        "the inputs relative to the latest value so unseen levels and trends stay in range.",
    )
    target_mode: TargetModeSetting = "auto"

    # Evaluation.
    season_length: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Season of the seasonal-naive baseline and of MASE, in grid steps; None "
        "detects it from the training split's autocorrelation (1 when none is found).",
    )

    max_season_length: int = Field(
        default=20_000,
        ge=2,
        le=100_000,
        description="Longest season the detector considers, in grid steps.",
    )

    # Promotion gate and prediction intervals.
    gate_margin: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="The network (or the blend) is served only when its MAE is below "
        "(1 - gate_margin) x the best baseline's on validation and backtest, significantly so on "
        "validation (see gate_significance_level).",
    )
    gate_significance_level: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="The one-sided Diebold-Mariano p-value (validation windows) below which the "
        "network's or the blend's lead over the best baseline counts; 1.0 disables the test.",
    )
    interval_levels: list[float] = Field(
        default_factory=lambda: [0.8, 0.95],
        min_length=1,
        max_length=5,
        description="Nominal coverages of the split-conformal prediction intervals.",
    )

    # Execution.
    seed: int = Field(default=42, ge=0, le=2**31 - 1)
    shuffle: bool = True
    mixed_precision: Literal["auto", "on", "off"] = Field(
        default="auto", description="'auto' enables mixed_float16 only on a GPU."
    )
    parity_tolerance: float = Field(
        default=1e-4, gt=0.0, description="Max |keras - exported| in scaled units before a job fails."
    )

    @field_validator("sampling_interval")
    @classmethod
    def _canonical_interval(cls, value: str | None) -> str | None:
        return None if value is None else canonical_sampling_interval(value)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        if self.validation_ratio + self.test_ratio >= 1.0:
            raise ValueError("validation_ratio + test_ratio must be less than 1.0")
        if self.early_stopping_patience is not None and self.early_stopping_patience > self.epochs:
            raise ValueError("early_stopping_patience cannot be greater than epochs")
        if any(not 0.5 <= level < 1.0 for level in self.interval_levels):
            raise ValueError("interval_levels must lie in [0.5, 1.0)")
        return self

    @property
    def train_ratio(self) -> float:
        return 1.0 - self.validation_ratio - self.test_ratio

    @property
    def patience(self) -> int:
        """Early-stopping patience in force (explicit, else derived)."""
        if self.early_stopping_patience is not None:
            return self.early_stopping_patience
        return default_patience(self.epochs)

    @property
    def lr_patience(self) -> int:
        """ReduceLROnPlateau patience, the reference's rule ``max(3, patience // 3)``."""
        return max(3, self.patience // 3)


class JobIdentity(BaseModel):
    """Who a training run belongs to; copied into every artifact's metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_id: str = Field(min_length=1)
    training_job_id: str = Field(min_length=1)
    feature: str = Field(default="value", min_length=1)


def training_config_for(model: Model) -> TrainingConfig:
    """The training configuration of a model definition (its hyperparameters; the library's
    defaults for everything the definition does not set)."""
    hp = model.hyperparameters
    return TrainingConfig(
        model_type=model.model_type.value,
        rnn_layers=[RnnLayerConfig(**layer.model_dump()) for layer in hp.rnn_layers],
        dense_layers=[DenseLayerConfig(**layer.model_dump()) for layer in hp.dense_layers],
        lookback_window=hp.lookback_window,
        forecast_horizon=hp.forecast_horizon,
        batch_size=hp.batch_size,
        epochs=hp.epochs,
        learning_rate=hp.learning_rate,
        validation_ratio=hp.validation_ratio,
        test_ratio=hp.test_ratio,
        early_stopping_patience=hp.early_stopping_patience,
        sampling_interval=hp.sampling_interval,
        season_length=hp.season_length,
    )
