"""The forecast worker over the fakes: publishes once per slot, moves the job past its slot
before showing the outcome, records and re-raises failures, skips what cannot succeed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chronos_core.application.forecasting.commands import ExecuteForecast
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.application.forecasting.worker import ExecutionOutcome, execute_forecast
from chronos_core.domain.errors import ConflictError, UpstreamError
from chronos_core.domain.forecasting import ForecastMessage, ForecastQuality, LastForecast, run_key
from chronos_core.domain.ids import JobId
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import T0, model, prediction_config, trained_job
from tests.support.fakes import (
    FakeForecaster,
    FakeForecasterLoader,
    FakePublisher,
    FakeSeriesSource,
    InMemoryForecastSchedule,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

SLOT = T0
SERIES = FakeSeriesSource({"urn:x:Meter:1": [(T0 + timedelta(seconds=60 * i), float(i)) for i in range(5)]})


class World:
    """One enabled job at SLOT, its model, and the fakes a forecast run touches."""

    def __init__(self, enabled: bool = True, status: TrainingStatus = TrainingStatus.COMPLETED) -> None:
        job = trained_job(prediction_config=prediction_config(enabled=enabled), next_prediction_at=SLOT)
        self.jobs = InMemoryTrainingJobs(job.model_copy(update={"status": status}))
        self.schedule = InMemoryForecastSchedule()
        self.models = InMemoryModelRepository(model())

    def run(
        self, publisher: FakePublisher, attempt: int = 1, series: FakeSeriesSource = SERIES, **kw: Any
    ) -> ExecutionOutcome:
        services = fake_services(
            jobs=self.jobs,
            schedule=self.schedule,
            models=self.models,
            publisher=publisher,
            series=series,
            forecast_settings=ForecastSettings(max_receive_count=2),
            **kw,
        )
        message = ForecastMessage(job_id=JobId("job-1"), slot=SLOT)
        return execute_forecast(services, ExecuteForecast(message=message, attempt=attempt))

    @property
    def job(self) -> Any:
        return self.jobs.jobs["job-1"]


def test_execute_publishes_once_per_slot() -> None:
    world = World()
    publisher = FakePublisher()
    first = world.run(publisher)
    assert first.status == "succeeded" and first.points == 2
    [(config, series)] = publisher.published
    assert config.fiware_service == "energy" and config.fiware_servicepath == "/e2e"
    assert config.source_entity_id == "urn:x:Meter:1" and config.entity_id == "urn:x:Prediction:1"
    assert [p.step for p in series.points] == [1, 2] and series.serving == "network"
    assert series.quality == ForecastQuality()
    last = world.job.last_forecast
    assert last.status == "succeeded" and last.points == 2 and last.slot == SLOT
    assert last.quality == ForecastQuality()
    # The run moved the job to its next grid slot before showing the outcome, the job's only
    # record of the run (while it ran, its lease in forecast_runs said so).
    assert world.jobs.next_seen_by_record == [("succeeded", SLOT + timedelta(seconds=60))]
    assert world.schedule.runs[run_key("job-1", SLOT)]["status"] == "succeeded"
    again = world.run(publisher)  # SQS redelivered the same message
    assert again.status == "skipped" and len(publisher.published) == 1
    assert world.job.next_prediction_at == SLOT + timedelta(seconds=60)


def test_a_redelivered_message_of_a_succeeded_slot_still_moves_the_job_on() -> None:
    world = World()
    world.schedule.runs[run_key("job-1", SLOT)] = {"job_id": "job-1", "status": "succeeded"}
    assert world.run(FakePublisher()).status == "skipped"  # the run stopped before moving it
    assert world.job.next_prediction_at == SLOT + timedelta(seconds=60)


def test_execute_failure_is_recorded_raised_and_retried() -> None:
    world = World()
    failing = FakePublisher(error=UpstreamError("Orion answered HTTP 503 to upsert entity"))
    with pytest.raises(UpstreamError):
        world.run(failing, attempt=1)
    last = world.job.last_forecast
    assert last.status == "failed" and "Orion" in last.error and last.final is False
    assert world.job.next_prediction_at == SLOT  # SQS retries the slot: the job stays on it
    with pytest.raises(UpstreamError):
        world.run(failing, attempt=2)
    assert world.job.last_forecast.final is True
    assert world.job.next_prediction_at == SLOT + timedelta(seconds=60)  # given up: move on
    assert world.run(FakePublisher(), attempt=3).status == "succeeded"  # a failed slot may re-run


def test_an_unexpected_error_is_recorded_without_its_details() -> None:
    world = World()
    with pytest.raises(RuntimeError):
        world.run(FakePublisher(error=RuntimeError("secret internals")))
    assert world.job.last_forecast.error == "RuntimeError: internal error"


def test_execute_skips_disabled_or_missing_jobs_and_models() -> None:
    assert World(enabled=False).run(FakePublisher()).status == "skipped"
    gone = World()
    gone.jobs.jobs.clear()
    outcome = gone.run(FakePublisher())
    assert outcome.status == "skipped" and outcome.reason == "job not found"
    orphan = World()
    orphan.models.models.clear()
    assert orphan.run(FakePublisher()).reason == "model not found"


def test_execute_busy_run_is_retried_later() -> None:
    world = World()
    world.schedule.begin_run(JobId("job-1"), SLOT, 1, 60)
    with pytest.raises(ConflictError):
        world.run(FakePublisher())


def test_a_degraded_forecast_is_published_and_its_quality_kept_in_last_forecast() -> None:
    # Issue 13: two points where the forecaster needs three no longer fail the run; the
    # forecaster serves what it can and its quality reaches Orion and the job.
    short = FakeSeriesSource({"urn:x:Meter:1": [(T0, 1.0), (T0 + timedelta(seconds=60), 2.0)]})
    quality = ForecastQuality(status="degraded", reason="Served the last value instead.")
    forecaster = FakeForecaster(serving="last_value", quality=quality)
    world, publisher = World(), FakePublisher()
    outcome = world.run(publisher, series=short, forecasters=FakeForecasterLoader(forecaster))
    assert outcome.status == "succeeded" and forecaster.calls == [2]
    [(_, series)] = publisher.published
    assert series.quality == quality and series.serving == "last_value"
    last = world.job.last_forecast
    assert last.status == "succeeded" and last.quality == quality


def test_a_failed_run_keeps_no_quality_and_an_old_last_forecast_loads_without_one() -> None:
    world = World()
    with pytest.raises(UpstreamError, match="holds no point"):
        world.run(FakePublisher(), series=FakeSeriesSource({"urn:x:Meter:1": []}))
    assert world.job.last_forecast.status == "failed" and world.job.last_forecast.quality is None
    stored = {"slot": SLOT, "started_at": SLOT, "status": "succeeded", "points": 2}  # before issue 13
    assert LastForecast.model_validate(stored).quality is None


def test_no_trained_model_is_a_conflict() -> None:
    with pytest.raises(ConflictError):
        trained_job().model_copy(update={"status": TrainingStatus.FAILED}).trained_artifacts()
    world = World(status=TrainingStatus.FAILED)
    with pytest.raises(ConflictError):
        world.run(FakePublisher())
    assert world.job.last_forecast.status == "failed"
