"""Monitoring's side of a published forecast: the forecast is logged (live accuracy scores it
once its actual values arrive) and the predicted-crossing rules that watch it are evaluated at
once, each claimed per ``(rule, forecast)`` so that a redelivered forecast message does not
evaluate it twice."""

from __future__ import annotations

import uuid
from datetime import datetime

from chronos_core.application.monitoring.deps import EvaluationDeps
from chronos_core.application.monitoring.evaluation import EvaluationResult, evaluate_rules
from chronos_core.domain.forecasting import ForecastResult, ForecastSeries
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import Model, iso_z, utcnow
from chronos_core.domain.monitoring import AlertRule, RuleType
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger


def watches(rule: AlertRule, model: Model, job: TrainingJob) -> bool:
    """A rule on the job, or on the model when the job is the one the model serves (or the
    model serves none yet)."""
    if rule.job_id is not None:
        return rule.job_id == job.id
    served = model.serving.training_job_id if model.serving else None
    return served is None or served == job.id


def after_forecast(
    deps: EvaluationDeps,
    job: TrainingJob,
    model: Model,
    slot: datetime,
    result: ForecastResult,
    series: ForecastSeries,
    now: datetime | None = None,
) -> EvaluationResult:
    """Log the forecast, then evaluate (at ``now``, default the current time) the
    predicted-crossing rules that watch it."""
    forecast = PublishedForecast(
        job_id=job.id,
        slot=slot,
        generated_at=series.generated_at,
        interval_seconds=result.interval_seconds,
        serving=series.serving,
        points=series.points,
    )
    deps.forecast_log.record(forecast)
    rules = [
        r
        for r in deps.alert_rules.for_model(model.id, [RuleType.PREDICTED_CROSSING])
        if watches(r, model, job)
    ]
    if not rules:
        return EvaluationResult()
    keys = [f"{rule.id}|forecast:{iso_z(series.generated_at)}" for rule in rules]
    won = deps.alert_evaluations.claim(keys)
    claimed = [(rule, key) for rule, key, ok in zip(rules, keys, won, strict=True) if ok]
    correlation = f"forecast-{job.id}-{uuid.uuid4().hex[:8]}"
    return evaluate_rules(deps, claimed, now or utcnow(), correlation, forecast=forecast)


class MonitoringForecastListener:
    """:class:`~chronos_core.application.ports.forecasting.ForecastListener` for monitoring."""

    def __init__(self, deps: EvaluationDeps) -> None:
        self._deps = deps

    def forecast_published(
        self, job: TrainingJob, model: Model, slot: datetime, result: ForecastResult, series: ForecastSeries
    ) -> None:
        try:
            outcome = after_forecast(self._deps, job, model, slot, result, series)
        except Exception:
            logger.exception("Monitoring could not process a published forecast", extra={"job_id": job.id})
            return
        if outcome.evaluated:
            logger.info(
                "Predicted-crossing rules evaluated", extra={"job_id": job.id, **outcome.model_dump()}
            )
