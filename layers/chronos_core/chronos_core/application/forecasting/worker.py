"""The forecast worker: run the forecasts of a batch of claimed ``(job, slot)`` and publish them.

A batch (one SQS batch, up to ten messages) is handled as a batch: one read of its jobs and one
of their models, the run leases taken together, the STH context reads and forecasts run
concurrently (at most ``batch_concurrency``), one Orion batch update per tenant, and the run
records and schedule moves written in bulk. Each item still ends on its own: a bad job makes
only its own item fail, and an item whose slot already succeeded is skipped (a redelivered
message never publishes twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from chronos_core.application.forecasting.commands import ExecuteForecast, ExecuteForecastBatch
from chronos_core.application.forecasting.context import forecast_now
from chronos_core.application.forecasting.deps import WorkerDeps
from chronos_core.application.ports.forecasting import RunOutcome
from chronos_core.domain.errors import ChronosError, ConflictError, DependencyUnavailableError
from chronos_core.domain.forecasting import (
    MAX_ERROR_LENGTH,
    ForecastMessage,
    ForecastResult,
    ForecastRunStatus,
    ForecastSeries,
    LastForecast,
    PredictionConfig,
    advance,
)
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model, iso_z, utcnow
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger


class ExecutionOutcome(BaseModel):
    job_id: str
    slot: datetime
    status: Literal["succeeded", "skipped"]
    reason: str | None = None
    points: int = 0


#: One result per batch item: its outcome, or the error that failed it (retried by SQS).
ItemResult = ExecutionOutcome | Exception


@dataclass
class _Run:
    """An admitted item of the batch and what its run produced so far."""

    index: int
    item: ExecuteForecast
    job: TrainingJob
    model: Model
    config: PredictionConfig
    record: LastForecast
    result: ForecastResult | None = None
    series: ForecastSeries | None = None
    error: Exception | None = None


def execute_forecast(deps: WorkerDeps, command: ExecuteForecast) -> ExecutionOutcome:
    """Run the forecast of one ``(job, slot)`` (a batch of one); raise its error."""
    [result] = execute_forecasts(deps, ExecuteForecastBatch(items=(command,)))
    if isinstance(result, Exception):
        raise result
    return result


def execute_forecasts(deps: WorkerDeps, command: ExecuteForecastBatch) -> list[ItemResult]:
    """Run the forecast of each ``(job, slot)`` of the batch and upsert it into Orion, with the
    model's champion (:func:`serving_job`); each published series names the job and model version.

    Per item: skipped (acknowledged, nothing written) when the job or model no longer exists,
    recurring forecasts are disabled, or the slot already succeeded; ConflictError while another
    run holds the slot; any other failure is recorded on the job's ``last_forecast`` (``final``
    on the last allowed attempt) and returned as the item's result. A run that ends (success or
    final failure) moves the job's next slot past its own before ``last_forecast`` shows the
    outcome. A failure of the storage itself (the whole batch's reads or writes) raises.
    """
    items = command.items
    results: list[ItemResult | None] = [None] * len(items)
    runs = _admitted(deps, items, results)
    if runs:  # each one's lease (forecast_runs) shows it running; the job's record waits for its end
        _forecast_all(deps, runs)
        _publish_all(deps, [run for run in runs if run.error is None])
        _finish_all(deps, runs)
        for run in runs:
            results[run.index] = _result_of(deps, run)
    return [r if r is not None else ConflictError("not run") for r in results]


def _admitted(
    deps: WorkerDeps, items: Sequence[ExecuteForecast], results: list[ItemResult | None]
) -> list[_Run]:
    """The items whose run may start now (their leases taken together); the others' results
    are filled in (skipped, or ConflictError while another run holds the slot)."""
    jobs = _jobs(deps, [item.message.job_id for item in items], results)
    models = {m.id: m for m in deps.models.get_batch(list({job.model_id for job in jobs.values()}))}
    candidates: list[tuple[int, ExecuteForecast, TrainingJob, Model, PredictionConfig]] = []
    for index, item in enumerate(items):
        if results[index] is not None:
            continue
        job = jobs.get(item.message.job_id)
        config = job.prediction_config if job else None
        model = models.get(job.model_id) if job else None
        if job is None:
            results[index] = _skipped(item.message, "job not found")
        elif config is None or not config.enabled:
            results[index] = _skipped(item.message, "recurring forecasts are disabled")
        elif model is None:
            results[index] = _skipped(item.message, "model not found")
        else:
            candidates.append((index, item, job, model, config))
    admissions = deps.schedule.begin_runs(
        [(job.id, item.message.slot, item.attempt) for _, item, job, _, _ in candidates],
        deps.forecast_settings.lease_seconds,
    )
    runs: list[_Run] = []
    already_done: list[tuple[TrainingJob, datetime]] = []
    for (index, item, job, model, config), admission in zip(candidates, admissions, strict=True):
        message = item.message
        if admission == "done":
            already_done.append((job, message.slot))  # in case the run that succeeded stopped short
            results[index] = _skipped(message, "this slot was already forecast")
        elif admission == "busy":
            results[index] = ConflictError(f"The forecast {message.key} is running elsewhere; retry later")
        else:
            record = LastForecast(
                slot=message.slot, started_at=utcnow(), status=ForecastRunStatus.RUNNING, attempt=item.attempt
            )
            runs.append(_Run(index=index, item=item, job=job, model=model, config=config, record=record))
    _advance_past(deps, already_done)
    return runs


def _jobs(
    deps: WorkerDeps, job_ids: list[JobId], results: list[ItemResult | None]
) -> dict[JobId, TrainingJob]:
    """The batch's jobs in one read; when that read fails on a job (not on the database), each
    job is read alone and the one that fails fails only its own items."""
    try:
        return deps.jobs.get_batch(job_ids)
    except DependencyUnavailableError:
        raise
    except Exception:
        logger.exception("Reading the batch's jobs failed; reading them one by one")
    found: dict[JobId, TrainingJob] = {}
    for index, job_id in enumerate(job_ids):
        try:
            job = deps.jobs.get(job_id)
        except DependencyUnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - this item's failure
            results[index] = exc
            continue
        if job is not None:
            found[job_id] = job
    return found


def _forecast_all(deps: WorkerDeps, runs: list[_Run]) -> None:
    """Read each run's context from STH and forecast, ``batch_concurrency`` at a time."""
    champions = _champions(deps, runs)

    def forecast(run: _Run) -> None:
        try:
            served = serving_job(deps, run.model, run.job, champions)
            result, _ = forecast_now(deps, run.model, served)
            run.result = result
            run.series = ForecastSeries.of(
                result, utcnow(), training_job_id=served.id, model_version=served.model_version
            )
        except Exception as exc:  # noqa: BLE001 - this run's failure
            run.error = exc

    workers = min(len(runs), deps.forecast_settings.batch_concurrency)
    if workers <= 1:
        for run in runs:
            forecast(run)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="forecast") as pool:
        list(pool.map(forecast, runs))


