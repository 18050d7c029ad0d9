"""Admitting a training run: the model's training lease, the data checks, and the training
queue (:mod:`chronos_core.application.training.queue`), which starts its execution when a slot
is free."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.training.commands import StartTraining
from chronos_core.application.training.deps import TrainingControlDeps
from chronos_core.application.training.queue import dispatch_queue
from chronos_core.domain.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    ValidationError,
)
from chronos_core.domain.model import Model, ModelStatus, utcnow
from chronos_core.domain.retraining import QueueEntry, Trigger, TriggerKind
from chronos_core.domain.training_job import ExecutionRef, TrainingJob, TrainingStatus, execution_name

MAX_TRAINING_POINTS: Final = 1_000_000


def start_training(deps: TrainingControlDeps, command: StartTraining) -> TrainingJob:
    """Admit a training run and queue it; it starts at once when the limits allow.

    Checks, in order: the model exists (for this caller) and is not training; STH-Comet answers
    and holds data; ``last_n`` within what exists and enough for one window in every split.

    Raises NotFoundError, ConflictError (already training), ValidationError (data checks, naming
    the field), UpstreamError / DependencyUnavailableError (STH-Comet or Step Functions).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    if model.status == ModelStatus.TRAINING or deps.jobs.running_for_model(model.id) is not None:
        raise ConflictError(f"Model {model.id} already has a running training job")
    now = utcnow()
    trigger = Trigger(
        kind=TriggerKind.MANUAL,
        at=now,
        key=f"{model.id}|manual|training-jobs|{now.isoformat()}",
        user=command.principal.subject,
        reason="POST /training-jobs",
    )
    return admit_training(deps, model, Admission(last_n=command.last_n, triggers=[trigger]))


@dataclass(frozen=True, kw_only=True)
class Admission:
    """What a new training is: its window (``last_n`` points, all when None), why it runs, and
    the retraining options it carries to the trainer."""

    last_n: int | None = None
    triggers: Sequence[Trigger] = field(default_factory=tuple)
    warm_start: bool = False
    window_seconds: float | None = None
    dispatch: bool = True
    #: The stored points when the caller counted them already.
    points_available: int | None = None
    #: A window larger than what is stored trains on everything (a policy's window).
    clamp_to_stored: bool = False


def admit_training(deps: TrainingControlDeps, model: Model, admission: Admission) -> TrainingJob:
    """Count the stored points, check the window, take the model's training lease, insert the
    job ``queued`` and dispatch the queue (unless ``admission.dispatch`` is False: the caller
    dispatches once for many). Returns the job as it stands then: ``pending`` with its execution
    when it started, ``queued`` when it waits.

    Raises ConflictError when the lease is taken (a training runs, starts, or the model is being
    deleted), NotFoundError when the model went away, ValidationError, UpstreamError."""
    total = admission.points_available
    if total is None:
        total = deps.series.count(model.source)
    last_n = _training_window(model, total, admission.last_n, clamp=admission.clamp_to_stored)
    if not deps.models.claim_for_training(model.id):
        if deps.models.get(model.id) is None:
            raise NotFoundError(f"Model {model.id} not found")  # deleted meanwhile
        raise ConflictError(f"Model {model.id} already has a running training job (or is being deleted)")
    now = utcnow()
    job = TrainingJob(
        model_id=model.id,
        fiware_service=model.source.fiware_service,
        status=TrainingStatus.QUEUED,
        last_n=last_n,
        points_available=total,
        window_offset=total - last_n,
        triggers=list(admission.triggers),
        queue=QueueEntry(enqueued_at=now),
        warm_start_requested=admission.warm_start,
        window_seconds=admission.window_seconds,
    )
    job.execution = ExecutionRef(name=execution_name(job.id, 1), attempt=1)
    try:
        deps.jobs.add(job)
    except Exception:
        deps.models.release_after_training(model.id, succeeded=False)
        raise
    if admission.dispatch:
        dispatch_queue(deps)
    admitted = deps.jobs.get(job.id) or job
    if admitted.status == TrainingStatus.FAILED and admitted.error is not None:
        # the queue admitted it at once, but its execution could not start (recorded on the job)
        raise DependencyUnavailableError(f"{admitted.error.cause}; retry later")
    return admitted


def _training_window(model: Model, total: int, last_n: int | None, *, clamp: bool = False) -> int:
    """How many of the ``total`` stored points to train on (``clamp``: at most ``total``).
    Raises ValidationError."""
    if total <= 0:
        raise ValidationError(
            "STH-Comet holds no data for this model's entity attribute",
            details=[{"field": "feature", "message": f"no points stored for {model.source.entity_id}"}],
        )
    if last_n is not None and clamp:
        last_n = min(last_n, total)
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
