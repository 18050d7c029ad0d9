"""Forecast use cases: on-demand predict, recurring forecasts (toggle, schedule, execute), history.

Recurring forecasts, in one picture::

    EventBridge rule (1 min) -> schedule_due()  --claim ticket + one message per slot-->  SQS
    SQS -> execute_forecast() --forecast--> Orion (forecastSeries) --subscription--> STH (history)

Contracts this module guarantees (the adapters implement the atomic parts):

* **Claim.** A job is due when ``prediction_config.enabled`` and ``next_prediction_at <= now``.
  The scheduler claims the slot it computes for the job by inserting a ticket unique per
  ``(job, slot)``, so of several concurrent schedulers exactly one wins each slot. A tick writes
  no job document; the forecast run moves ``next_prediction_at`` past its slot when it ends
  (success or final failure). Until then later ticks still find the job due, compute the same
  slot and find its ticket taken (:mod:`chronos_core.adapters.forecast_schedule`).
* **Drift-free grid and catch-up.** Slots live on the grid ``anchor + k * interval`` fixed when
  recurring forecasts are enabled. For a job stored at ``s`` a tick forecasts the *latest* due
  slot ``s + k * interval <= now`` (:func:`advance`); the run then stores the next grid slot.
  Missed slots (scheduler down, Lambda throttled) are skipped, never replayed: at most one
  forecast per job per tick, and the schedule never drifts by scheduler or run latency.
* **Enqueue failure.** When a message cannot be sent, its ticket is deleted, so the next tick
  claims the slot again; nothing is re-enqueued by the scheduler itself.
* **Idempotency per (job, slot).** :meth:`ForecastSchedule.begin_run` admits a run once per
  ``(job, slot)`` while it runs, again after a failure, and never after a success, so a redelivered
  message does not publish twice.
* **Failures.** A failing run records ``last_forecast`` (time, status ``failed``, error, attempt)
  on the job and re-raises, so SQS redelivers it; after ``maxReceiveCount`` receives the queue
  moves it to the dead-letter queue. The attempt that will not be retried is marked ``final``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.adapters.fiware.errors import FiwareConflictError
from chronos_core.adapters.fiware.iot_agent import IotAttribute, IotDevice, ServiceGroup
from chronos_core.adapters.fiware.orion import (
    FORECAST_ATTRIBUTE,
    ForecastPoint,
    ForecastSeries,
    notification_subscription,
)
from chronos_core.adapters.fiware.sth import SeriesRef, SthPage, format_timestamp
from chronos_core.adapters.fiware.tenant import FiwareTenant
from chronos_core.application.ports import ModelRepository, SeriesSource, TrainingJobRepository
from chronos_core.application.ports_ml import ArtifactReader
from chronos_core.application.training import job_and_model
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import (
    ChronosError,
    ConflictError,
    UpstreamError,
    ValidationError,
)
from chronos_core.domain.fiware import DEFAULT_FORECAST_ENTITY_TYPE, DEFAULT_FORECAST_GROUP_RESOURCE
from chronos_core.domain.model import Model, UtcDateTime, utcnow
from chronos_core.domain.training import TrainingJob, TrainingStatus
from chronos_core.ml.artifacts import ArtifactRefs
from chronos_core.ml.errors import InsufficientDataError
from chronos_core.observability import logger

MIN_INTERVAL_SECONDS: Final = 60
MAX_INTERVAL_SECONDS: Final = 30 * 24 * 3600
MAX_ERROR_LENGTH: Final = 500
CLAIM_BATCH: Final = 500
_ARTIFACT_KEYS: Final = ("model", "inference", "x_scaler", "y_scaler", "metadata")

# ---------------------------------------------------------------------------------------- values


class ForecastMessage(BaseModel):
    """One SQS message: forecast ``job_id`` for ``slot`` (a UTC instant on the job's grid)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str = Field(min_length=1, max_length=64)
    slot: datetime

    def to_body(self) -> dict[str, str]:
        return {"job_id": self.job_id, "slot": format_timestamp(self.slot)}

    @property
    def key(self) -> str:
        """The idempotency key ``<job_id>|<slot ISO-8601 Z>``."""
        return run_key(self.job_id, self.slot)


class DueJob(BaseModel):
    """A job whose ``next_prediction_at`` (``slot``, on its grid) has passed, as read by the
    scheduler."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    slot: datetime
    interval_seconds: float


class TickResult(BaseModel):
    """What one scheduler tick did."""

    due: int = 0
    claimed: int = 0
    enqueued: int = 0
    released: int = 0
    lost: int = 0


RunAdmission = Literal["run", "done", "busy"]


def run_key(job_id: str, slot: datetime) -> str:
    return f"{job_id}|{format_timestamp(slot)}"


def advance(stored: datetime, interval_seconds: float, now: datetime) -> tuple[datetime, datetime]:
    """``(slot, next_slot)`` for a job stored at ``stored`` at ``now`` (``stored <= now``).

    ``slot`` is the latest grid slot ``stored + j * interval <= now`` (``j >= 0``) and
    ``next_slot = slot + interval`` is the first grid slot strictly after ``now``. Computed in
    integer milliseconds so that the grid never drifts (BSON dates have millisecond precision).
    """
    step = max(1, round(interval_seconds * 1000))
    elapsed = max(0, _ms(now) - _ms(stored))
    j = elapsed // step
    slot = stored + timedelta(milliseconds=j * step)
    return slot, slot + timedelta(milliseconds=step)


def _ms(value: datetime) -> int:
    return int(value.astimezone(UTC).timestamp() * 1000)


def forecast_entity_id(job_id: str) -> str:
    """The forecast entity of a job: ``urn:ngsi-ld:Chronos:Prediction:<job uuid hex[:12]>``."""
    return f"urn:ngsi-ld:Chronos:Prediction:{job_id.replace('-', '')[:12]}"


def forecast_device_id(model_id: str, job_id: str) -> str:
    return f"chronos-forecast-{model_id.replace('-', '')[:12]}-{job_id.replace('-', '')[:12]}"


# ----------------------------------------------------------------------------------------- ports


class ForecastSchedule(Protocol):
    """Persistence of schedules, claims and runs (:mod:`chronos_core.adapters.forecast_schedule`)."""

    def due(self, now: datetime, limit: int) -> list[DueJob]:
        """Enabled jobs with ``next_prediction_at <= now``, oldest slot first, at most ``limit``."""

    def claim_slots(self, items: Sequence[tuple[str, datetime]]) -> list[bool]:
        """Claim each ``(job_id, slot)``: True for exactly one of any number of concurrent
        callers claiming the same pair, ever (until pruned); one result per item."""

    def release(self, job_id: str, slot: datetime) -> bool:
        """Undo the claim of a slot whose message could not be sent; True if undone."""

    def advance_after(self, job_id: str, slot: datetime, next_slot: datetime) -> bool:
        """Store ``next_slot`` as ``next_prediction_at`` if the job is enabled and its stored
        slot is not after ``slot``; True if moved."""

    def prune(self, before: datetime) -> int:
        """Forget claim bookkeeping older than ``before`` (no TTL indexes on FerretDB v1)."""

    def enable(self, job_id: str, config: dict[str, Any], first_slot: datetime | None) -> None:
        """Store ``prediction_config``; set ``next_prediction_at`` when ``first_slot`` is given."""

    def set_subscription(self, job_id: str, subscription_id: str) -> bool:
        """Store the subscription id unless one is stored already; True if stored."""

    def disable(self, job_id: str) -> None:
        """``enabled = false``, subscription id cleared, ``next_prediction_at`` unset."""

    def begin_run(self, job_id: str, slot: datetime, attempt: int, lease_seconds: float) -> RunAdmission:
        """Admit a run of ``(job, slot)``: ``run`` (first time, after a failure, or after an
        expired lease), ``done`` (it succeeded already) or ``busy`` (another run holds the lease)."""

    def finish_run(self, job_id: str, slot: datetime, *, status: str, error: str | None) -> None:
        """Record the outcome of the run of ``(job, slot)``."""

    def record_last(self, job_id: str, last_forecast: dict[str, Any]) -> None:
        """Store ``last_forecast`` unless a newer slot is recorded already."""

    def api_key(self, service: str, servicepath: str, generate: Callable[[], str]) -> str:
        """The forecast service group's API key of a tenant: created once (race-free), reused."""


class ForecastQueue(Protocol):
    """Where claimed slots go (SQS)."""

    def send(self, messages: Sequence[ForecastMessage]) -> list[ForecastMessage]:
        """Send every message; return those that could not be sent."""


class OrionPort(Protocol):
    """The part of :class:`~chronos_core.adapters.fiware.OrionClient` forecasts use."""

    def find_entity(
        self, tenant: FiwareTenant, entity_id: str, *, entity_type: str | None = None
    ) -> dict[str, Any] | None: ...
    def create_entity(self, tenant: FiwareTenant, entity: Any) -> None: ...
    def delete_entity(
        self, tenant: FiwareTenant, entity_id: str, *, entity_type: str | None = None, missing_ok: bool = True
    ) -> bool: ...
    def upsert_forecast(
        self,
        tenant: FiwareTenant,
        entity_id: str,
        entity_type: str,
        *,
        source_entity_id: str,
        feature: str,
        series: ForecastSeries,
        extra_attributes: Any = None,
    ) -> None: ...
    def create_subscription(self, tenant: FiwareTenant, subscription: Any) -> str: ...
    def delete_subscription(
        self, tenant: FiwareTenant, subscription_id: str, *, missing_ok: bool = True
    ) -> bool: ...


class IotAgentPort(Protocol):
    """The part of :class:`~chronos_core.adapters.fiware.IotAgentClient` forecasts use."""

    def create_group(self, tenant: FiwareTenant, group: Any, *, exist_ok: bool = True) -> bool: ...
    def create_device(self, tenant: FiwareTenant, device: Any, *, exist_ok: bool = True) -> bool: ...
    def delete_device(self, tenant: FiwareTenant, device_id: str, *, missing_ok: bool = True) -> bool: ...


class HistoryPort(Protocol):
    """The part of :class:`~chronos_core.adapters.fiware.SthCometClient` history uses."""

    def fetch_page(
        self, tenant: FiwareTenant, series: SeriesRef, offset: int, limit: int, *, with_count: bool = False
    ) -> SthPage: ...


class ForecastSettings(BaseModel):
    """What the forecast use cases need from the settings."""

    model_config = ConfigDict(frozen=True)

    entity_type: str = DEFAULT_FORECAST_ENTITY_TYPE
    group_resource: str = DEFAULT_FORECAST_GROUP_RESOURCE
    orion_url: str | None = None
    sth_url: str | None = None
    max_receive_count: int = 3
    lease_seconds: float = 120.0


# ------------------------------------------------------------------------------------ on demand


class ContextPoint(BaseModel):
    timestamp: UtcDateTime
    value: float | None


class PredictedPoint(BaseModel):
    """One forecast step with its prediction-interval bounds by nominal coverage ("80", "95")."""

    step: int
    value: float
    target_timestamp: UtcDateTime
    lower: dict[str, float] = Field(default_factory=dict)
    upper: dict[str, float] = Field(default_factory=dict)


def interval_bounds(result: Any, index: int) -> tuple[dict[str, float], dict[str, float]]:
    """The bounds of step ``index`` (0-based) of a ForecastResult, by level."""
    intervals = getattr(result, "intervals", None) or {}
    lower = {level: float(band.lower[index]) for level, band in intervals.items()}
    upper = {level: float(band.upper[index]) for level, band in intervals.items()}
    return lower, upper


class Prediction(BaseModel):
    """An on-demand forecast: the context it used and the ``H`` forecast points, with
    ``forecast[k].target_timestamp = last_observation + step × interval``."""

    model_id: str
    training_job_id: str
    generated_at: UtcDateTime
    interval_seconds: float
    lookback_window: int
    forecast_horizon: int
    last_observation: UtcDateTime
    serving: str = Field(description="network, seasonal_naive or last_value (the promotion gate's choice)")
    context: list[ContextPoint]
    forecast: list[PredictedPoint]
    metadata: dict[str, Any]


def artifact_refs(job: TrainingJob) -> ArtifactRefs:
    """The job's inference artifacts. Raises ConflictError when the job has no trained model."""
    artifacts = job.artifacts or {}
    if job.status != TrainingStatus.COMPLETED or any(not artifacts.get(k) for k in _ARTIFACT_KEYS):
        raise ConflictError(
            f"Training job {job.id} has no trained model (status {job.status.value})",
            details=[{"field": "status", "message": "the job must be completed with its artifacts"}],
        )
    return ArtifactRefs(**{k: artifacts[k] for k in _ARTIFACT_KEYS})


def run_forecast(
    model: Model,
    job: TrainingJob,
    artifacts: ArtifactReader,
    series: SeriesSource,
    loader: Callable[[ArtifactReader, ArtifactRefs], Any],
) -> tuple[Any, list[tuple[datetime, float | None]]]:
    """Load the job's forecaster (cached per container by ``loader``), read the most recent
    points of the model's series from STH (the forecaster's ``context_points``: the lookback
    window, or the season it needs, plus slack for jitter) and forecast.

    Returns ``(ForecastResult, context points)``. Raises ConflictError (no trained model) and
    UpstreamError (STH failed, or returned too few points for the window).
    """
    forecaster = loader(artifacts, artifact_refs(job))
    lookback = int(getattr(forecaster, "context_length", forecaster.lookback))
    wanted = int(getattr(forecaster, "context_points", lookback))
    try:
        points = series.last_n(model.source, wanted)
    except UpstreamError as exc:
        raise UpstreamError(
            f"STH-Comet could not provide the context window: {exc.message}", details=exc.details
        ) from exc
    if len(points) < lookback:
        raise UpstreamError(
            f"STH-Comet returned {len(points)} points for {model.source.entity_id}/"
            f"{model.source.feature}; the model needs the last {lookback}",
            details=[{"component": "STH-Comet", "required": lookback, "got": len(points)}],
        )
    try:
        result = forecaster.forecast_points(points)
    except InsufficientDataError as exc:
        raise UpstreamError(
            f"The points STH-Comet returned do not form a usable context window: {exc.message}",
            details=exc.details,
        ) from exc
    return result, points


def predict(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    artifacts: ArtifactReader,
    series: SeriesSource,
    loader: Callable[[ArtifactReader, ArtifactRefs], Any],
    principal: Principal,
    model_id: str,
    job_id: str,
) -> Prediction:
    """Forecast on demand with the job's inference model; publishes and stores nothing.

    Raises NotFoundError (model/job, also another tenant's), ConflictError (no trained model),
    UpstreamError (STH failed or returned too few points), DependencyUnavailableError.
    """
    job, model = job_and_model(models, jobs, principal, model_id, job_id)
    result, points = run_forecast(model, job, artifacts, series, loader)
    return Prediction(
        model_id=model_id,
        training_job_id=job_id,
        generated_at=utcnow(),
        interval_seconds=result.interval_seconds,
        lookback_window=model.hyperparameters.lookback_window,
        forecast_horizon=len(result.values),
        last_observation=result.last_observation,
        context=[ContextPoint(timestamp=t, value=v) for t, v in points],
        serving=str(getattr(result, "serving", "network")),
        forecast=[
            PredictedPoint(step=i + 1, value=v, target_timestamp=t, lower=lower, upper=upper)
            for i, (v, t) in enumerate(zip(result.values, result.timestamps, strict=True))
            for lower, upper in [interval_bounds(result, i)]
        ],
        metadata={
            "model_name": model.name,
            "model_type": model.model_type.value,
            "entity_type": model.source.entity_type,
            "entity_id": model.source.entity_id,
            "feature": model.source.feature,
            "training_job_id": job_id,
            "artifacts": dict(job.artifacts or {}),
            "metrics": (job.metrics or {}).get("test"),
            "serving": getattr(result, "serving", "network"),
            "intervals": {k: v.model_dump() for k, v in (getattr(result, "intervals", None) or {}).items()},
        },
    )


# ---------------------------------------------------------------------------------------- toggle


class ToggleRequest(BaseModel):
    """Body of ``POST .../prediction-toggle``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool
    interval_seconds: int | None = Field(
        default=None,
        ge=MIN_INTERVAL_SECONDS,
        le=MAX_INTERVAL_SECONDS,
        description="Seconds between forecasts; default: the training data's sampling interval "
        f"(at least {MIN_INTERVAL_SECONDS}).",
    )


class ToggleResult(BaseModel):
    """Recurring forecasts of a job: the forecast entity and the next run."""

    model_id: str
    training_job_id: str
    enabled: bool
    interval_seconds: float | None
    entity_id: str
    entity_type: str
    subscription_id: str | None
    next_prediction_at: UtcDateTime | None


def default_interval(job: TrainingJob) -> int:
    """The training data's interval, rounded up to whole seconds and at least a minute."""
    sampled = job.sampling_interval_seconds or 0.0
    return int(min(MAX_INTERVAL_SECONDS, max(MIN_INTERVAL_SECONDS, math.ceil(sampled))))


def toggle(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    schedule: ForecastSchedule,
    orion: OrionPort,
    iot_agent: IotAgentPort,
    settings: ForecastSettings,
    generate_key: Callable[[], str],
    principal: Principal,
    model_id: str,
    job_id: str,
    request: ToggleRequest,
    now: datetime | None = None,
) -> ToggleResult:
    """Enable or disable recurring forecasts of a job; both directions are idempotent.

    Enabling provisions (each step idempotent, tenant from the model): the tenant's forecast
    service group with its random API key, the job's device, the forecast entity in Orion and a
    subscription feeding ``forecastSeries`` to STH (``attrsFormat: legacy``); then it stores the
    config and the first slot (now). Enabling an enabled job with the same interval changes
    nothing; a new interval re-anchors the grid at now. Disabling deletes the subscription
    (missing is fine) and unsets the schedule; the entity and device stay until the job is deleted.

    Raises NotFoundError, ConflictError (enable without a trained model), UpstreamError /
    DependencyUnavailableError (FIWARE).
    """
    job, model = job_and_model(models, jobs, principal, model_id, job_id)
    source = model.source
    tenant = FiwareTenant.of(source)
    entity_id = forecast_entity_id(job.id)
    config = dict(job.prediction_config or {})
    if not request.enabled:
        subscription_id = config.get("subscription_id")
        if subscription_id:
            orion.delete_subscription(tenant, str(subscription_id), missing_ok=True)
        schedule.disable(job.id)
        logger.info("Recurring forecasts disabled", extra={"job_id": job.id, "model_id": model_id})
        return ToggleResult(
            model_id=model_id,
            training_job_id=job.id,
            enabled=False,
            interval_seconds=config.get("interval_seconds"),
            entity_id=entity_id,
            entity_type=settings.entity_type,
            subscription_id=None,
            next_prediction_at=None,
        )

    artifact_refs(job)
    interval = request.interval_seconds or config.get("interval_seconds") or default_interval(job)
    apikey = schedule.api_key(tenant.service, tenant.servicepath, generate_key)
    iot_agent.create_group(
        tenant,
        ServiceGroup(
            apikey=apikey,
            resource=settings.group_resource,
            entity_type=settings.entity_type,
            cbHost=settings.orion_url,
            description="Chronos forecasts",
        ),
        exist_ok=True,
    )
    device_id = forecast_device_id(model.id, job.id)
    iot_agent.create_device(
        tenant,
        IotDevice(
            device_id=device_id,
            entity_name=entity_id,
            entity_type=settings.entity_type,
            apikey=apikey,
            transport="HTTP",
            protocol="IoTA-JSON",
            attributes=[IotAttribute(object_id="fs", name=FORECAST_ATTRIBUTE, type="StructuredValue")],
        ),
        exist_ok=True,
    )
    if orion.find_entity(tenant, entity_id, entity_type=settings.entity_type) is None:
        with contextlib.suppress(FiwareConflictError):  # created concurrently
            orion.create_entity(
                tenant,
                {
                    "id": entity_id,
                    "type": settings.entity_type,
                    "sourceEntity": {"type": "Relationship", "value": source.entity_id},
                    "feature": {"type": "Text", "value": source.feature},
                },
            )
    already = bool(config.get("enabled")) and config.get("interval_seconds") == interval
    stored = {
        **config,
        "enabled": True,
        "interval_seconds": interval,
        "entity_id": entity_id,
        "entity_type": settings.entity_type,
        "device_id": device_id,
        "service_group_resource": settings.group_resource,
        "fiware_service": tenant.service,
        "fiware_servicepath": tenant.servicepath,
        "source_entity_id": source.entity_id,
        "feature": source.feature,
        "enabled_at": config.get("enabled_at") if already else (now or utcnow()),
    }
    stored.setdefault("subscription_id", None)
    first_slot = None if already and job.next_prediction_at is not None else (now or utcnow())
    schedule.enable(job.id, stored, first_slot)
    subscription_id = stored.get("subscription_id")
    if not subscription_id:
        if not settings.sth_url:
            raise ValidationError("STH-Comet is not configured; forecasts would have no history")
        created = orion.create_subscription(
            tenant,
            notification_subscription(
                entity_id,
                settings.entity_type,
                settings.sth_url.rstrip("/") + "/notify",
                description=f"Chronos - forecasts of job {job.id}",
            ),
        )
        if schedule.set_subscription(job.id, created):
            subscription_id = created
        else:  # a concurrent enable stored its own: drop ours
            orion.delete_subscription(tenant, created, missing_ok=True)
            subscription_id = ((jobs.get(job.id) or job).prediction_config or {}).get("subscription_id")
    current = jobs.get(job.id) or job
    logger.info(
        "Recurring forecasts enabled",
        extra={"job_id": job.id, "model_id": model_id, "interval_seconds": interval, "entity_id": entity_id},
    )
    return ToggleResult(
        model_id=model_id,
        training_job_id=job.id,
        enabled=True,
        interval_seconds=interval,
        entity_id=entity_id,
        entity_type=settings.entity_type,
        subscription_id=subscription_id,
        next_prediction_at=current.next_prediction_at,
    )


# -------------------------------------------------------------------------------------- schedule


def schedule_due(
    schedule: ForecastSchedule,
    queue: Callable[[], ForecastQueue],
    now: datetime,
    *,
    limit: int = 5000,
) -> TickResult:
    """One scheduler tick: claim the latest due slot of every due job, then send one message per
    won claim. Claims whose message could not be sent are released (the next tick retries them).

    ``queue`` is called only when there is something to send. Never re-enqueues itself.
    """
    schedule.prune(now - timedelta(days=1))
    due = schedule.due(now, limit)
    result = TickResult(due=len(due))
    if not due:
        return result
    slots = [(item.job_id, advance(item.slot, item.interval_seconds, now)[0]) for item in due]
    won: list[bool] = []
    for start in range(0, len(slots), CLAIM_BATCH):
        won.extend(schedule.claim_slots(slots[start : start + CLAIM_BATCH]))
    messages = [
        ForecastMessage(job_id=job_id, slot=slot) for (job_id, slot), ok in zip(slots, won, strict=True) if ok
    ]
    result.claimed = len(messages)
    if not messages:
        return result
    failed = queue().send(messages)
    result.enqueued = len(messages) - len(failed)
    for message in failed:
        if schedule.release(message.job_id, message.slot):
            result.released += 1
        else:
            result.lost += 1
    if failed:
        logger.warning(
            "Some forecast messages could not be sent; their claims were released",
            extra={"failed": len(failed), "released": result.released},
        )
    return result


# --------------------------------------------------------------------------------------- execute


class ExecutionOutcome(BaseModel):
    job_id: str
    slot: datetime
    status: Literal["succeeded", "skipped"]
    reason: str | None = None
    points: int = 0


def execute_forecast(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    schedule: ForecastSchedule,
    artifacts: ArtifactReader,
    series: Callable[[], SeriesSource],
    orion: Callable[[], OrionPort],
    loader: Callable[[ArtifactReader, ArtifactRefs], Any],
    settings: ForecastSettings,
    message: ForecastMessage,
    attempt: int = 1,
) -> ExecutionOutcome:
    """Run the forecast of one ``(job, slot)`` and upsert it into Orion.

    ``series`` and ``orion`` are factories, called only when a forecast actually runs.

    Skipped (acknowledged, nothing written) when the job or model no longer exists, recurring
    forecasts are disabled, or this slot already succeeded. A run in progress elsewhere raises
    ConflictError (the message is retried later). Any failure is recorded on the job's
    ``last_forecast`` (status ``failed``, ``final`` on the last allowed attempt) and re-raised.
    A run that ends (success or final failure) moves the job's ``next_prediction_at`` to the grid
    slot after its own, before ``last_forecast`` shows the outcome.
    """
    job = jobs.get(message.job_id)
    if job is None:
        return _skipped(message, "job not found")
    config = job.prediction_config or {}
    if not config.get("enabled"):
        return _skipped(message, "recurring forecasts are disabled")
    model = models.get(job.model_id)
    if model is None:
        return _skipped(message, "model not found")
    admission = schedule.begin_run(job.id, message.slot, attempt, settings.lease_seconds)
    if admission == "done":
        _advance_past(schedule, job, message)  # in case the run that succeeded stopped short of it
        return _skipped(message, "this slot was already forecast")
    if admission == "busy":
        raise ConflictError(f"The forecast {message.key} is running elsewhere; retry later")
    started = utcnow()
    record: dict[str, Any] = {
        "slot": message.slot,
        "started_at": started,
        "finished_at": None,
        "status": "running",
        "error": None,
        "points": 0,
        "attempt": attempt,
    }
    schedule.record_last(job.id, record)
    try:
        result, _ = run_forecast(model, job, artifacts, series(), loader)
        generated = utcnow()
        forecast = ForecastSeries(
            generated_at=generated,
            horizon=len(result.values),
            points=[
                ForecastPoint(step=i + 1, value=v, target_timestamp=t, lower=lower, upper=upper)
                for i, (v, t) in enumerate(zip(result.values, result.timestamps, strict=True))
                for lower, upper in [interval_bounds(result, i)]
            ],
            serving=str(getattr(result, "serving", "network")),
        )
        tenant = FiwareTenant.of(model.source)
        orion().upsert_forecast(
            tenant,
            str(config.get("entity_id") or forecast_entity_id(job.id)),
            str(config.get("entity_type") or settings.entity_type),
            source_entity_id=model.source.entity_id,
            feature=model.source.feature,
            series=forecast,
        )
    except Exception as exc:
        error = exc.message if isinstance(exc, ChronosError) else f"{type(exc).__name__}: internal error"
        error = error[:MAX_ERROR_LENGTH]
        final = attempt >= settings.max_receive_count
        schedule.finish_run(job.id, message.slot, status="failed", error=error)
        if final:
            _advance_past(schedule, job, message)
        schedule.record_last(
            job.id,
            {**record, "finished_at": utcnow(), "status": "failed", "error": error, "final": final},
        )
        logger.warning(
            "Forecast failed",
            extra={
                "job_id": job.id,
                "slot": format_timestamp(message.slot),
                "attempt": attempt,
                "final": final,
            },
        )
        raise
    schedule.finish_run(job.id, message.slot, status="succeeded", error=None)
    _advance_past(schedule, job, message)
    schedule.record_last(
        job.id,
        {
            **record,
            "finished_at": utcnow(),
            "status": "succeeded",
            "points": len(result.values),
            "generated_at": generated,
        },
    )
    logger.info("Forecast published", extra={"job_id": job.id, "slot": format_timestamp(message.slot)})
    return ExecutionOutcome(job_id=job.id, slot=message.slot, status="succeeded", points=len(result.values))


def _advance_past(schedule: ForecastSchedule, job: TrainingJob, message: ForecastMessage) -> None:
    interval = (job.prediction_config or {}).get("interval_seconds")
    if not interval or float(interval) <= 0:
        return
    _, next_slot = advance(message.slot, float(interval), message.slot)
    schedule.advance_after(job.id, message.slot, next_slot)


def _skipped(message: ForecastMessage, reason: str) -> ExecutionOutcome:
    logger.info("Forecast skipped", extra={"job_id": message.job_id, "reason": reason})
    return ExecutionOutcome(job_id=message.job_id, slot=message.slot, status="skipped", reason=reason)


# --------------------------------------------------------------------------------------- history


class HistoryBatch(BaseModel):
    """One published forecast as STH stored it."""

    generated_at: datetime
    horizon: int | None
    points: list[dict[str, Any]]


class HistoryPage(BaseModel):
    entity_id: str
    entity_type: str
    items: list[HistoryBatch]
    total: int
    skip: int
    limit: int


def history(
    models: ModelRepository,
    jobs: TrainingJobRepository,
    sth: HistoryPort,
    settings: ForecastSettings,
    principal: Principal,
    model_id: str,
    job_id: str,
    skip: int,
    limit: int,
) -> HistoryPage:
    """Past forecasts of a job from STH (``forecastSeries`` of its forecast entity), newest
    first: ``skip`` batches are skipped from the newest, at most ``limit`` (1..100) returned."""
    job, model = job_and_model(models, jobs, principal, model_id, job_id)
    config = job.prediction_config or {}
    tenant = FiwareTenant.of(model.source)
    entity_id = str(config.get("entity_id") or forecast_entity_id(job.id))
    entity_type = str(config.get("entity_type") or settings.entity_type)
    ref = SeriesRef(entity_type=entity_type, entity_id=entity_id, attribute=FORECAST_ATTRIBUTE)
    total = sth.fetch_page(tenant, ref, 0, 1, with_count=True).total_count or 0
    end = total - skip  # exclusive, counted from the oldest
    items: list[HistoryBatch] = []
    if end > 0:
        start = max(0, end - limit)
        page = sth.fetch_page(tenant, ref, start, end - start)
        for point in reversed(page.points):
            value = point.value if isinstance(point.value, dict) else {}
            items.append(
                HistoryBatch(
                    generated_at=point.recv_time,
                    horizon=value.get("horizon"),
                    points=list(value.get("points") or []),
                )
            )
    return HistoryPage(
        entity_id=entity_id, entity_type=entity_type, items=items, total=total, skip=skip, limit=limit
    )


# ------------------------------------------------------------------------------------- cleanup


def job_cleaner(
    orion: Callable[[], OrionPort], iot_agent: Callable[[], IotAgentPort]
) -> Callable[[TrainingJob], None]:
    """A :data:`~chronos_core.application.training.JobResourceCleaner` removing the forecast
    subscription, entity and device of a job (each missing one is fine). No-op for jobs that
    never enabled recurring forecasts."""

    def clean(job: TrainingJob) -> None:
        config = job.prediction_config
        if not config or not config.get("fiware_service"):
            return
        tenant = FiwareTenant(str(config["fiware_service"]), str(config.get("fiware_servicepath") or "/"))
        client = orion()
        if config.get("subscription_id"):
            client.delete_subscription(tenant, str(config["subscription_id"]), missing_ok=True)
        if config.get("entity_id"):
            client.delete_entity(
                tenant, str(config["entity_id"]), entity_type=config.get("entity_type"), missing_ok=True
            )
        if config.get("device_id"):
            iot_agent().delete_device(tenant, str(config["device_id"]), missing_ok=True)
        logger.info("Forecast resources removed", extra={"job_id": job.id})

    return clean
