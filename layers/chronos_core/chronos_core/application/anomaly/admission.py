"""Admitting an anomaly scan and starting its state-machine execution."""

from __future__ import annotations

from datetime import datetime

from chronos_core.application.anomaly.commands import StartScan
from chronos_core.application.anomaly.control import start_scan_execution
from chronos_core.application.anomaly.deps import ScanControlDeps
from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.domain.anomaly import MAX_SCAN_POINTS, AnomalyScan, ScanRequest, ensure_utc, window_problems
from chronos_core.domain.errors import ConflictError, NotFoundError, ValidationError
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import Model, utcnow
from chronos_core.domain.training_job import ExecutionRef, TrainingJob, execution_name


def start_scan(deps: ScanControlDeps, command: StartScan) -> AnomalyScan:
    """Admit a scan and start its execution (named after it).

    Checks, in order: the model exists (for this caller); the job (given, else the one the model
    serves) is one of its completed jobs; the window and the settings are valid; STH-Comet holds
    readings in the window (``last_n`` at most what is stored).

    Raises NotFoundError, ConflictError (no trained job), ValidationError (naming the field),
    UpstreamError / DependencyUnavailableError (STH-Comet or Step Functions).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    job = _scanning_job(deps, model, command.job_id)
    date_from = ensure_utc(command.date_from) if command.date_from is not None else None
    date_to = ensure_utc(command.date_to) if command.date_to is not None else None
    problems = window_problems(command.last_n, date_from, date_to)  # naive times read as UTC
    if problems:
        raise ValidationError("The scan window is invalid", details=problems)
    settings = command.options.settings(horizon=_horizon(model, job))
    request = _request(command)
    points = _points_in(deps, model, request)
    scan = AnomalyScan(
        model_id=model.id,
        job_id=job.id,
        fiware_service=model.source.fiware_service,
        settings=settings,
        request=request,
        points_expected=points,
    )
    scan.execution = ExecutionRef(name=execution_name(scan.id, 1), attempt=1)
    deps.scans.add(scan)
    return start_scan_execution(deps, scan)


def _scanning_job(deps: ScanControlDeps, model: Model, job_id: JobId | None) -> TrainingJob:
    """The completed job whose served forecaster scores. Raises NotFoundError / ConflictError."""
    if job_id is None:
        if model.serving is None:
            raise ConflictError(
                f"Model {model.id} has no trained job to scan with",
                details=[{"field": "job_id", "message": "the model serves no job; train it or give job_id"}],
            )
        job_id = JobId(model.serving.training_job_id)
    job = deps.jobs.get(job_id)
    if job is None or job.model_id != model.id:
        raise NotFoundError(f"Training job {job_id} not found for model {model.id}")
    job.trained_artifacts()  # ConflictError unless completed with its artifacts
    return job


def _horizon(model: Model, job: TrainingJob) -> int:
    return job.result.forecast_horizon if job.result is not None else model.hyperparameters.forecast_horizon


def _request(command: StartScan) -> ScanRequest:
    if command.last_n is not None:
        return ScanRequest(last_n=command.last_n)
    assert command.date_from is not None  # window_problems checked it
    date_to = ensure_utc(command.date_to) if command.date_to is not None else utcnow()
    date_from = ensure_utc(command.date_from)
    if date_to <= date_from:
        raise ValidationError(
            "The scan window ends before it starts",
            details=[{"field": "date_from", "message": "must be before date_to (default: now)"}],
        )
    return ScanRequest(date_from=date_from, date_to=date_to)


def _points_in(deps: ScanControlDeps, model: Model, request: ScanRequest) -> int:
    """How many readings the window holds. Raises ValidationError naming the field."""
    if request.last_n is not None:
        total = deps.series.count(model.source)
        if total <= 0:
            raise ValidationError(
                "STH-Comet holds no data for this model's entity attribute",
                details=[{"field": "last_n", "message": f"no points stored for {model.source.entity_id}"}],
            )
        if request.last_n > total:
            raise ValidationError(
                f"Requested {request.last_n} points but only {total} are stored",
                details=[{"field": "last_n", "message": f"at most {total}"}],
            )
        return request.last_n
    assert request.date_from is not None and request.date_to is not None
    points = deps.series.count_between(model.source, request.date_from, request.date_to)
    if points <= 0:
        raise ValidationError(
            f"STH-Comet holds no reading of {model.source.entity_id} between {_day(request.date_from)} "
            f"and {_day(request.date_to)}",
            details=[{"field": "date_from", "message": "no readings in the window"}],
        )
    if points > MAX_SCAN_POINTS:
        raise ValidationError(
            f"The window holds {points} readings; a scan covers at most {MAX_SCAN_POINTS}",
            details=[{"field": "date_from", "message": f"at most {MAX_SCAN_POINTS} readings"}],
        )
    return points


def _day(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
