"""Forecasts as values: what a forecaster produced, what is published, and the recurring
schedule of a job (its configuration, its slot grid, its last run).

Recurring forecasts live on a drift-free grid ``anchor + k * interval`` fixed when they are
enabled. For a job stored at slot ``s`` a scheduler tick forecasts the *latest* due slot
``s + k * interval <= now`` (:func:`advance`); the run then stores the next grid slot. Missed
slots are skipped, never replayed.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chronos_core.domain.evaluation import ServingChoice
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import UtcDateTime, epoch_ms, iso_z

MIN_INTERVAL_SECONDS: Final = 60
MAX_INTERVAL_SECONDS: Final = 30 * 24 * 3600
#: Longest error text a forecast run records.
MAX_ERROR_LENGTH: Final = 500


# ------------------------------------------------------------------------- forecaster output


class IntervalBand(BaseModel):
    """Lower and upper bounds, one per horizon step (original units)."""

    model_config = ConfigDict(frozen=True)

    lower: list[float]
    upper: list[float]


#: ``ok``: every context value observed; ``interpolated``: some filled within the model's gap
#: limit, as in training; ``degraded``: the context broke the gap policy (see :class:`ForecastQuality`).
QualityStatus = Literal["ok", "interpolated", "degraded"]


class ForecastQuality(BaseModel):
    """How far the context a forecast ran on is from what training saw.

    * ``ok``: every value of the context was observed.
    * ``interpolated``: ``interpolated_points`` values were filled by linear interpolation across
      gaps no longer than the model's ``max_interpolated_gap``, exactly as training fills them.
    * ``degraded``: the latest gap is longer than that limit, yet a forecast was made: the gap was
      bridged by interpolation, or a baseline was served instead of the chosen forecaster;
      ``reason`` says which and why (plain text, without the characters Orion forbids).

    ``interpolated_points`` counts the filled values of the context actually used, whatever the
    status. The rule that picks the context is :mod:`chronos_core.ml.serving_context`.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: QualityStatus = "ok"
    interpolated_points: int = Field(default=0, ge=0)
    reason: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.status == "ok" and (self.interpolated_points or self.reason):
            raise ValueError("an ok forecast has no interpolated point and no reason")
        if self.status == "interpolated" and (self.interpolated_points == 0 or self.reason):
            raise ValueError("an interpolated forecast counts its interpolated points and has no reason")
        if self.status == "degraded" and not self.reason:
            raise ValueError("a degraded forecast says why")
        return self


class ForecastResult(BaseModel):
    """``H`` forecast values (original units), the instants they are for, and their intervals.

    ``serving`` says which forecaster produced ``values``: ``network`` (the trained model),
    ``seasonal_naive`` or ``last_value`` (the promotion gate found the network no better than
    that baseline), or ``blend`` (the network averaged with that baseline). ``intervals`` maps a
    nominal coverage in percent (``"80"``, ``"95"``) to the split-conformal bounds, one per step;
    empty for models trained before intervals existed. When the context forced a fallback,
    ``serving`` is the baseline that ran and ``intervals`` are still the chosen forecaster's
    (likely too narrow then). ``quality`` says how the context relates to the training's gap
    policy.
    """

    model_config = ConfigDict(frozen=True)

    values: list[float]
    timestamps: list[datetime]
    last_observation: datetime
    interval_seconds: float
    serving: ServingChoice = "network"
    intervals: dict[str, IntervalBand] = Field(default_factory=dict)
    quality: ForecastQuality = Field(default_factory=ForecastQuality)

    def bounds(self, index: int) -> tuple[dict[str, float], dict[str, float]]:
        """The bounds of step ``index`` (0-based), by level."""
        lower = {level: float(band.lower[index]) for level, band in self.intervals.items()}
        upper = {level: float(band.upper[index]) for level, band in self.intervals.items()}
        return lower, upper

    def points(self) -> list[ForecastPoint]:
        """The forecast as numbered steps with their bounds."""
        return [
            ForecastPoint(step=i + 1, value=v, target_timestamp=t, lower=lower, upper=upper)
            for i, (v, t) in enumerate(zip(self.values, self.timestamps, strict=True))
            for lower, upper in [self.bounds(i)]
        ]


class ForecastPoint(BaseModel):
    """One forecast step: ``step`` 1..horizon, the predicted ``value``, its target instant and its
    prediction-interval bounds by nominal coverage in percent (``{"80": 1.2, "95": 0.9}``)."""

    model_config = ConfigDict(frozen=True)

    step: int = Field(ge=1)
    value: float
    target_timestamp: UtcDateTime
    lower: dict[str, float] = Field(default_factory=dict)
    upper: dict[str, float] = Field(default_factory=dict)


class ForecastSeries(BaseModel):
    """A forecast batch as published (Orion's ``forecastSeries`` attribute)."""

    model_config = ConfigDict(frozen=True)

    generated_at: datetime
    horizon: int = Field(ge=1)
    points: list[ForecastPoint]
    #: Which forecaster produced the values: ``network``, ``seasonal_naive`` or ``last_value``.
    serving: str | None = None
    #: How the context relates to the training's gap policy (published as ``forecastQuality``).
    quality: ForecastQuality | None = None
    #: The training job whose forecaster produced it (the model's champion) and its version.
    training_job_id: str | None = None
    model_version: int | None = None

    @classmethod
    def of(
        cls,
        result: ForecastResult,
        generated_at: datetime,
        *,
        training_job_id: str | None = None,
        model_version: int | None = None,
    ) -> ForecastSeries:
        return cls(
            generated_at=generated_at,
            horizon=len(result.values),
            points=result.points(),
            serving=result.serving,
            quality=result.quality,
            training_job_id=training_job_id,
            model_version=model_version,
        )