def _champions(deps: WorkerDeps, runs: list[_Run]) -> dict[JobId, TrainingJob]:
    """The champions the runs follow that are not among the batch's own jobs, in one read."""
    own = {run.job.id: run.job for run in runs}
    wanted = [
        JobId(run.model.champion_job_id)
        for run in runs
        if run.model.champion_job_id and run.model.champion_job_id not in own
    ]
    return {**own, **(deps.jobs.get_batch(wanted) if wanted else {})}


def _publish_all(deps: WorkerDeps, runs: list[_Run]) -> None:
    if not runs:
        return
    published = deps.publisher.publish_many([(run.config, run.series) for run in runs if run.series])
    for run, error in zip(runs, published, strict=True):
        run.error = error


def _finish_all(deps: WorkerDeps, runs: list[_Run]) -> None:
    """Record every run's outcome (bulk); those that will not be retried (successes and final
    failures) first move their job past the slot, then ``last_forecast`` shows the outcome."""
    outcomes: list[RunOutcome] = []
    moves: list[tuple[TrainingJob, datetime]] = []
    records: list[tuple[JobId, LastForecast]] = []
    max_receives = deps.forecast_settings.max_receive_count
    for run in runs:
        slot = run.item.message.slot
        finished: dict[str, object] = {"finished_at": utcnow()}
        if run.error is None and run.result is not None and run.series is not None:
            outcomes.append(RunOutcome(job_id=run.job.id, slot=slot, status=ForecastRunStatus.SUCCEEDED))
            moves.append((run.job, slot))
            finished |= {
                "status": ForecastRunStatus.SUCCEEDED,
                "points": len(run.result.values),
                "generated_at": run.series.generated_at,
                "quality": run.result.quality,
            }
        else:
            exc = run.error
            message = (
                exc.message if isinstance(exc, ChronosError) else f"{type(exc).__name__}: internal error"
            )
            final = run.item.attempt >= max_receives
            outcomes.append(
                RunOutcome(
                    job_id=run.job.id,
                    slot=slot,
                    status=ForecastRunStatus.FAILED,
                    error=message[:MAX_ERROR_LENGTH],
                )
            )
            if final:
                moves.append((run.job, slot))
            finished |= {
                "status": ForecastRunStatus.FAILED,
                "error": message[:MAX_ERROR_LENGTH],
                "final": final,
            }
        records.append((run.job.id, run.record.model_copy(update=finished)))
    deps.schedule.finish_runs(outcomes)
    _advance_past(deps, moves)
    deps.jobs.record_last_forecasts(records)


