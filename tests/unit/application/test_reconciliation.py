"""The reconciler over the fakes: a running job whose execution has ended (or never started) is
recorded as failed with the execution's own error, its model freed, and it can be retried."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.application.ports.pipeline import ExecutionState
from chronos_core.application.training.commands import JobCommand
from chronos_core.application.training.control import retry_job
from chronos_core.application.training.pipeline.progress import JobProgress
from chronos_core.application.training.reconciliation import ReconcileJobs, reconcile_jobs
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ModelStatus, utcnow
from chronos_core.domain.training_job import EpochProgress, ExecutionRef, Phase, TrainingStatus
from tests.support.builders import job, model, principal
from tests.support.fakes import FakeWorkflow, InMemoryModelRepository, InMemoryTrainingJobs, fake_services

ARN = "arn:aws:states:local:000000000000:execution:training:job-1"
CAUSE = (
    '{"errorMessage": "The database is unavailable; retry later", "errorType": "DependencyUnavailableError"}'
)


def world(state: ExecutionState | None, *, arn: str | None = ARN, age_seconds: float = 0) -> Services:
    models = InMemoryModelRepository(model())
    models.claim_for_training(ModelId("model-1"))
    running = job(
        status=TrainingStatus.TRAINING,
        phase=Phase.TRAIN,
        execution=ExecutionRef(name="job-1", arn=arn),
        updated_at=utcnow() - timedelta(seconds=age_seconds),
    )
    workflow = FakeWorkflow()
    workflow.states[ARN] = state
    return fake_services(models=models, jobs=InMemoryTrainingJobs(running), workflow=workflow)


def reconcile(services: Services) -> list[str]:
    return reconcile_jobs(services, ReconcileJobs(now=utcnow())).failed


def test_a_job_whose_execution_failed_without_recording_it_is_failed_truthfully_and_can_be_retried() -> None:
    ended = ExecutionState(
        status="FAILED", error="DependencyUnavailableError", cause=CAUSE, stopped_at=utcnow()
    )
    services = world(ended)
    assert reconcile(services) == ["job-1"]
    failed = services.jobs.get(JobId("job-1"))
    assert failed is not None and failed.status == TrainingStatus.FAILED and failed.error is not None
    assert (failed.error.phase, failed.error.error) == ("train", "DependencyUnavailableError")
    assert failed.error.cause.startswith(
        "The database is unavailable; retry later (the execution ended FAILED"
    )
    assert services.models.get(ModelId("model-1")).status == ModelStatus.DRAFT  # type: ignore[union-attr]
    assert reconcile(services) == []  # done once
    retried = retry_job(
        services, JobCommand(principal=principal(), model_id=ModelId("model-1"), job_id=JobId("job-1"))
    )
    assert retried.status == TrainingStatus.PENDING


def test_running_and_just_aborted_executions_are_left_alone() -> None:
    assert reconcile(world(ExecutionState(status="RUNNING"))) == []
    # A cancel stops the execution, then records the job itself: give it time.
    assert reconcile(world(ExecutionState(status="ABORTED", stopped_at=utcnow()))) == []
    aborted_long_ago = ExecutionState(status="ABORTED", stopped_at=utcnow() - timedelta(minutes=5))
    services = world(aborted_long_ago)
    assert reconcile(services) == ["job-1"]
    assert services.jobs.get(JobId("job-1")).error.error == "ExecutionAborted"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("state", "arn", "age", "error"),
    [
        (None, ARN, 0, "ExecutionNotFound"),  # LocalStack restarted, or the execution was deleted
        (ExecutionState(status="TIMED_OUT", stopped_at=utcnow()), ARN, 0, "ExecutionTimedOut"),
        (None, None, 300, "WorkflowNotStarted"),
    ],
)
def test_gone_timed_out_and_never_started_executions_fail_their_job(
    state: ExecutionState | None, arn: str | None, age: float, error: str
) -> None:
    services = world(state, arn=arn, age_seconds=age)
    assert reconcile(services) == ["job-1"]
    assert services.jobs.get(JobId("job-1")).error.error == error  # type: ignore[union-attr]


def test_a_job_waiting_for_its_execution_to_start_is_given_time() -> None:
    assert reconcile(world(None, arn=None, age_seconds=5)) == []


def test_progress_is_best_effort_while_the_database_is_away() -> None:
    class Away:
        def record_training_phase(self, job_id: JobId, name: str) -> None:
            raise DependencyUnavailableError("The database is unavailable; retry later")

        def record_epoch(self, job_id: JobId, record: object, epochs: int) -> bool:
            raise DependencyUnavailableError("The database is unavailable; retry later")

        def status_of(self, job_id: JobId) -> TrainingStatus | None:
            raise DependencyUnavailableError("The database is unavailable; retry later")

    progress = JobProgress(Away(), JobId("job-1"))  # type: ignore[arg-type]
    progress.phase("training")
    progress.epoch(
        EpochProgress(epoch=1, epochs=2, loss=1.0, val_loss=None, learning_rate=None, elapsed_seconds=1)
    )
    assert progress.should_stop() is False  # the fit carries on