# ---------------------------------------------------------------------------- the schedule


class PredictionConfig(BaseModel):
    """Recurring forecasts of a job: where they are published and how often.

    ``entity_id``/``entity_type`` name the Orion forecast entity, ``device_id`` the IoT Agent
    device behind it, ``subscription_id`` the Orion subscription feeding STH (at most one per job).
    """

    model_config = ConfigDict(extra="ignore")

    enabled: bool
    interval_seconds: float = Field(gt=0)
    entity_id: str
    entity_type: str
    device_id: str | None = None
    service_group_resource: str | None = None
    fiware_service: str
    fiware_servicepath: str = "/"
    source_entity_id: str
    feature: str
    enabled_at: datetime | None = None
    disabled_at: datetime | None = None
    subscription_id: str | None = None
    #: Forecast with the model's champion (True: a promoted challenger takes over on this entity
    #: and slot grid) or always with this job's own forecaster.
    follow_champion: bool = True


class ForecastRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LastForecast(BaseModel):
    """The latest recurring forecast run of a job (``final``: a failure SQS will not retry).

    ``quality`` is the published forecast's (a succeeded run); None while running, after a
    failure, and in documents stored before forecasts carried it."""

    model_config = ConfigDict(extra="ignore")

    slot: datetime
    started_at: datetime
    finished_at: datetime | None = None
    status: ForecastRunStatus
    error: str | None = None
    points: int = 0
    attempt: int = 1
    final: bool = False
    generated_at: datetime | None = None
    quality: ForecastQuality | None = None


#: The fixed space job ids hash into; a scheduler shard is a residue class of it.
FORECAST_BUCKETS: Final = 1024


def forecast_bucket(job_id: str) -> int:
    """The bucket of a job, ``crc32(job_id) mod FORECAST_BUCKETS``: stable across processes and
    releases (stored on the job when its forecasts are enabled, so a shard's due query is indexed)."""
    return zlib.crc32(job_id.encode()) % FORECAST_BUCKETS


class ForecastShard(BaseModel):
    """Shard ``index`` of ``count`` of the scheduler tick: the jobs whose bucket ``b`` has
    ``b mod count == index``. ``count`` divides :data:`FORECAST_BUCKETS` so that the shards
    partition the buckets evenly."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    count: int = Field(ge=1, le=FORECAST_BUCKETS)

    @model_validator(mode="after")
    def _in_range(self) -> Self:
        if self.index >= self.count:
            raise ValueError("index must be below count")
        if FORECAST_BUCKETS % self.count:
            raise ValueError(f"count must divide {FORECAST_BUCKETS}")
        return self

    def buckets(self) -> list[int]:
        return list(range(self.index, FORECAST_BUCKETS, self.count))

    def holds(self, job_id: str) -> bool:
        return forecast_bucket(job_id) % self.count == self.index


class DueJob(BaseModel):
    """A job whose stored slot (``next_prediction_at``) has passed, as the scheduler reads it."""

    model_config = ConfigDict(frozen=True)

    job_id: JobId
    slot: datetime
    interval_seconds: float


class ForecastMessage(BaseModel):
    """One claimed slot on its way to the forecast worker: forecast ``job_id`` for ``slot``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: JobId = Field(min_length=1, max_length=64)
    slot: datetime

    def to_body(self) -> dict[str, str]:
        return {"job_id": self.job_id, "slot": iso_z(self.slot)}

    @property
    def key(self) -> str:
        """The idempotency key ``<job_id>|<slot ISO-8601 Z>``."""
        return run_key(self.job_id, self.slot)


def advance(stored: datetime, interval_seconds: float, now: datetime) -> tuple[datetime, datetime]:
    """``(slot, next_slot)`` for a job stored at ``stored`` at ``now`` (``stored <= now``).

    ``slot`` is the latest grid slot ``stored + j * interval <= now`` (``j >= 0``) and
    ``next_slot = slot + interval`` is the first grid slot strictly after ``now``. Computed in
    integer milliseconds so that the grid never drifts (BSON dates have millisecond precision).
    """
    step = max(1, round(interval_seconds * 1000))
    elapsed = max(0, epoch_ms(now) - epoch_ms(stored))
    j = elapsed // step
    slot = stored + timedelta(milliseconds=j * step)
    return slot, slot + timedelta(milliseconds=step)


def run_key(job_id: str, slot: datetime) -> str:
    """The idempotency key of the forecast of ``(job, slot)``: ``<job_id>|<slot ISO-8601 Z>``."""
    return f"{job_id}|{iso_z(slot)}"


def forecast_entity_id(job_id: JobId) -> str:
    """The forecast entity of a job: ``urn:ngsi-ld:Chronos:Prediction:<job uuid hex[:12]>``."""
    return f"urn:ngsi-ld:Chronos:Prediction:{job_id.replace('-', '')[:12]}"


def forecast_device_id(model_id: ModelId, job_id: JobId) -> str:
    """The IoT Agent device that publishes a job's forecasts."""
    return f"chronos-forecast-{model_id.replace('-', '')[:12]}-{job_id.replace('-', '')[:12]}"
