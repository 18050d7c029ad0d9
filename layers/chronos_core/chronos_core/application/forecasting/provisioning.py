"""Enabling and disabling a job's recurring forecasts; both directions are idempotent."""

from __future__ import annotations

import math
import time
import uuid
from datetime import datetime
from typing import Final

from pydantic import BaseModel

from chronos_core.application.forecasting.commands import ToggleForecasts
from chronos_core.application.forecasting.deps import ProvisioningDeps
from chronos_core.application.training.queries import job_and_model
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.fiware import FiwareTenant
from chronos_core.domain.forecasting import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    PredictionConfig,
    forecast_device_id,
    forecast_entity_id,
)
from chronos_core.domain.model import Model, UtcDateTime, utcnow
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger

LEASE_POLL_SECONDS: Final = 0.2


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


def toggle_forecasts(deps: ProvisioningDeps, command: ToggleForecasts) -> ToggleResult:
    """Enable or disable recurring forecasts of a job (see :func:`enable_forecasts`,
    :func:`disable_forecasts`).

    Toggles of one job are serialised: each holds the job's toggle lease while it provisions, so
    concurrent enables leave one subscription, and an enable and a disable that race both take
    effect in some order. A toggle that cannot get the lease within
    ``forecast_settings.toggle_wait_seconds`` answers ConflictError (409).

    Raises NotFoundError, ConflictError (enable without a trained model, or a toggle that waited
    in vain), ValidationError, UpstreamError / DependencyUnavailableError (FIWARE).
    """
    job, model = job_and_model(deps, command)
    name, holder = f"forecast-toggle:{job.id}", uuid.uuid4().hex
    if not _wait_for_lease(deps, name, holder):
        raise ConflictError(
            f"Recurring forecasts of job {job.id} are being changed by another request; retry",
            details=[{"field": "enabled", "message": "a concurrent change is in progress"}],
        )
    try:
        current = deps.jobs.get(job.id) or job  # as the previous holder left it
        if command.enabled:
            return enable_forecasts(deps, current, model, command)
        return disable_forecasts(deps, current, model)
    finally:
        deps.leases.release(name, holder)


def _wait_for_lease(deps: ProvisioningDeps, name: str, holder: str) -> bool:
    settings = deps.forecast_settings
    deadline = time.monotonic() + settings.toggle_wait_seconds
    while not deps.leases.acquire(name, holder, settings.toggle_lease_seconds):
        if time.monotonic() >= deadline:
            return False
        time.sleep(LEASE_POLL_SECONDS)
    return True


def disable_forecasts(deps: ProvisioningDeps, job: TrainingJob, model: Model) -> ToggleResult:
    """Delete the subscription (missing is fine) and unset the schedule; the entity and the
    device stay until the job is deleted."""
    config = job.prediction_config
    if config is not None and config.subscription_id:
        deps.provisioner.unsubscribe(FiwareTenant.of(model.source), config.subscription_id)
    deps.jobs.disable_forecasts(job.id)
    logger.info("Recurring forecasts disabled", extra={"job_id": job.id, "model_id": model.id})
    return ToggleResult(
        model_id=model.id,
        training_job_id=job.id,
        enabled=False,
        interval_seconds=config.interval_seconds if config else None,
        entity_id=forecast_entity_id(job.id),
        entity_type=deps.forecast_settings.entity_type,
        subscription_id=None,
        next_prediction_at=None,
    )


def enable_forecasts(
    deps: ProvisioningDeps, job: TrainingJob, model: Model, command: ToggleForecasts
) -> ToggleResult:
    """Provision (each step idempotent, tenant from the model) the tenant's forecast service
    group, the job's device, the forecast entity and a subscription feeding ``forecastSeries`` to
    STH; then store the configuration and the first slot (now). Enabling an enabled job with the
    same interval changes nothing; a new interval re-anchors the grid at now."""
    job.trained_artifacts()
    now = command.now or utcnow()
    current = job.prediction_config
    interval = float(
        command.interval_seconds or (current.interval_seconds if current else default_interval(job))
    )
    unchanged = current is not None and current.enabled and current.interval_seconds == interval
    config = _configuration(
        deps, job, model, interval, enabled_at=current.enabled_at if unchanged and current else now
    ).model_copy(update={"follow_champion": command.follow_champion})
    if current is not None:
        config = config.model_copy(update={"subscription_id": current.subscription_id})
    deps.provisioner.provision(config)
    first_slot = None if unchanged and job.next_prediction_at is not None else now
    deps.jobs.enable_forecasts(job.id, config, first_slot)
    subscription_id = config.subscription_id or _subscribe(deps, job, config)
    stored = deps.jobs.get(job.id) or job
    logger.info(
        "Recurring forecasts enabled",
        extra={
            "job_id": job.id,
            "model_id": model.id,
            "interval_seconds": interval,
            "entity_id": config.entity_id,
        },
    )
    return ToggleResult(
        model_id=model.id,
        training_job_id=job.id,
        enabled=True,
        interval_seconds=interval,
        entity_id=config.entity_id,
        entity_type=config.entity_type,
        subscription_id=subscription_id,
        next_prediction_at=stored.next_prediction_at,
    )


def _configuration(
    deps: ProvisioningDeps, job: TrainingJob, model: Model, interval: float, *, enabled_at: datetime | None
) -> PredictionConfig:
    tenant = FiwareTenant.of(model.source)
    settings = deps.forecast_settings
    return PredictionConfig(
        enabled=True,
        interval_seconds=interval,
        entity_id=forecast_entity_id(job.id),
        entity_type=settings.entity_type,
        device_id=forecast_device_id(model.id, job.id),
        service_group_resource=settings.group_resource,
        fiware_service=tenant.service,
        fiware_servicepath=tenant.servicepath,
        source_entity_id=model.source.entity_id,
        feature=model.source.feature,
        enabled_at=enabled_at,
    )


def _subscribe(deps: ProvisioningDeps, job: TrainingJob, config: PredictionConfig) -> str | None:
    """Create the job's subscription and store it, unless a concurrent enable stored its own
    first (then ours is deleted and theirs returned)."""
    created = deps.provisioner.subscribe(config, job.id)
    if deps.jobs.attach_subscription(job.id, created):
        return created
    deps.provisioner.unsubscribe(FiwareTenant(config.fiware_service, config.fiware_servicepath), created)
    stored = deps.jobs.get(job.id)
    return stored.prediction_config.subscription_id if stored and stored.prediction_config else None
