"""The forecasting model definition: hyperparameters, FIWARE coordinates and lifecycle status.

A ``Model`` is a definition, not trained weights: training jobs (one model, many jobs) produce
the weights. Every rule a definition must satisfy lives here so that create, update and training
admission apply exactly the same checks.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.evaluation import ServingChoice
from chronos_core.domain.fiware import (
    validate_attribute_name,
    validate_ngsi_id,
    validate_path_addressable,
    validate_service,
    validate_servicepath,
)
from chronos_core.domain.ids import ModelId
from chronos_core.domain.sampling import canonical_sampling_interval

MAX_WINDOW = 8760
MAX_UNITS = 2048
#: Longest season a definition may state, in grid steps (the detector's own bound).
MAX_SEASON_LENGTH = 20_000


class ModelType(StrEnum):
    """Recurrent cell used by the network."""

    LSTM = "lstm"
    GRU = "gru"

    @property
    def label(self) -> str:
        return self.value.upper()


class ModelStatus(StrEnum):
    """Lifecycle of a definition: ``draft`` until a training starts, ``trained`` once one succeeded."""

    DRAFT = "draft"
    TRAINING = "training"
    TRAINED = "trained"


# Strict numbers: ``true`` is not 1 and ``"10"`` is not 10 (an int still counts as a float).
Dropout = Annotated[float, Field(ge=0.0, lt=1.0, strict=True)]
BatchSize = Annotated[int, Field(ge=1, le=1024, strict=True)]
Epochs = Annotated[int, Field(ge=1, le=1000, strict=True)]
LearningRate = Annotated[float, Field(gt=0.0, le=1.0, strict=True)]
Ratio = Annotated[float, Field(gt=0.0, lt=1.0, strict=True)]
Window = Annotated[int, Field(ge=1, le=MAX_WINDOW, strict=True)]
Patience = Annotated[int, Field(ge=1, le=1000, strict=True)]
Units = Annotated[int, Field(gt=0, le=MAX_UNITS, strict=True)]
#: An ISO-8601 duration naming the series' grid (``PT30M``, ``P1D``, ``P1W``, ``P1M``, ``P3M``,
#: ``P1Y``), stored in its canonical spelling; see :mod:`chronos_core.domain.sampling`.
SamplingIntervalText = Annotated[
    str, Field(strict=True, min_length=2, max_length=40), AfterValidator(canonical_sampling_interval)
]
#: The season in grid steps (1: no season), overriding detection.
SeasonLength = Annotated[int, Field(ge=1, le=MAX_SEASON_LENGTH, strict=True)]


class RnnLayer(BaseModel):
    """One recurrent layer. All but the last return sequences to the next one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: Units
    dropout: Dropout = 0.1
    recurrent_dropout: Dropout = 0.0


