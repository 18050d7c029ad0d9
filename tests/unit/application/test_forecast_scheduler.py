"""The scheduler tick over the fakes: claims once per (job, slot), one message each, released
claims for failed sends, exactly-once under concurrent ticks."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from chronos_core.application.forecasting.commands import ScheduleTick
from chronos_core.application.forecasting.scheduler import TickResult, schedule_due
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.bootstrap import Services
from chronos_core.domain.ids import JobId
from tests.support.builders import T0, prediction_config, trained_job
from tests.support.fakes import FakeQueue, InMemoryTrainingJobs, fake_services


def jobs_due(*items: tuple[str, datetime, bool]) -> InMemoryTrainingJobs:
    """Jobs ``(id, next slot, enabled)`` with recurring forecasts every 60 s."""
    return InMemoryTrainingJobs(
        *(
            trained_job(job_id, prediction_config=prediction_config(enabled=enabled), next_prediction_at=slot)
            for job_id, slot, enabled in items
        )
    )


def tick(services: Services, now: datetime) -> TickResult:
    return schedule_due(services, ScheduleTick(now=now, correlation_id="tick-1"))


def test_tick_claims_due_jobs_once_and_sends_one_message_each() -> None:
    now = T0 + timedelta(seconds=90)
    queue = FakeQueue()
    jobs = jobs_due(
        ("due-1", T0, True),
        ("due-2", T0 - timedelta(hours=5), True),  # long overdue: one message, slots skipped
        ("later", now + timedelta(seconds=1), True),
        ("off", T0, False),
    )
    services = fake_services(jobs=jobs, queue=queue)
    result = tick(services, now)
    assert (result.due, result.claimed, result.enqueued) == (2, 2, 2)
    assert {m.job_id for m in queue.sent} == {"due-1", "due-2"}
    assert {m.slot for m in queue.sent} == {T0 + timedelta(seconds=60)}
    assert queue.correlation_ids == {"tick-1"}
    assert jobs.jobs["due-1"].next_prediction_at == T0  # a tick writes no job: the run moves it
    again = tick(services, now)
    assert (again.due, again.claimed) == (2, 0) and len(queue.sent) == 2  # same slots, tickets taken
    later = tick(services, now + timedelta(seconds=60))
    assert later.claimed == 3  # "later" is due now too
    assert {(m.job_id, m.slot) for m in queue.sent[2:]} == {
        ("due-1", T0 + timedelta(seconds=120)),
        ("due-2", T0 + timedelta(seconds=120)),
        ("later", now + timedelta(seconds=1)),
    }


def test_tick_with_nothing_due_does_not_touch_the_queue() -> None:
    class NoQueue:
        def send(self, *args: object) -> list[object]:
            raise AssertionError("the queue must not be used")

    assert tick(fake_services(queue=NoQueue()), T0).claimed == 0


def test_claims_whose_message_failed_are_released_for_the_next_tick() -> None:
    jobs = jobs_due(("ok", T0, True), ("broken", T0, True))
    services = fake_services(jobs=jobs, queue=FakeQueue(fail=lambda m: m.job_id == "broken"))
    result = tick(services, T0 + timedelta(seconds=1))
    assert (result.claimed, result.enqueued, result.released) == (2, 1, 1)
    retry = tick(
        fake_services(jobs=jobs, schedule=services.schedule, queue=FakeQueue()), T0 + timedelta(seconds=2)
    )
    assert (retry.due, retry.claimed) == (2, 1)  # only the released slot is claimed again


def test_concurrent_ticks_claim_each_slot_exactly_once() -> None:
    jobs = jobs_due(*((f"job-{i}", T0, True) for i in range(200)))
    queue = FakeQueue()
    services = fake_services(jobs=jobs, queue=queue)
    barrier = threading.Barrier(6)

    def run() -> None:
        barrier.wait()
        tick(services, T0 + timedelta(seconds=5))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.job_id for m in queue.sent) == sorted(JobId(f"job-{i}") for i in range(200))


def test_a_tick_claims_at_most_the_configured_number_of_jobs() -> None:
    jobs = jobs_due(*((f"job-{i}", T0 + timedelta(milliseconds=i), True) for i in range(10)))
    queue = FakeQueue()
    services = fake_services(
        jobs=jobs, queue=queue, forecast_settings=ForecastSettings(max_claims_per_tick=4)
    )
    assert tick(services, T0 + timedelta(seconds=1)).claimed == 4
    assert [m.job_id for m in queue.sent] == [f"job-{i}" for i in range(4)]  # oldest slots first
