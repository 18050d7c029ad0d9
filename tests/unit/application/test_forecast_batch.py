"""The batched forecast worker over the fakes: a batch of ten is read, admitted and published
together; one bad record fails only itself; a redelivered batch publishes nothing twice. And
the SQS handler: one record per ``batchItemFailures`` entry, nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chronos_core import bootstrap
from chronos_core.application.forecasting.commands import ExecuteForecast, ExecuteForecastBatch
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.application.forecasting.worker import ExecutionOutcome, execute_forecasts
from chronos_core.bootstrap import Services
from chronos_core.domain.errors import ConflictError, UpstreamError
from chronos_core.domain.forecasting import ForecastMessage
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import ServingSummary
from tests.support.builders import T0, model, prediction_config, trained_job
from tests.support.fakes import (
    FakePublisher,
    FakeSeriesSource,
    InMemoryForecastSchedule,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)
from tests.support.lambda_runtime import FakeLambdaContext, load_handler_module

SLOT = T0
BAD = 3  # job-3 forecasts a series STH holds no point of
POINTS = [(T0 + timedelta(seconds=60 * i), float(i)) for i in range(5)]


class Fleet:
    """Ten enabled jobs due at SLOT; job-3's model reads a series without points."""

    def __init__(self, publisher: FakePublisher | None = None) -> None:
        jobs = []
        models = [model("model-good"), model("model-bad", entity_id="urn:x:Meter:empty")]
        for i in range(10):
            config = prediction_config(entity_id=f"urn:x:Prediction:{i}", source_entity_id="urn:x:Meter:1")
            model_id = "model-bad" if i == BAD else "model-good"
            jobs.append(trained_job(f"job-{i}", model_id, prediction_config=config, next_prediction_at=SLOT))
        self.jobs = InMemoryTrainingJobs(*jobs)
        self.models = InMemoryModelRepository(*models)
        self.schedule = InMemoryForecastSchedule()
        self.publisher = publisher or FakePublisher()
        self.series = FakeSeriesSource({"urn:x:Meter:1": POINTS})
        self.services = fake_services(
            jobs=self.jobs,
            models=self.models,
            schedule=self.schedule,
            publisher=self.publisher,
            series=self.series,
            forecast_settings=ForecastSettings(max_receive_count=2, batch_concurrency=4),
        )

    def batch(self, attempt: int = 1, ids: range = range(10)) -> ExecuteForecastBatch:
        return ExecuteForecastBatch(
            items=tuple(
                ExecuteForecast(message=ForecastMessage(job_id=JobId(f"job-{i}"), slot=SLOT), attempt=attempt)
                for i in ids
            )
        )

    def run(self, batch: ExecuteForecastBatch) -> list[Any]:
        return execute_forecasts(self.services, batch)

    def job(self, i: int) -> Any:
        return self.jobs.jobs[f"job-{i}"]


def test_a_batch_of_ten_is_read_admitted_and_published_together() -> None:
    fleet = Fleet()
    results = fleet.run(fleet.batch(ids=range(10)))
    good = [r for i, r in enumerate(results) if i != BAD]
    assert all(isinstance(r, ExecutionOutcome) and r.status == "succeeded" for r in good)
    assert fleet.jobs.get_many_calls == 1  # no champion to read: the batch's jobs only
    assert fleet.schedule.begin_runs_calls == 1
    assert fleet.publisher.requests == 1
    assert sorted(c.entity_id for c, _ in fleet.publisher.published) == sorted(
        f"urn:x:Prediction:{i}" for i in range(10) if i != BAD
    )


def test_one_bad_record_in_a_batch_of_ten_fails_only_itself() -> None:
    fleet = Fleet()
    results = fleet.run(fleet.batch())
    assert isinstance(results[BAD], UpstreamError)
    assert sum(isinstance(r, ExecutionOutcome) and r.status == "succeeded" for r in results) == 9
    bad = fleet.job(BAD)
    assert bad.last_forecast.status == "failed" and not bad.last_forecast.final
    assert bad.next_prediction_at == SLOT  # retried by SQS, not moved past
    for i in range(10):
        if i != BAD:
            assert fleet.job(i).next_prediction_at == SLOT + timedelta(seconds=60)
            assert fleet.job(i).last_forecast.status == "succeeded"
    # Its last attempt fails for good and moves it past the slot; the others are not re-run.
    again = fleet.run(fleet.batch(attempt=2))
    assert isinstance(again[BAD], UpstreamError)
    assert fleet.job(BAD).last_forecast.final and fleet.job(BAD).next_prediction_at == SLOT + timedelta(
        seconds=60
    )
    assert len(fleet.publisher.published) == 9