class DenseLayer(BaseModel):
    """One hidden dense layer between the recurrent stack and the output head."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    units: Units
    dropout: Dropout = 0.1
    activation: str = Field(default="relu", pattern=r"^(relu|tanh|sigmoid|linear|elu|selu|gelu|swish)$")


RnnStack = Annotated[list[RnnLayer], Field(min_length=1, max_length=8)]
DenseStack = Annotated[list[DenseLayer], Field(max_length=8)]


def default_patience(epochs: int) -> int:
    """Early-stopping patience derived from ``epochs``: 10 % clamped to [5, 20], never above epochs."""
    return min(max(int(epochs * 0.1), 5), 20, epochs)


def split_sizes(n: int, validation_ratio: float, test_ratio: float) -> tuple[int, int, int]:
    """Chronological split sizes ``(train, validation, test)`` of ``n`` grid points.

    Validation and test take ``floor(ratio * n)`` points each (the last ones); train the rest.
    """
    n_test = math.floor(test_ratio * n)
    n_val = math.floor(validation_ratio * n)
    return n - n_val - n_test, n_val, n_test


def minimum_points(lookback: int, horizon: int, validation_ratio: float, test_ratio: float) -> int:
    """Smallest gap-free series length that yields at least one window in every split.

    One rule for every caller (API admission, pipeline, trainer): train must hold ``L + H``
    points, validation and test ``H`` each (their windows may read inputs from earlier splits).
    """
    n = lookback + 3 * horizon
    while True:
        n_train, n_val, n_test = split_sizes(n, validation_ratio, test_ratio)
        if n_train >= lookback + horizon and n_val >= horizon and n_test >= horizon:
            return n
        n += 1


def default_name(model_type: ModelType, feature: str) -> str:
    return f"{model_type.label} - {feature}"


def default_description(model_type: ModelType, feature: str) -> str:
    return f"{model_type.label} model for {feature} forecasting"


def iso_z(value: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix and millisecond precision (the wire format:
    ``2024-03-01T10:00:00.000Z``); a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(value: datetime) -> int:
    """Whole milliseconds since the epoch (the resolution of FIWARE times); naive is UTC."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(value: int) -> datetime:
    """The UTC datetime ``value`` milliseconds after the epoch."""
    return _EPOCH + timedelta(milliseconds=value)


#: A datetime that serialises to JSON as :func:`iso_z`.
UtcDateTime = Annotated[datetime, PlainSerializer(iso_z, return_type=str, when_used="json")]


def utcnow() -> datetime:
    """Current time, timezone-aware UTC, truncated to milliseconds (BSON date precision)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


class Hyperparameters(BaseModel):
    """Training configuration of a model. Validated as a whole (cross-field rules included)."""

    model_config = ConfigDict(extra="forbid")

    batch_size: BatchSize = 32
    epochs: Epochs = 100
    learning_rate: LearningRate = 0.001
    validation_ratio: Ratio = 0.15
    test_ratio: Ratio = 0.15
    rnn_layers: RnnStack
    dense_layers: DenseStack = Field(default_factory=list)
    early_stopping_patience: Patience
    lookback_window: Window = 24
    forecast_horizon: Window = 1
    #: The series' grid, overriding cadence detection (``None``: detected from the timestamps).
    sampling_interval: SamplingIntervalText | None = None
    #: The season in grid steps, overriding season detection (``None``: detected).
    season_length: SeasonLength | None = None

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        if self.validation_ratio + self.test_ratio >= 1.0:
            raise PydanticCustomError(
                "ratio_sum",
                "validation_ratio + test_ratio must be less than 1.0",
                {"fields": "validation_ratio,test_ratio"},
            )
        if self.early_stopping_patience > self.epochs:
            raise PydanticCustomError(
                "patience_above_epochs",
                "early_stopping_patience cannot be greater than epochs",
                {"fields": "early_stopping_patience,epochs"},
            )
        return self

    @property
    def train_ratio(self) -> float:
        return 1.0 - self.validation_ratio - self.test_ratio

    def minimum_points(self) -> int:
        """The fewest gap-free points a training with these settings can use
        (:func:`minimum_points`)."""
        return minimum_points(
            self.lookback_window, self.forecast_horizon, self.validation_ratio, self.test_ratio
        )


class FiwareSource(BaseModel):
    """Where the model's series lives in FIWARE, including the tenant it belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity_type: str
    entity_id: str
    feature: str
    fiware_service: str
    fiware_servicepath: str = "/"

    @field_validator("entity_type", "entity_id")
    @classmethod
    def _ngsi_id(cls, value: str, info: ValidationInfo) -> str:
        return validate_path_addressable(str(info.field_name), validate_ngsi_id(str(info.field_name), value))

    @field_validator("feature")
    @classmethod
    def _attribute(cls, value: str) -> str:
        return validate_path_addressable("feature", validate_attribute_name("feature", value))

    @field_validator("fiware_service")
    @classmethod
    def _service(cls, value: str) -> str:
        return validate_service(value)

    @field_validator("fiware_servicepath")
    @classmethod
    def _servicepath(cls, value: str) -> str:
        return validate_servicepath(value)


