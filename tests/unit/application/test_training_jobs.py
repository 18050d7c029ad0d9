"""Training-job use cases over the fakes: admission checks, the execution start and its failure,
cancel, retry, delete and listing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.application.training.admission import start_training
from chronos_core.application.training.commands import JobCommand, ListJobs, StartTraining
from chronos_core.application.training.control import cancel_job, retry_job
from chronos_core.application.training.queries import get_job, list_jobs
from chronos_core.application.training.removal import delete_job
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import (
    ConflictError,
    DependencyUnavailableError,
    NotFoundError,
    UpstreamError,
    ValidationError,
)
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ModelStatus
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import T0, job, model, principal, trained_job
from tests.support.fakes import (
    FakeSeriesSource,
    FakeWorkflow,
    InMemoryModelRepository,
    InMemoryObjectStore,
    InMemoryTrainingJobs,
    fake_services,
)

MODEL = ModelId("model-1")


def history(points: int) -> FakeSeriesSource:
    return FakeSeriesSource({"urn:x:Meter:1": [(T0 + timedelta(minutes=10 * i), 1.0) for i in range(points)]})


def world(
    points: int = 1200, *jobs: object, status: ModelStatus = ModelStatus.DRAFT, **overrides: object
) -> Services:
    defaults = {
        "models": InMemoryModelRepository(model(status=status)),
        "jobs": InMemoryTrainingJobs(*jobs),  # type: ignore[arg-type]
        "series": history(points),
    }
    return fake_services(**{**defaults, **overrides})


def start(services: Services, last_n: int | None = None) -> object:
    return start_training(services, StartTraining(principal=principal(), model_id=MODEL, last_n=last_n))


def on(job_id: str) -> JobCommand:
    return JobCommand(principal=principal(), model_id=MODEL, job_id=JobId(job_id))


def test_start_claims_the_model_records_the_job_and_starts_an_execution_named_after_it() -> None:
    services = world(1200)
    started = start(services, last_n=1000)
    assert started.status == TrainingStatus.PENDING  # type: ignore[attr-defined]
    assert (started.last_n, started.points_available, started.window_offset) == (1000, 1200, 200)  # type: ignore[attr-defined]
    workflow: FakeWorkflow = services.workflow  # type: ignore[assignment]
    assert workflow.started == [(started.id, {"job_id": started.id})]  # type: ignore[attr-defined]
    assert started.execution.arn and started.execution.arn.endswith(started.id)  # type: ignore[attr-defined]
    assert services.models.get(MODEL).status == ModelStatus.TRAINING  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        start(services)


@pytest.mark.parametrize(
    ("points", "last_n", "field"),
    [(0, None, "feature"), (1200, 5000, "last_n"), (1200, 40, "last_n"), (40, None, "last_n")],
)
def test_admission_checks_name_the_field(points: int, last_n: int | None, field: str) -> None:
    services = world(points)
    with pytest.raises(ValidationError) as raised:
        start(services, last_n)
    assert raised.value.details[0]["field"] == field
    assert services.models.get(MODEL).status == ModelStatus.DRAFT  # type: ignore[union-attr]  # not claimed
    assert services.workflow.started == []  # type: ignore[attr-defined]


def test_an_unreachable_sth_refuses_admission() -> None:
    services = world(series=FakeSeriesSource(error=UpstreamError("STH-Comet answered HTTP 500")))
    with pytest.raises(UpstreamError):
        start(services)
    assert services.models.get(MODEL).status == ModelStatus.DRAFT  # type: ignore[union-attr]


def test_a_workflow_that_cannot_start_frees_the_model_then_fails_the_job() -> None:
    services = world(workflow=FakeWorkflow(error=ConnectionError("down")))
    with pytest.raises(DependencyUnavailableError):
        start(services)
    [failed] = services.jobs.list_for_model(MODEL, 0, 10).items
    assert failed.status == TrainingStatus.FAILED and failed.error is not None
    assert failed.error.error == "ConnectionError"
    assert services.models.get(MODEL).status == ModelStatus.DRAFT  # type: ignore[union-attr]


def test_cancel_stops_the_execution_and_frees_the_model_once() -> None:
    services = world()
    started = start(services)
    cancelled = cancel_job(services, on(started.id))  # type: ignore[attr-defined]
    assert (
        cancelled.status == TrainingStatus.CANCELLED and cancelled.error.cause == "Cancelled by user request"
    )  # type: ignore[union-attr]
    assert services.workflow.stopped == [started.execution.arn]  # type: ignore[attr-defined]
    assert services.models.get(MODEL).status == ModelStatus.DRAFT  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        cancel_job(services, on(started.id))  # type: ignore[attr-defined]


def test_retry_reopens_a_failed_job_under_a_new_execution() -> None:
    services = world(1200, job(status=TrainingStatus.FAILED, chunk_points=600))
    retried = retry_job(services, on("job-1"))
    assert retried.status == TrainingStatus.PENDING and retried.error is None
    assert retried.execution is not None and (retried.execution.name, retried.execution.attempt) == (
        "job-1-r2",
        2,
    )
    assert retried.chunk_points == 600  # the first plan's chunks keep their checkpoints valid
    assert services.models.get(MODEL).status == ModelStatus.TRAINING  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        retry_job(services, on("job-1"))  # it is running again


def test_only_failed_jobs_are_retried() -> None:
    with pytest.raises(ConflictError):
        retry_job(world(1200, trained_job()), on("job-1"))


def test_delete_refuses_a_running_job_and_removes_a_finished_one_with_its_data() -> None:
    objects = InMemoryObjectStore()
    objects.put_json("jobs/job-1/chunks/000000000000.json", {"points": []})
    objects.put_json("jobs/job-2/dataset.json", {})
    services = world(
        1200,
        trained_job(),
        job("job-2", status=TrainingStatus.TRAINING),
        status=ModelStatus.TRAINED,
        objects=objects,
    )
    with pytest.raises(ConflictError):
        delete_job(services, on("job-2"))
    delete_job(services, on("job-1"))
    assert services.jobs.get(JobId("job-1")) is None
    assert list(objects.objects) == ["jobs/job-2/dataset.json"]
    assert services.models.get(MODEL).status == ModelStatus.DRAFT  # type: ignore[union-attr]  # no success left


def test_jobs_of_another_model_or_tenant_are_not_found() -> None:
    services = world(1200, trained_job(model_id="model-2"))
    with pytest.raises(NotFoundError):
        get_job(services, on("job-1"))
    stranger = JobCommand(
        principal=principal(tenants=frozenset({"water"})), model_id=MODEL, job_id=JobId("job-1")
    )
    with pytest.raises(NotFoundError):
        get_job(services, stranger)
    with pytest.raises(NotFoundError):
        list_jobs(services, ListJobs(principal=stranger.principal, model_id=MODEL))


def test_list_jobs_newest_first_with_live_progress() -> None:
    older = trained_job("job-1", created_at=T0)
    newer = job("job-2", status=TrainingStatus.COLLECTING_DATA, created_at=T0 + timedelta(hours=1))
    services = world(1200, older, newer)
    services.jobs.record_chunk(JobId("job-2"), 0, 600)
    page = list_jobs(services, ListJobs(principal=principal(), model_id=MODEL))
    assert [j.id for j in page.items] == ["job-2", "job-1"] and page.total == 2
    assert page.items[0].progress.points_collected == 600
