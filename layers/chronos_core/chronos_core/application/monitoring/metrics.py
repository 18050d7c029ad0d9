"""Measuring a rule's live metric once: one function per rule type, each reading what it needs
(published forecasts, observed points, forecast runs, jobs) and answering a
:class:`~chronos_core.domain.monitoring.Observation`.

Contracts:

* **No data vs awaiting actuals vs error.** ``no_data`` means the sensor (or the forecast feed)
  is silent; ``awaiting_actuals`` that forecasts are published but their targets have not been
  observed yet; ``error`` that STH, Orion or the database failed (:func:`measure` turns a
  :class:`ChronosError` into it, never into a breach).
* **The job.** A rule on a job measures that job; a rule on a model measures the job the model
  serves (its latest successful training).
* **What the evaluator read for the whole batch.** The models, the jobs, the logged forecasts
  and the undecided predicted alerts come in the :class:`RuleContext` (read once per batch of
  rules), and so do the forecast runs of the forecast-failure rules; a failure of those batched
  reads is the ``error`` of the rules that needed them. Only STH (and the model's latest training
  job, for training-failed rules) is read per rule.
* Every ``values`` mapping is plain JSON and names what the outcome rests on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chronos_core.application.monitoring.deps import EvaluationDeps
from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.domain.errors import ChronosError
from chronos_core.domain.live_metrics import (
    PublishedForecast,
    StepScore,
    crossing_probabilities,
    ks_two_sample,
    population_stability_index,
    relative_values,
    score_forecasts,
)
from chronos_core.domain.model import Model, iso_z
from chronos_core.domain.monitoring import (
    Alert,
    AlertOutcome,
    AlertRule,
    DriftReference,
    ForecastFailuresParams,
    InputDriftParams,
    LiveAccuracyParams,
    Observation,
    ObservedThresholdParams,
    Outcome,
    PredictedCrossingParams,
    RuleState,
    RuleType,
    StalenessParams,
    crossed,
    json_safe,
    settle_outcome,
)
from chronos_core.domain.training_job import TrainingJob, TrainingStatus
from chronos_core.observability import logger

#: Fewest values a drift sample may have.
MIN_DRIFT_VALUES = 10
#: A predicted-crossing rule without a new forecast for this many forecast intervals has no data.
STALE_FORECAST_INTERVALS = 3


@dataclass
class RuleContext:
    """What one evaluation of ``rule`` works with. ``forecast`` is the one just published
    (evaluation after a forecast); None means "the latest logged". ``forecasts`` are the job's
    newest logged forecasts, newest first, at least as many as the rule reads
    (:func:`forecasts_wanted`); ``undecided`` the rule's predicted alerts whose outcome is not
    known yet; ``run_statuses`` the statuses of the job's newest finished forecast runs (as many as
    :func:`runs_wanted`); ``read_error`` the failure of a batched read (the rule's ``error``)."""

    rule: AlertRule
    state: RuleState
    model: Model | None
    job: TrainingJob | None
    now: datetime
    forecast: PublishedForecast | None = None
    forecasts: list[PublishedForecast] = field(default_factory=list)
    undecided: list[Alert] = field(default_factory=list)
    run_statuses: list[str] = field(default_factory=list)
    read_error: ChronosError | None = None


def forecasts_wanted(ctx: RuleContext) -> int:
    """How many of its job's newest logged forecasts the rule reads (0: none)."""
    if ctx.model is None or ctx.job is None:
        return 0
    params = ctx.rule.params
    if isinstance(params, LiveAccuracyParams):
        return params.window
    if isinstance(params, PredictedCrossingParams) and ctx.forecast is None:
        return 1
    return 0


def runs_wanted(ctx: RuleContext) -> int:
    """How many of its job's newest finished forecast runs the rule reads (0: none)."""
    params = ctx.rule.params
    if ctx.model is None or ctx.job is None or not ctx.job.forecasts_enabled:
        return 0
    return params.consecutive if isinstance(params, ForecastFailuresParams) else 0


def reads_undecided(ctx: RuleContext) -> bool:
    """Whether the rule settles predicted alerts (it reads its undecided ones)."""
    return ctx.model is not None and ctx.rule.type == RuleType.PREDICTED_CROSSING


@dataclass
class Measured:
    """An observation and what the evaluator must keep from it: a new drift reference, the
    forecast a predicted-crossing rule evaluated, predicted-crossing alerts whose outcome is now
    known."""

    observation: Observation
    reference: DriftReference | None = None
    forecast_at: datetime | None = None
    horizon_end: datetime | None = None
    settled: list[Alert] = field(default_factory=list)


def measure(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    """Measure the rule's metric; a failure of a dependency is an ``error`` observation."""
    try:
        if ctx.model is None:
            return Measured(_no_data("the rule's model no longer exists"))
        if ctx.read_error is not None:
            raise ctx.read_error
        return MEASURES[ctx.rule.type](deps, ctx)
    except ChronosError as exc:
        return Measured(
            Observation(outcome=Outcome.ERROR, message=exc.message[:300], values={"error": exc.code})
        )
    except Exception as exc:  # a bug must not stop the other rules of the tick
        logger.exception("Rule evaluation failed", extra={"rule_id": ctx.rule.id})
        return Measured(Observation(outcome=Outcome.ERROR, message=f"{type(exc).__name__}: internal error"))


def _no_data(message: str, **values: Any) -> Observation:
    return Observation(outcome=Outcome.NO_DATA, message=message, values=json_safe(values))


def _observation(
    breach: bool, value: float | None, threshold: float | None, message: str, values: dict[str, Any]
) -> Observation:
    return Observation(
        outcome=Outcome.BREACH if breach else Outcome.OK,
        value=value,
        threshold=threshold,
        message=message,
        values=json_safe(values),
    )


def _numbers(points: list[TimedPoint]) -> list[tuple[datetime, float]]:
    return [(t, v) for t, v in points if v is not None and math.isfinite(v)]


# ---------------------------------------------------------------------------- live accuracy


def live_accuracy(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    params = ctx.rule.params
    assert isinstance(params, LiveAccuracyParams) and ctx.model is not None
    job = ctx.job
    if job is None:
        return Measured(_no_data("the model has no trained job to score"))
    forecasts = ctx.forecasts[: params.window]
    if not forecasts:
        return Measured(
            _no_data("no forecast published yet: enable the job's recurring forecasts", job_id=job.id)
        )
    targets = [p.target_timestamp for f in forecasts for p in f.points]
    pad = timedelta(seconds=max(f.interval_seconds for f in forecasts))
    actuals = deps.observed_series.between(ctx.model.source, min(targets) - pad, max(targets) + pad)
    score = score_forecasts(forecasts, actuals, ctx.now, params.steps)
    values: dict[str, Any] = {
        "job_id": job.id,
        "metric": params.metric,
        "window": params.window,
        **score.model_dump(),
    }
    if score.scored < params.min_scored:
        if score.not_due or score.scored:
            message = (
                f"{score.scored} of {params.min_scored} forecast targets scored; awaiting their actual values"
            )
            return Measured(
                Observation(outcome=Outcome.AWAITING_ACTUALS, message=message, values=json_safe(values))
            )
        return Measured(_no_data("the sensor reported nothing at the forecast targets", **values))
    if params.metric == "coverage":
        coverage = score.coverage.get(params.level)
        values["nominal"] = int(params.level) / 100
        if coverage is None:
            return Measured(_no_data(f"the forecasts carry no {params.level} % interval", **values))
        threshold = float(params.min_coverage or 0.0)
        message = (
            f"{params.level} % interval coverage {coverage:.2f} over {score.scored} targets "
            f"(min {threshold:.2f})"
        )
        return Measured(_observation(coverage < threshold, coverage, threshold, message, values))
    if params.metric == "bias":
        bias = float(score.bias or 0.0)
        limit = float(params.max_value or 0.0)
        message = f"live bias {bias:.4g} over {score.scored} targets (max |bias| {limit:.4g})"
        return Measured(_observation(abs(bias) > limit, bias, limit, message, values))
    mae = float(score.mae or 0.0)
    test_mae = _test_mae(job, score.per_step)
    values["test_mae"] = test_mae
    limits = [params.max_value] if params.max_value is not None else []
    if params.max_ratio is not None and test_mae is not None:
        limits.append(params.max_ratio * test_mae)
        values["ratio_to_test"] = mae / test_mae if test_mae else None
    if not limits:
        return Measured(
            _no_data("the job recorded no test MAE to compare with; set params.max_value", **values)
        )
    threshold = min(limits)
    message = f"live MAE {mae:.4g} over {score.scored} targets (test MAE {test_mae}, limit {threshold:.4g})"
    return Measured(_observation(mae > threshold, mae, threshold, message, values))


def _test_mae(job: TrainingJob, per_step: list[StepScore]) -> float | None:
    """The test-split MAE of the served forecaster over the scored steps (weighted by how many
    targets each step scored), else its overall test MAE."""
    metrics = (
        job.selection.test_metrics
        if job.selection
        else (job.metrics.served or job.metrics.test if job.metrics else None)
    )
    if metrics is None:
        return None
    by_step = metrics.mae_per_step
    pairs: list[tuple[int, float]] = []
    for score in per_step:
        test = by_step[score.step - 1] if score.step - 1 < len(by_step) else None
        if test is not None:
            pairs.append((score.scored, float(test)))
    weight = sum(n for n, _ in pairs)
    if weight:
        return sum(n * v for n, v in pairs) / weight
    return float(metrics.mae) if metrics.mae is not None else None


# ------------------------------------------------------------------------------------ drift


def input_drift(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    params = ctx.rule.params
    assert isinstance(params, InputDriftParams) and ctx.model is not None
    job = ctx.job
    if job is None:
        return Measured(_no_data("the model has no trained job to compare with"))
    lookback = max(2, ctx.model.hyperparameters.lookback_window)
    reference = ctx.state.reference
    built: DriftReference | None = None
    if reference is None or reference.job_id != job.id or reference.normalization != params.normalization:
        built = _reference(deps, ctx.model, job, params, lookback)
        if built is None:
            return Measured(_no_data("the training window of the job cannot be read back", job_id=job.id))
        reference = built
    window = params.window or (
        lookback if params.normalization == "relative" else max(lookback, MIN_DRIFT_VALUES)
    )
    window = max(window, lookback) if params.normalization == "relative" else window
    recent_raw = [v for _, v in _numbers(deps.observed_series.recent(ctx.model.source, window))]
    recent = relative_values(recent_raw, lookback) if params.normalization == "relative" else recent_raw
    if len(recent) < MIN_DRIFT_VALUES or len(reference.values) < MIN_DRIFT_VALUES:
        return Measured(
            _no_data("too few recent points to compare", job_id=job.id, recent=len(recent)), reference=built
        )
    values: dict[str, Any] = {
        "job_id": job.id,
        "test": params.test,
        "normalization": params.normalization,
        "n_reference": len(reference.values),
        "n_recent": len(recent),
        "reference_window": {"from": reference.window_from, "to": reference.window_to},
        "recent_window": {"points": len(recent_raw)},
    }
    if params.test == "ks":
        statistic, p_value = ks_two_sample(reference.values, recent)
        values.update(statistic=statistic, p_value=p_value, alpha=params.alpha)
        message = f"KS D={statistic:.3f}, p={p_value:.3g} (alpha {params.alpha})"
        return Measured(
            _observation(p_value < params.alpha, p_value, params.alpha, message, values), reference=built
        )
    psi = population_stability_index(reference.values, recent, params.bins)
    values.update(statistic=psi, bins=params.bins, psi_threshold=params.psi_threshold)
    message = f"PSI {psi:.3f} (limit {params.psi_threshold})"
    return Measured(
        _observation(psi > params.psi_threshold, psi, params.psi_threshold, message, values), reference=built
    )


def _reference(
    deps: EvaluationDeps, model: Model, job: TrainingJob, params: InputDriftParams, lookback: int
) -> DriftReference | None:
    """The last ``reference_points`` points of the job's training data, normalised as the rule
    compares them (read once per job and kept in the rule's state)."""
    quality = job.data_quality
    end = quality.last_timestamp if quality else (job.time_window.last if job.time_window else None)
    if end is None:
        return None
    raw = [v for _, v in _numbers(deps.observed_series.before(model.source, end, params.reference_points))]
    values = relative_values(raw, lookback) if params.normalization == "relative" else raw
    if not values:
        return None
    return DriftReference(
        job_id=job.id,
        normalization=params.normalization,
        values=[round(v, 9) for v in values],
        window_from=quality.first_timestamp if quality else None,
        window_to=end,
    )


# -------------------------------------------------------------------------------- staleness


def staleness(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    params = ctx.rule.params
    assert isinstance(params, StalenessParams) and ctx.model is not None
    interval = params.interval_seconds or (ctx.job.sampling_interval_seconds if ctx.job else None)
    if not interval:
        return Measured(_no_data("no sampling interval known: set params.interval_seconds"))
    points = deps.observed_series.recent(ctx.model.source, 1)
    if not points:
        return Measured(_no_data("the series has no point at all"))
    last = points[-1][0]
    age = (ctx.now - last).total_seconds()
    limit = params.factor * interval
    values = {"last_point_at": last, "age_seconds": age, "limit_seconds": limit, "interval_seconds": interval}
    message = f"last point {age:.0f} s ago (limit {limit:.0f} s = {params.factor} x {interval:.0f} s)"
    return Measured(_observation(age > limit, age, limit, message, values))


# ------------------------------------------------------------------------- observed threshold


def observed_threshold(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    params = ctx.rule.params
    assert isinstance(params, ObservedThresholdParams) and ctx.model is not None
    points = _numbers(deps.observed_series.recent(ctx.model.source, params.window_points))
    if not points:
        return Measured(_no_data("the series has no numeric point"))
    newest = points[-1][0]
    if params.max_age_seconds is not None and (ctx.now - newest).total_seconds() > params.max_age_seconds:
        return Measured(_no_data("the newest point is older than max_age_seconds", last_point_at=newest))
    numbers = [v for _, v in points]
    value = _aggregate(params.aggregation, numbers)
    values = {
        "aggregation": params.aggregation,
        "points": len(numbers),
        "window": {"from": points[0][0], "to": newest},
        "direction": params.direction,
        "threshold": params.threshold,
    }
    message = (
        f"{params.aggregation} of the last {len(numbers)} point(s) is {value:.4g} "
        f"({params.direction} {params.threshold:g} fires)"
    )
    return Measured(
        _observation(
            crossed(value, params.threshold, params.direction), value, params.threshold, message, values
        )
    )


def _aggregate(how: str, numbers: list[float]) -> float:
    if how == "mean":
        return sum(numbers) / len(numbers)
    if how == "max":
        return max(numbers)
    if how == "min":
        return min(numbers)
    return numbers[-1]


# ------------------------------------------------------------------------ predicted crossing


def predicted_crossing(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    params = ctx.rule.params
    assert isinstance(params, PredictedCrossingParams) and ctx.model is not None
    settled = _settle_outcomes(deps, ctx)
    job = ctx.job
    if job is None:
        return Measured(_no_data("the model has no trained job"), settled=settled)
    forecast = ctx.forecast
    if forecast is None:
        latest = ctx.forecasts[:1]
        if not latest:
            return Measured(
                _no_data("no forecast published yet: enable the job's recurring forecasts"), settled=settled
            )
        forecast = latest[0]
        seen = ctx.state.last_forecast_at
        if seen is not None and forecast.generated_at <= seen:
            interval = (
                job.prediction_config.interval_seconds if job.prediction_config else forecast.interval_seconds
            )
            if (ctx.now - forecast.generated_at).total_seconds() > STALE_FORECAST_INTERVALS * interval:
                return Measured(
                    _no_data(
                        "no new forecast for three forecast intervals", last_forecast_at=forecast.generated_at
                    ),
                    settled=settled,
                )
            return Measured(Observation(outcome=Outcome.UNCHANGED), settled=settled)
    result = crossing_probabilities(
        forecast.points,
        params.threshold,
        params.direction,
        params.probability,
        forecast.generated_at,
        params.horizon_steps,
    )
    considered = [
        p for p in forecast.points if params.horizon_steps is None or p.step <= params.horizon_steps
    ]
    horizon_end = max((p.target_timestamp for p in considered), default=forecast.generated_at)
    values = {
        "job_id": job.id,
        "threshold": params.threshold,
        "direction": params.direction,
        **result.model_dump(),
        "horizon_end": horizon_end,
        "forecast": {
            "generated_at": forecast.generated_at,
            "serving": forecast.serving,
            "points": [p.model_dump() for p in considered],
        },
    }
    when = f", first at step {result.first_step} ({iso_z(result.crossing_at)})" if result.crossing_at else ""
    message = (
        f"P({params.direction} {params.threshold:g} within the horizon) = {result.probability:.2f}{when}"
    )
    observation = _observation(
        result.probability >= params.probability, result.probability, params.probability, message, values
    )
    return Measured(observation, forecast_at=forecast.generated_at, horizon_end=horizon_end, settled=settled)


def _settle_outcomes(deps: EvaluationDeps, ctx: RuleContext) -> list[Alert]:
    """Predicted-crossing alerts of the rule whose outcome became known: materialized (the
    actual value crossed before the deadline) or averted (the deadline passed)."""
    assert ctx.model is not None
    settled: list[Alert] = []
    for alert in ctx.undecided:
        predicted = alert.predicted
        if predicted is None:
            continue
        actuals = deps.observed_series.between(
            ctx.model.source, alert.started_at, predicted.deadline + timedelta(milliseconds=1)
        )
        decided = settle_outcome(alert, actuals, ctx.now)
        if decided is None:
            continue
        outcome, at, lead = decided
        update: dict[str, Any] = {"outcome": outcome, "outcome_at": at, "updated_at": ctx.now}
        if outcome == AlertOutcome.MATERIALIZED:
            update["lead_time_seconds"] = lead
        settled.append(alert.model_copy(update=update))
    return settled


# ------------------------------------------------------------------------------ operational


def forecast_failures(_deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    params = ctx.rule.params
    assert isinstance(params, ForecastFailuresParams)
    job = ctx.job
    if job is None:
        return Measured(_no_data("the model has no trained job"))
    if not job.forecasts_enabled:
        return Measured(
            _observation(False, 0, params.consecutive, "recurring forecasts are disabled", {"job_id": job.id})
        )
    statuses = ctx.run_statuses[: params.consecutive]
    failures = 0
    for status in statuses:
        if status != "failed":
            break
        failures += 1
    last = job.last_forecast
    values = {"job_id": job.id, "consecutive_failures": failures, "last_error": last.error if last else None}
    message = f"{failures} consecutive failed forecast run(s) (fires at {params.consecutive})"
    return Measured(
        _observation(failures >= params.consecutive, failures, params.consecutive, message, values)
    )


def training_failed(deps: EvaluationDeps, ctx: RuleContext) -> Measured:
    assert ctx.model is not None
    latest = deps.jobs.list_for_model(ctx.model.id, 0, 1).items
    if not latest:
        return Measured(_observation(False, None, None, "the model has no training job", {}))
    job = latest[0]
    if job.status.running:
        return Measured(Observation(outcome=Outcome.UNCHANGED))
    failed = job.status == TrainingStatus.FAILED
    error = job.error.model_dump() if job.error else None
    values = {"job_id": job.id, "status": job.status.value, "error": error}
    message = f"the latest training job {job.id} is {job.status.value}"
    if failed and job.error:
        message += f": {job.error.cause[:200]}"
    return Measured(_observation(failed, None, None, message, values))


MEASURES: dict[RuleType, Callable[[EvaluationDeps, RuleContext], Measured]] = {
    RuleType.LIVE_ACCURACY: live_accuracy,
    RuleType.INPUT_DRIFT: input_drift,
    RuleType.STALENESS: staleness,
    RuleType.OBSERVED_THRESHOLD: observed_threshold,
    RuleType.PREDICTED_CROSSING: predicted_crossing,
    RuleType.FORECAST_FAILURES: forecast_failures,
    RuleType.TRAINING_FAILED: training_failed,
}