class ServingSummary(BaseModel):
    """What a model serves since its latest successful training, and why (the gate's rule and
    the validation scores behind it, and the served forecaster's interval coverage)."""

    model_config = ConfigDict(extra="ignore")

    training_job_id: str
    serving: ServingChoice
    rule: str | None = None
    validation_scores: dict[str, Any] | None = None
    test_coverage: dict[str, float | None] | None = None


class Model(BaseModel):
    """A model definition as stored. ``id`` is a UUID string; datetimes are UTC."""

    model_config = ConfigDict(extra="ignore")

    id: ModelId = Field(default_factory=lambda: ModelId(str(uuid.uuid4())))
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(max_length=1000)
    model_type: ModelType
    status: ModelStatus = ModelStatus.DRAFT
    hyperparameters: Hyperparameters
    patience_is_derived: bool = True
    source: FiwareSource
    has_successful_training: bool = False
    serving: ServingSummary | None = None
    #: The champion (``serving.training_job_id``) is pinned: no challenger replaces it.
    champion_pinned: bool = False
    #: Earlier champions, the most recent last (a rollback returns to it).
    previous_champions: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def champion_job_id(self) -> str | None:
        """The serving job (the champion), if the model has one."""
        return self.serving.training_job_id if self.serving else None

    def is_editable(self) -> bool:
        return self.status == ModelStatus.DRAFT


