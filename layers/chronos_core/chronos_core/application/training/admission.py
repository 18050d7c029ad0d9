"""Admitting a training run and starting its state-machine execution."""

from __future__ import annotations

from typing import Final

from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.training.commands import StartTraining
from chronos_core.application.training.deps import TrainingControlDeps
from chronos_core.application.training.execution import start_execution
from chronos_core.domain.errors import ConflictError, NotFoundError, ValidationError
from chronos_core.domain.model import Model, ModelStatus
from chronos_core.domain.training_job import ExecutionRef, TrainingJob, execution_name

MAX_TRAINING_POINTS: Final = 1_000_000


def start_training(deps: TrainingControlDeps, command: StartTraining) -> TrainingJob:
    """Admit a training run and start its execution (named after the job).

    Checks, in order: the model exists (for this caller) and is not training; STH-Comet answers
    and holds data; ``last_n`` within what exists and enough for one window in every split.

    Raises NotFoundError, ConflictError (already training), ValidationError (data checks, naming
    the field), UpstreamError / DependencyUnavailableError (STH-Comet or Step Functions).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    if model.status == ModelStatus.TRAINING or deps.jobs.running_for_model(model.id) is not None:
        raise ConflictError(f"Model {model.id} already has a running training job")
    total = deps.series.count(model.source)
    last_n = _training_window(model, total, command.last_n)
    if not deps.models.claim_for_training(model.id):
        if deps.models.get(model.id) is None:
            raise NotFoundError(f"Model {model.id} not found")  # deleted meanwhile
        raise ConflictError(f"Model {model.id} already has a running training job (or is being deleted)")
    job = TrainingJob(
        model_id=model.id,
        fiware_service=model.source.fiware_service,
        last_n=last_n,
        points_available=total,
        window_offset=total - last_n,
    )
    job.execution = ExecutionRef(name=execution_name(job.id, 1), attempt=1)
    try:
        deps.jobs.add(job)
    except Exception:
        deps.models.release_after_training(model.id, succeeded=False)
        raise
    return start_execution(deps, job)


def _training_window(model: Model, total: int, last_n: int | None) -> int:
    """How many of the ``total`` stored points to train on. Raises ValidationError."""
    if total <= 0:
        raise ValidationError(
            "STH-Comet holds no data for this model's entity attribute",
            details=[{"field": "feature", "message": f"no points stored for {model.source.entity_id}"}],
        )
    window = last_n if last_n is not None else min(total, MAX_TRAINING_POINTS)
    if window > total:
        raise ValidationError(
            f"Requested {window} points but only {total} are stored",
            details=[{"field": "last_n", "message": f"at most {total}"}],
        )
    hyper = model.hyperparameters
    required = hyper.minimum_points()
    if window < required:
        raise ValidationError(
            f"Training needs at least {required} points for lookback {hyper.lookback_window}, "
            f"horizon {hyper.forecast_horizon} and the split ratios; {window} would be used",
            details=[{"field": "last_n", "message": f"at least {required}", "available": total}],
        )
    return window
