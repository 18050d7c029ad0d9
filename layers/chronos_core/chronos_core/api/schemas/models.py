"""Model definitions as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from chronos_core.domain.model import (
    DenseLayer,
    Model,
    ModelStatus,
    ModelType,
    RnnLayer,
    ServingSummary,
    flatten,
    iso_z,
)


class ModelResponse(BaseModel):
    """A model definition as the API shows it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    description: str
    model_type: ModelType
    status: ModelStatus
    batch_size: int
    epochs: int
    learning_rate: float
    validation_ratio: float
    test_ratio: float
    rnn_layers: list[RnnLayer]
    dense_layers: list[DenseLayer]
    early_stopping_patience: int
    lookback_window: int
    forecast_horizon: int
    sampling_interval: str | None = Field(
        default=None,
        description="The series' grid as an ISO-8601 duration (PT30M, PT1H, P1D, P1W, P1M, P3M, "
        "P1Y), in its canonical spelling; null: the cadence is detected from the timestamps "
        "(calendar months, quarters and years, weeks, days, or seconds on the sensor's phase).",
    )
    season_length: int | None = Field(
        default=None,
        description="The season in grid steps (1: none); null: detected on the training split.",
    )
    feature: str
    entity_type: str
    entity_id: str
    fiware_service: str
    fiware_servicepath: str
    has_successful_training: bool
    serving: ServingSummary | None = Field(
        default=None,
        description="The champion: the training job predictions and recurring forecasts serve, and what it "
        "serves (network, seasonal_naive, last_value or blend, chosen on its validation split) with the "
        "scores behind the choice. A retrained job replaces it only when it beats it on the same holdout.",
    )
    champion_pinned: bool = Field(
        default=False,
        description="The champion (serving.training_job_id) is pinned: no challenger replaces it.",
    )
    previous_champions: list[str] = Field(
        default_factory=list,
        description="Earlier champions, the most recent last (a rollback returns to it).",
    )
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _utc(self, value: datetime) -> str:
        return iso_z(value)

    @classmethod
    def of(cls, model: Model) -> ModelResponse:
        return cls.model_validate(flatten(model))


class ModelPage(BaseModel):
    items: list[ModelResponse]
    total: int
    skip: int
    limit: int


class ModelTypeOption(BaseModel):
    value: ModelType
    label: str


class DataFreshnessResponse(BaseModel):
    """The newest point STH-Comet holds of the model's series, and whether it is stale (older
    than ``stale_after_seconds``, three sampling intervals). ``latest_time`` and
    ``age_seconds`` are null when STH holds no point (then ``stale`` is true);
    ``interval_seconds``, ``stale_after_seconds`` and ``stale`` are null when no interval is
    known (neither stated in the definition nor measured by a champion training)."""

    model_config = ConfigDict(extra="forbid")

    latest_time: datetime | None
    age_seconds: float | None
    interval_seconds: float | None
    stale_after_seconds: float | None
    stale: bool | None

    @field_serializer("latest_time")
    def _utc(self, value: datetime | None) -> str | None:
        return iso_z(value) if value is not None else None