def _result_of(deps: WorkerDeps, run: _Run) -> ItemResult:
    message = run.item.message
    if run.error is not None or run.result is None or run.series is None:
        logger.warning(
            "Forecast failed",
            extra={
                "job_id": run.job.id,
                "slot": iso_z(message.slot),
                "attempt": run.item.attempt,
                "final": run.item.attempt >= deps.forecast_settings.max_receive_count,
            },
        )
        return run.error or ConflictError("no forecast")
    logger.info(
        "Forecast published",
        extra={"job_id": run.job.id, "slot": iso_z(message.slot), "quality": run.result.quality.status},
    )
    _tell_listeners(deps, run.job, run.model, message.slot, run.result, run.series)
    return ExecutionOutcome(
        job_id=run.job.id, slot=message.slot, status="succeeded", points=len(run.result.values)
    )


def _tell_listeners(
    deps: WorkerDeps,
    job: TrainingJob,
    model: Model,
    slot: datetime,
    result: ForecastResult,
    series: ForecastSeries,
) -> None:
    """Tell each listener (monitoring) of the published forecast; none can fail the forecast."""
    for listener in deps.forecast_listeners:
        try:
            listener.forecast_published(job, model, slot, result, series)
        except Exception:
            logger.exception("A forecast listener failed", extra={"job_id": job.id})


def serving_job(
    deps: WorkerDeps, model: Model, job: TrainingJob, known: Mapping[JobId, TrainingJob] | None = None
) -> TrainingJob:
    """The job whose forecaster publishes on ``job``'s entity: the model's champion when the
    recurring forecasts follow it (the default) and it is a completed job with artifacts, else
    ``job`` itself. The slot grid, the claims and the entity stay ``job``'s, so a promotion
    changes the forecaster from the next slot on, with no slot missed or published twice.
    ``known`` holds jobs read already (the champion is read only when it is not among them)."""
    config = job.prediction_config
    champion_id = model.champion_job_id
    if config is None or not config.follow_champion or champion_id is None or champion_id == job.id:
        return job
    known = known or {}
    champion = known[JobId(champion_id)] if JobId(champion_id) in known else deps.jobs.get(JobId(champion_id))
    if champion is None or champion.artifacts is None or champion.model_id != model.id:
        return job
    return champion


def _advance_past(deps: WorkerDeps, runs: Sequence[tuple[TrainingJob, datetime]]) -> None:
    moves = []
    for job, slot in runs:
        config = job.prediction_config
        if config is not None:
            moves.append((job.id, slot, advance(slot, config.interval_seconds, slot)[1]))
    if moves:
        deps.jobs.advance_forecast_slots(moves)


def _skipped(message: ForecastMessage, reason: str) -> ExecutionOutcome:
    logger.info("Forecast skipped", extra={"job_id": message.job_id, "reason": reason})
    return ExecutionOutcome(job_id=message.job_id, slot=message.slot, status="skipped", reason=reason)
