"""Reconciling jobs with their executions: no job stays running after its execution has ended.

A job's failure is normally recorded by the state machine itself (the RecordFailure step), but
that step needs the database: when MongoDB is away for longer than the step's retries last, the
execution ends while its job still reads ``training`` and its model stays claimed. The reconciler
(scheduled every minute; in AWS also triggered by Step Functions' status-change events) finds
such jobs and records what happened, exactly as RecordFailure would have: the model is released,
then the job turns ``failed`` with the execution's own error and cause. Such a job can be retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from pydantic import BaseModel, Field

from chronos_core.application.ports.pipeline import ExecutionState, Workflow
from chronos_core.application.ports.retraining import ModelEventListener, ModelEvents, RetrainingPolicies
from chronos_core.application.ports.training_jobs import PipelineJournal, TrainingJobs
from chronos_core.application.training.deps import QueueDeps
from chronos_core.application.training.pipeline.completion import record_failure
from chronos_core.application.training.pipeline.events import FailureEvent, readable_cause
from chronos_core.application.training.queue import dispatch_queue
from chronos_core.domain.training_job import ExecutionRef, TrainingJob
from chronos_core.observability import logger

#: Jobs looked at per run (the oldest changes first); the rest wait for the next run.
BATCH: Final = 500


class ReconcilableJobs(TrainingJobs, PipelineJournal, Protocol):
    """Running jobs, and what recording their failure needs."""


class ReconcileDeps(QueueDeps, Protocol):
    @property
    def jobs(self) -> ReconcilableJobs: ...

    @property
    def policies(self) -> RetrainingPolicies: ...

    @property
    def events(self) -> ModelEvents: ...

    @property
    def model_event_listeners(self) -> Sequence[ModelEventListener]: ...


@dataclass(frozen=True, kw_only=True)
class ReconcileJobs:
    """Reconcile at ``now``. An aborted execution must have been stopped at least
    ``grace_seconds`` ago (the cancel that stopped it records the job's outcome itself, just
    after), and a job without an execution must have been left for that long; a failed or
    timed-out execution is settled at once (its failure step has run, in vain)."""

    now: datetime
    grace_seconds: float = 60.0
    dispatch: bool = True


class ReconcileResult(BaseModel):
    checked: int = 0
    failed: list[str] = Field(default_factory=list)
    #: Jobs the training queue started on this run (slots freed since the last one).
    started: list[str] = Field(default_factory=list)


def reconcile_jobs(deps: ReconcileDeps, command: ReconcileJobs) -> ReconcileResult:
    """Record as failed every running job whose execution has ended, or never started; then
    dispatch the training queue (this is where slots freed by ended jobs are seen)."""
    result = ReconcileResult()
    settled = command.now - timedelta(seconds=command.grace_seconds)
    for job in deps.jobs.running_jobs(BATCH):
        if job.waiting_in_queue:
            continue  # waits for a slot: it has no execution by design
        result.checked += 1
        failure = _failure_of(deps, job, settled)
        if failure is None:
            continue
        if record_failure(deps, FailureEvent(job_id=job.id, failure=failure)).recorded:
            result.failed.append(job.id)
            logger.warning("Reconciled a job whose execution had ended", extra={"job_id": job.id, **failure})
    if command.dispatch:
        result.started = list(dispatch_queue(deps))
    return result


def _failure_of(deps: ReconcileDeps, job: TrainingJob, settled: datetime) -> dict[str, str] | None:
    """The ``{Error, Cause}`` to record for ``job``, or None while it may still be running."""
    return ended_execution_failure(
        deps.workflow, job.execution, job.updated_at, settled, name="training workflow"
    )


def ended_execution_failure(
    workflow: Workflow,
    execution: ExecutionRef | None,
    updated_at: datetime,
    settled: datetime,
    *,
    name: str = "workflow",
) -> dict[str, str] | None:
    """The ``{Error, Cause}`` to record for a running job or scan driven by ``execution``, or
    None while it may still be running: an execution never started (once ``updated_at`` is
    before ``settled``), gone, failed or timed out, or aborted before ``settled``."""
    arn = execution.arn if execution else None
    if arn is None:
        if updated_at > settled:
            return None
        return {"Error": "WorkflowNotStarted", "Cause": f"The {name} was never started"}
    state = workflow.describe(arn)
    if state is None:
        return {"Error": "ExecutionNotFound", "Cause": f"The execution {arn} no longer exists"}
    aborted_just_now = state.status == "ABORTED" and (state.stopped_at is None or state.stopped_at > settled)
    if state.running or aborted_just_now:
        return None
    ended = state.status.replace("_", " ").title().replace(" ", "")
    return {"Error": state.error or f"Execution{ended}", "Cause": _cause(state)}


def _cause(state: ExecutionState) -> str:
    ended = f"the execution ended {state.status} before the outcome was recorded"
    cause = readable_cause(state.cause or "")
    return f"{cause} ({ended})" if cause else ended.capitalize()