class ModelDraft(BaseModel):
    """What a caller supplies to create a model; unset fields take their documented defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    model_type: ModelType
    batch_size: BatchSize = 32
    epochs: Epochs = 100
    learning_rate: LearningRate = 0.001
    validation_ratio: Ratio = 0.15
    test_ratio: Ratio = 0.15
    rnn_layers: RnnStack
    dense_layers: DenseStack = Field(default_factory=list)
    early_stopping_patience: Patience | None = None
    lookback_window: Window = 24
    forecast_horizon: Window = 1
    sampling_interval: SamplingIntervalText | None = None
    season_length: SeasonLength | None = None
    feature: str = Field(min_length=1, max_length=256)
    entity_type: str = Field(min_length=1, max_length=256)
    entity_id: str = Field(min_length=1, max_length=256)
    fiware_service: str = Field(min_length=1, max_length=50)
    fiware_servicepath: str = Field(default="/", min_length=1, max_length=1024)


_HYPERPARAMETER_FIELDS = tuple(
    name for name in Hyperparameters.model_fields if name != "early_stopping_patience"
)
_SOURCE_FIELDS = tuple(FiwareSource.model_fields)


def build_model(draft: ModelDraft) -> Model:
    """Create a new ``draft`` model from a request, applying defaults and every rule.

    Raises:
        ValidationError: a rule failed; ``details`` name each offending field.
    """
    values = draft.model_dump()
    return _assemble(
        model_id=ModelId(str(uuid.uuid4())),
        values=values,
        patience_is_derived=draft.early_stopping_patience is None,
        created_at=None,
        status=ModelStatus.DRAFT,
        has_successful_training=False,
    )


def apply_update(model: Model, changes: dict[str, Any]) -> Model:
    """Return ``model`` with ``changes`` (a partial update, only fields the caller set) applied.

    Rules: name and description that still equal their generated defaults follow a new type or
    feature; a patience derived from ``epochs`` is re-derived when epochs change; an explicit
    patience stays explicit. The caller checks that the model is editable.

    Raises:
        ValidationError: the merged definition breaks a rule.
    """
    current = flatten(model)
    merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
    type_or_feature_changed = (
        merged["model_type"] != current["model_type"] or merged["feature"] != current["feature"]
    )
    old_type = ModelType(current["model_type"])
    if type_or_feature_changed:
        if "name" not in changes and current["name"] == default_name(old_type, current["feature"]):
            merged["name"] = None
        if "description" not in changes and current["description"] == default_description(
            old_type, current["feature"]
        ):
            merged["description"] = None
    patience_is_derived = model.patience_is_derived
    if changes.get("early_stopping_patience") is not None:
        patience_is_derived = False
    elif patience_is_derived:
        merged["early_stopping_patience"] = None
    return _assemble(
        model_id=model.id,
        values=merged,
        patience_is_derived=patience_is_derived,
        created_at=model.created_at,
        status=model.status,
        has_successful_training=model.has_successful_training,
    )


def flatten(model: Model) -> dict[str, Any]:
    """The model as one flat mapping, the shape the API reads and writes."""
    return {
        "id": model.id,
        "name": model.name,
        "description": model.description,
        "model_type": model.model_type.value,
        "status": model.status.value,
        **model.hyperparameters.model_dump(),
        **model.source.model_dump(),
        "has_successful_training": model.has_successful_training,
        "serving": model.serving.model_dump() if model.serving else None,
        "champion_pinned": model.champion_pinned,
        "previous_champions": list(model.previous_champions),
        "created_at": model.created_at,
        "updated_at": model.updated_at,
    }


def _assemble(
    *,
    model_id: ModelId,
    values: dict[str, Any],
    patience_is_derived: bool,
    created_at: datetime | None,
    status: ModelStatus,
    has_successful_training: bool,
) -> Model:
    from pydantic import ValidationError as PydanticValidationError

    try:
        model_type = ModelType(values["model_type"])
        source = FiwareSource.model_validate({k: values[k] for k in _SOURCE_FIELDS})
        hyper_values = {k: values[k] for k in _HYPERPARAMETER_FIELDS}
        epochs = int(values["epochs"])
        patience = values.get("early_stopping_patience")
        hyper_values["early_stopping_patience"] = default_patience(epochs) if patience is None else patience
        hyperparameters = Hyperparameters.model_validate(hyper_values)
        now = utcnow()
        return Model(
            id=model_id,
            name=values.get("name") or default_name(model_type, source.feature),
            description=values.get("description") or default_description(model_type, source.feature),
            model_type=model_type,
            status=status,
            hyperparameters=hyperparameters,
            patience_is_derived=patience_is_derived,
            source=source,
            has_successful_training=has_successful_training,
            created_at=created_at or now,
            updated_at=now,
        )
    except PydanticValidationError as exc:
        raise ValidationError(
            "Model configuration is invalid.",
            details=[
                {
                    "field": ".".join(str(p) for p in err["loc"])
                    or str((err.get("ctx") or {}).get("fields", "model")),
                    "message": _strip_value_error(err["msg"]),
                }
                for err in exc.errors()
            ],
        ) from exc


def _strip_value_error(message: str) -> str:
    prefix = "Value error, "
    return message[len(prefix) :] if message.startswith(prefix) else message


class ModelChanges(BaseModel):
    """A partial update: only the fields present are changed; ``null`` means "keep"."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    model_type: ModelType | None = None
    batch_size: BatchSize | None = None
    epochs: Epochs | None = None
    learning_rate: LearningRate | None = None
    validation_ratio: Ratio | None = None
    test_ratio: Ratio | None = None
    rnn_layers: RnnStack | None = None
    dense_layers: DenseStack | None = None
    early_stopping_patience: Patience | None = None
    lookback_window: Window | None = None
    forecast_horizon: Window | None = None
    sampling_interval: SamplingIntervalText | None = None
    season_length: SeasonLength | None = None
    feature: str | None = Field(default=None, min_length=1, max_length=256)
    entity_type: str | None = Field(default=None, min_length=1, max_length=256)
    entity_id: str | None = Field(default=None, min_length=1, max_length=256)
    fiware_service: str | None = Field(default=None, min_length=1, max_length=50)
    fiware_servicepath: str | None = Field(default=None, min_length=1, max_length=1024)
