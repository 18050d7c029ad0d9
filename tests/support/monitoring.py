"""Builders for monitoring tests: a served model with a trained, forecasting job, rules on it,
channels, published forecasts, and a services container with every monitoring fake."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chronos_core.application.monitoring.commands import DeliverNotification, EvaluationTick
from chronos_core.application.monitoring.delivery import DeliveryResult, deliver_notification
from chronos_core.application.monitoring.evaluation import EvaluationResult, evaluate_due
from chronos_core.application.monitoring.settings import MonitoringSettings
from chronos_core.bootstrap import Services
from chronos_core.domain.forecasting import ForecastPoint
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import Model, ServingSummary
from chronos_core.domain.monitoring import AlertRule, RuleDraft, build_rule
from chronos_core.domain.notifications import Channel, ChannelDraft, ChannelType, build_channel
from chronos_core.domain.training_job import TrainingJob
from tests.support.builders import T0, data_quality, model, prediction_config, trained_job, training_result
from tests.support.fakes import (
    FakeObservedSeries,
    InMemoryChannelStore,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

ENTITY = "urn:x:Meter:1"
MINUTE = timedelta(minutes=1)


def served_model() -> Model:
    """The model of the builders, serving job-1."""
    return model().model_copy(
        update={
            "serving": ServingSummary(training_job_id="job-1", serving="network"),
            "has_successful_training": True,
        }
    )


def monitored_job(**fields: Any) -> TrainingJob:
    """job-1: completed, recurring forecasts enabled, its test scores and training window recorded."""
    result = training_result()
    values: dict[str, Any] = {
        "selection": result.selection,
        "metrics": result.metrics,
        "data_quality": data_quality(points=1200, interval=1800.0),
        "sampling_interval_seconds": 1800.0,
        "prediction_config": prediction_config(interval_seconds=1800),
        **fields,
    }
    return trained_job(**values)


def rule_of(rule_type: str, params: dict[str, Any] | None = None, **fields: Any) -> AlertRule:
    """A rule on :func:`served_model`, created an hour before T0 (its evaluation grid's anchor)."""
    draft = RuleDraft.model_validate(
        {"type": rule_type, "params": params or {}, "model_id": "model-1", **fields}
    )
    built = build_rule(draft, served_model(), created_by="tester")
    return built.model_copy(update={"created_at": T0 - timedelta(hours=1)})


def webhook_channel(name: str = "ops", service: str = "energy") -> Channel:
    draft = ChannelDraft(
        name=name,
        type=ChannelType.WEBHOOK,
        fiware_service=service,
        config={"url": f"https://{name}.example.com/hook"},
    )
    return build_channel(draft, "tester", allow_private=False)


def published(
    origin: datetime, values: list[float], width: float = 1.0, interval: float = 1800.0
) -> PublishedForecast:
    step = timedelta(seconds=interval)
    return PublishedForecast(
        job_id="job-1",
        slot=origin,
        generated_at=origin,
        interval_seconds=interval,
        serving="network",
        points=[
            ForecastPoint(
                step=i + 1,
                value=v,
                target_timestamp=origin + (i + 1) * step,
                lower={"80": v - width, "95": v - 2 * width},
                upper={"80": v + width, "95": v + 2 * width},
            )
            for i, v in enumerate(values)
        ],
    )


def monitoring_services(
    *rules: AlertRule,
    channels: tuple[Channel, ...] = (),
    points: list[tuple[datetime, float | None]] | None = None,
    job: TrainingJob | None = None,
    settings: MonitoringSettings | None = None,
    **overrides: Any,
) -> Services:
    defaults: dict[str, Any] = {
        "models": InMemoryModelRepository(served_model()),
        "jobs": InMemoryTrainingJobs(job or monitored_job()),
        "channels": InMemoryChannelStore(*channels),
        "observed_series": FakeObservedSeries({ENTITY: points or []}),
        "monitoring_settings": settings
        or MonitoringSettings(evaluation_concurrency=1, retry_base_seconds=2.0),
    }
    services = fake_services(**{**defaults, **overrides})
    for rule in rules:
        services.alert_rules.add(rule)
    return services


def tick(services: Services, now: datetime) -> EvaluationResult:
    return evaluate_due(services, EvaluationTick(now=now, correlation_id="test"))


def deliver(services: Services, notification_id: str, now: datetime | None = None) -> DeliveryResult:
    return deliver_notification(
        services, DeliverNotification(notification_id=notification_id, correlation_id="t", now=now)
    )


def deliver_all(services: Services, now: datetime | None = None) -> list[DeliveryResult]:
    """Deliver every queued notification once, in the order queued (the queue is emptied)."""
    queue = services.notification_queue
    sent, queue.sent = list(queue.sent), []  # type: ignore[attr-defined]
    return [deliver(services, i, now) for i in sent]