def test_orion_refusing_one_entity_fails_only_that_record() -> None:
    fleet = Fleet(FakePublisher(reject=frozenset({"urn:x:Prediction:5"})))
    results = fleet.run(fleet.batch(ids=range(5, 10)))
    assert isinstance(results[0], UpstreamError)
    assert all(isinstance(r, ExecutionOutcome) and r.status == "succeeded" for r in results[1:])
    assert fleet.schedule.runs["job-5|" + SLOT.strftime("%Y-%m-%dT%H:%M:%S.000Z")]["status"] == "failed"


def test_a_redelivered_batch_publishes_nothing_twice() -> None:
    fleet = Fleet()
    fleet.run(fleet.batch())
    published = len(fleet.publisher.published)
    redelivered = fleet.run(fleet.batch(attempt=2, ids=range(10)))
    for i, result in enumerate(redelivered):
        if i == BAD:
            assert isinstance(result, UpstreamError)  # it had failed: retried, fails again
        else:
            assert isinstance(result, ExecutionOutcome) and result.status == "skipped"
            assert result.reason == "this slot was already forecast"
    assert len(fleet.publisher.published) == published == 9


def test_a_message_listed_twice_in_one_batch_runs_once() -> None:
    fleet = Fleet()
    results = fleet.run(ExecuteForecastBatch(items=fleet.batch(ids=range(1)).items * 2))
    assert isinstance(results[0], ExecutionOutcome) and results[0].status == "succeeded"
    assert isinstance(results[1], ConflictError)
    assert len(fleet.publisher.published) == 1


def test_a_job_that_follows_its_champion_reads_it_once_per_batch() -> None:
    fleet = Fleet()
    champion = trained_job("job-champion", "model-good", model_version=7)
    fleet.jobs.jobs[champion.id] = champion
    fleet.models.models["model-good"] = fleet.models.models["model-good"].model_copy(
        update={"serving": ServingSummary(training_job_id=champion.id, serving="network")}
    )
    fleet.run(fleet.batch(ids=range(3)))
    assert fleet.jobs.get_many_calls == 2  # the batch's jobs, then the champion
    assert {s.training_job_id for _, s in fleet.publisher.published} == {"job-champion"}


# ------------------------------------------------------------------------------- the handler


def _record(i: int, body: str, attempt: int = 1) -> dict[str, Any]:
    return {
        "messageId": f"m-{i}",
        "receiptHandle": f"r-{i}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(attempt)},
        "messageAttributes": {"correlation_id": {"stringValue": "tick-1", "dataType": "String"}},
        "eventSource": "aws:sqs",
    }


@pytest.fixture
def installed() -> Iterator[Fleet]:
    fleet = Fleet()
    bootstrap._current = fleet.services  # the handler's warm-container services
    yield fleet
    bootstrap.reset()


def test_the_handler_reports_only_the_bad_records(installed: Fleet) -> None:
    app = load_handler_module("execute_forecast")
    records = [
        _record(i, json.dumps(ForecastMessage(job_id=JobId(f"job-{i}"), slot=SLOT).to_body()))
        for i in range(9)
    ]
    records.append(_record(9, "not json"))
    response = app.handler({"Records": records}, FakeLambdaContext())
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m-3", "m-9"]
    assert len(installed.publisher.published) == 8
    # The same batch redelivered: the eight published slots are skipped, not published again.
    response = app.handler({"Records": records}, FakeLambdaContext())
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m-3", "m-9"]
    assert len(installed.publisher.published) == 8


def test_the_handler_fails_every_record_when_the_database_is_down(installed: Fleet) -> None:
    from chronos_core.domain.errors import DependencyUnavailableError

    def down(job_ids: Any) -> Any:
        raise DependencyUnavailableError("MongoDB is unreachable")

    installed.jobs.get_many = down  # type: ignore[method-assign]
    app = load_handler_module("execute_forecast")
    records = [
        _record(i, json.dumps(ForecastMessage(job_id=JobId(f"job-{i}"), slot=SLOT).to_body()))
        for i in range(3)
    ]
    response = app.handler({"Records": records}, FakeLambdaContext())
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m-0", "m-1", "m-2"]
    assert isinstance(installed.services, Services)
