"""The Mongo forecast schedule against the real FerretDB: insert-once claims under concurrency,
drift-free advancement, run idempotency, API keys, conditional writes."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import AutoReconnect, BulkWriteError

from chronos_core.adapters.mongo import (
    Document,
    MongoForecastSchedule,
    MongoLeases,
    MongoServiceGroupKeys,
    MongoTrainingJobRepository,
)
from chronos_core.adapters.sqs import SqsForecastQueue
from chronos_core.application.forecasting.commands import ScheduleTick
from chronos_core.application.forecasting.scheduler import TickResult, schedule_due
from chronos_core.domain.fiware import FiwareTenant
from chronos_core.domain.forecasting import (
    ForecastMessage,
    ForecastQuality,
    ForecastRunStatus,
    LastForecast,
    PredictionConfig,
    run_key,
)
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import utcnow
from chronos_core.domain.training_job import TrainingJob, TrainingStatus
from tests.support.fakes import fake_services

pytestmark = pytest.mark.integration


@pytest.fixture
def schedule(mongo_db: Database[Document]) -> MongoForecastSchedule:
    return MongoForecastSchedule(mongo_db)


@pytest.fixture
def jobs(mongo_db: Database[Document]) -> MongoTrainingJobRepository:
    return MongoTrainingJobRepository(mongo_db)


def tick(
    jobs: MongoTrainingJobRepository, schedule: MongoForecastSchedule, queue: Any, now: datetime
) -> TickResult:
    """One scheduler tick over the real job repository and schedule."""
    services = fake_services(jobs=jobs, schedule=schedule, queue=queue)
    return schedule_due(services, ScheduleTick(now=now, correlation_id="tick"))


def seed_jobs(db: Database[Document], count: int, slot: datetime, interval: float = 60) -> list[JobId]:
    ids = [JobId(str(uuid.uuid4())) for _ in range(count)]
    db["training_jobs"].insert_many(
        [
            {
                "id": job_id,
                "model_id": "m",
                "status": "completed",
                "prediction_config": {"enabled": True, "interval_seconds": interval},
                "next_prediction_at": slot,
            }
            for job_id in ids
        ]
    )
    return ids


def job_doc(db: Database[Document], job_id: str) -> Document:
    doc = db["training_jobs"].find_one({"id": job_id})
    assert doc is not None
    return doc


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[ForecastMessage] = []
        self._lock = threading.Lock()

    def send(self, messages: Sequence[ForecastMessage], correlation_id: str) -> list[ForecastMessage]:
        with self._lock:
            self.sent.extend(messages)
        return []


def test_concurrent_claims_of_one_slot_have_exactly_one_winner(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    slot = utcnow() - timedelta(seconds=30)
    [job_id] = seed_jobs(mongo_db, 1, slot)
    barrier = threading.Barrier(16)

    def contend(_: int) -> bool:
        barrier.wait()
        return schedule.claim_slots([(job_id, slot)])[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(contend, range(16)))
    assert results.count(True) == 1
    assert job_doc(mongo_db, job_id)["next_prediction_at"] == slot  # a claim writes no job


def test_many_concurrent_schedulers_claim_each_slot_exactly_once(
    mongo_db: Database[Document], schedule: MongoForecastSchedule, jobs: MongoTrainingJobRepository
) -> None:
    """8 scheduler ticks at once over 150 due jobs: every job enqueued exactly once."""
    now = utcnow()
    ids = seed_jobs(mongo_db, 150, now - timedelta(seconds=10))
    queue = RecordingQueue()
    barrier = threading.Barrier(8)

    def contend(_: int) -> TickResult:
        barrier.wait()
        return tick(jobs, schedule, queue, now)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(contend, range(8)))
    counts = Counter(m.job_id for m in queue.sent)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    assert sum(r.claimed for r in results) == 150
    # The next tick in the same minute finds nothing due.
    assert tick(jobs, schedule, queue, now).claimed == 0


def test_slots_advance_on_the_grid_without_drift(
    mongo_db: Database[Document], schedule: MongoForecastSchedule, jobs: MongoTrainingJobRepository
) -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    [job_id] = seed_jobs(mongo_db, 1, anchor, interval=60)
    queue = RecordingQueue()
    for minute, late in [(0, 3.2), (1, 45.9), (2, 0.001), (7, 12.0)]:  # late ticks; 4 missed slots
        tick(jobs, schedule, queue, anchor + timedelta(seconds=minute * 60 + late))
        slot = queue.sent[-1].slot
        assert jobs.advance_forecast_slot(job_id, slot, slot + timedelta(seconds=60))  # as the run does
    assert [m.slot for m in queue.sent] == [anchor + timedelta(minutes=m) for m in (0, 1, 2, 7)]
    stored = job_doc(mongo_db, job_id)["next_prediction_at"]
    assert stored == anchor + timedelta(minutes=8)
    assert isinstance(stored, datetime)


def test_disabled_jobs_are_not_due_and_release_undoes_a_claim(
    mongo_db: Database[Document], schedule: MongoForecastSchedule, jobs: MongoTrainingJobRepository
) -> None:
    now = utcnow()
    slot = now - timedelta(seconds=1)
    on, off = seed_jobs(mongo_db, 2, slot)
    jobs.disable_forecasts(off)
    assert [d.job_id for d in jobs.due_for_forecast(now, 10)] == [on]
    assert schedule.claim_slots([(on, slot)]) == [True]
    assert schedule.claim_slots([(on, slot)]) == [False]
    assert schedule.release(on, slot)
    assert not schedule.release(on, slot)
    assert schedule.claim_slots([(on, slot)]) == [True]  # the released slot can be claimed again


def test_the_run_moves_the_job_forward_only(
    mongo_db: Database[Document], jobs: MongoTrainingJobRepository
) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(seconds=60)
    job_id, off = seed_jobs(mongo_db, 2, slot)
    assert jobs.advance_forecast_slot(job_id, slot, slot + step)
    assert not jobs.advance_forecast_slot(job_id, slot, slot + step)  # a redelivery: already past it
    assert not jobs.advance_forecast_slot(job_id, slot - step, slot)  # a late run of an older slot
    assert job_doc(mongo_db, job_id)["next_prediction_at"] == slot + step
    mongo_db["training_jobs"].update_one({"id": job_id}, {"$set": {"next_prediction_at": slot + 10 * step}})
    assert not jobs.advance_forecast_slot(job_id, slot + step, slot + 2 * step)  # re-anchored since
    jobs.disable_forecasts(off)
    assert not jobs.advance_forecast_slot(off, slot, slot + step)
    assert job_doc(mongo_db, off)["next_prediction_at"] is None


def test_runs_are_idempotent_per_job_and_slot(schedule: MongoForecastSchedule) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    j, k = JobId("j"), JobId("k")
    assert schedule.begin_run(j, slot, 1, 60) == "run"
    assert schedule.begin_run(j, slot, 2, 60) == "busy"  # lease held by the first run
    schedule.finish_run(j, slot, status=ForecastRunStatus.FAILED, error="Orion down")
    assert schedule.begin_run(j, slot, 2, 60) == "run"  # a failed run may be retried
    schedule.finish_run(j, slot, status=ForecastRunStatus.SUCCEEDED, error=None)
    assert schedule.begin_run(j, slot, 3, 60) == "done"
    assert schedule.begin_run(j, slot + timedelta(minutes=1), 1, 60) == "run"  # next slot
    assert schedule.begin_run(k, slot, 1, -1) == "run"
    assert schedule.begin_run(k, slot, 2, 60) == "run"  # lease expired: taken over
    assert schedule.delete_runs(j) == 2


def test_concurrent_begin_run_admits_one(schedule: MongoForecastSchedule) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    barrier = threading.Barrier(12)

    def begin(_: int) -> str:
        barrier.wait()
        return schedule.begin_run(JobId("job"), slot, 1, 60)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(begin, range(12)))
    assert results.count("run") == 1


def test_api_key_is_created_once_per_tenant(mongo_db: Database[Document]) -> None:
    store = MongoServiceGroupKeys(mongo_db)
    calls = iter(f"key-{i}" for i in range(100))
    keys = {store.api_key(FiwareTenant("energy", "/a"), lambda: next(calls)) for _ in range(5)}
    assert len(keys) == 1
    assert store.api_key(FiwareTenant("energy", "/b"), lambda: next(calls)) not in keys


def run_of(slot: datetime, status: ForecastRunStatus) -> LastForecast:
    return LastForecast(slot=slot, started_at=slot, status=status)


def test_last_forecast_never_goes_back_in_time(
    mongo_db: Database[Document], jobs: MongoTrainingJobRepository
) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    [job_id] = seed_jobs(mongo_db, 1, slot)
    jobs.record_last_forecast(job_id, run_of(slot + timedelta(minutes=1), ForecastRunStatus.SUCCEEDED))
    jobs.record_last_forecast(job_id, run_of(slot, ForecastRunStatus.FAILED))  # a late retry of an older slot
    assert job_doc(mongo_db, job_id)["last_forecast"]["status"] == "succeeded"


def test_last_forecast_keeps_the_quality_and_loads_old_documents_without_it(
    mongo_db: Database[Document], jobs: MongoTrainingJobRepository
) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    job = TrainingJob(
        model_id=ModelId("m"),
        fiware_service="energy",
        status=TrainingStatus.COMPLETED,
        last_n=1,
        points_available=1,
        window_offset=0,
    )
    jobs.add(job)
    job_id = job.id
    quality = ForecastQuality(
        status="degraded", interpolated_points=3, reason="Served the last value instead."
    )
    run = run_of(slot, ForecastRunStatus.SUCCEEDED).model_copy(update={"quality": quality})
    jobs.record_last_forecast(job_id, run)
    assert job_doc(mongo_db, job_id)["last_forecast"]["quality"] == quality.model_dump()
    stored = jobs.get(job_id)
    assert stored is not None and stored.last_forecast is not None and stored.last_forecast.quality == quality
    mongo_db["training_jobs"].update_one({"id": job_id}, {"$unset": {"last_forecast.quality": ""}})
    old = jobs.get(job_id)  # a document written before forecasts carried a quality
    assert old is not None and old.last_forecast is not None and old.last_forecast.quality is None


def test_enable_set_subscription_and_disable(jobs: MongoTrainingJobRepository) -> None:
    job = TrainingJob(
        model_id=ModelId("m"),
        fiware_service="energy",
        status=TrainingStatus.COMPLETED,
        last_n=1,
        points_available=1,
        window_offset=0,
    )
    jobs.add(job)
    first = utcnow()
    config = PredictionConfig(
        enabled=True,
        interval_seconds=60,
        entity_id="urn:ngsi-ld:Chronos:Prediction:1",
        entity_type="Prediction",
        fiware_service="energy",
        source_entity_id="urn:ngsi-ld:Meter:1",
        feature="demand",
        enabled_at=first,
    )
    jobs.enable_forecasts(job.id, config, first)
    assert jobs.attach_subscription(job.id, "sub-1")
    assert not jobs.attach_subscription(job.id, "sub-2")
    stored = jobs.get(job.id)
    assert stored is not None and stored.next_prediction_at == first
    assert stored.prediction_config is not None and stored.prediction_config.subscription_id == "sub-1"
    assert stored.prediction_config.model_copy(update={"subscription_id": None}) == config
    jobs.disable_forecasts(job.id)
    stored = jobs.get(job.id)
    assert stored is not None and stored.next_prediction_at is None
    assert stored.prediction_config is not None
    assert stored.prediction_config.enabled is False and stored.prediction_config.subscription_id is None


class FakeSqs:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append({"url": QueueUrl, "entries": Entries})
        return {"Failed": [{"Id": "1"}]} if len(self.calls) == 1 else {}


def test_sqs_queue_sends_batches_of_ten_and_reports_failures() -> None:
    client = FakeSqs()
    messages = [
        ForecastMessage(job_id=JobId(f"j{i}"), slot=datetime(2026, 1, 1, tzinfo=UTC)) for i in range(23)
    ]
    failed = SqsForecastQueue(client, "http://q", concurrency=1).send(messages, "tick-1")
    assert [len(c["entries"]) for c in client.calls] == [10, 10, 3]
    attributes = {
        e["MessageAttributes"]["correlation_id"]["StringValue"] for c in client.calls for e in c["entries"]
    }
    assert attributes == {"tick-1"}
    assert failed == [messages[1]]
    assert run_key("j0", messages[0].slot) == "j0|2026-01-01T00:00:00.000Z"


def test_claim_slots_reports_each_item(schedule: MongoForecastSchedule) -> None:
    slot = utcnow() - timedelta(seconds=5)
    items = [(JobId(f"job-{i}"), slot) for i in range(6)]
    assert schedule.claim_slots([items[0], items[4]]) == [True, True]  # claimed by another tick
    assert schedule.claim_slots(items) == [False, True, True, True, False, True]
    assert schedule.claim_slots(items) == [False] * 6
    assert schedule.claim_slots([(JobId("job-0"), slot + timedelta(seconds=60))]) == [True]  # the next slot


class DropsTheReply:
    """A claims collection whose first ``insert_many`` is written but whose reply is lost."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def insert_many(self, documents: list[Document], **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > 1:
            return self._collection.insert_many(documents, **kwargs)
        with contextlib.suppress(BulkWriteError):
            self._collection.insert_many(documents, **kwargs)
        raise AutoReconnect("connection closed before the reply")


def test_a_retried_claim_that_meets_its_own_tickets_still_wins(schedule: MongoForecastSchedule) -> None:
    slot = utcnow()
    schedule.claim_slots([(JobId("taken"), slot)])
    flaky = DropsTheReply(schedule._claims)
    schedule._claims = flaky  # type: ignore[assignment]
    items = [(JobId("a"), slot), (JobId("taken"), slot), (JobId("b"), slot)]
    assert schedule.claim_slots(items) == [True, False, True]
    assert flaky.calls == 2


def test_claiming_prunes_day_old_tickets_and_succeeded_runs(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    """FerretDB v1 has no TTL indexes: the adapter itself forgets old bookkeeping."""
    old = utcnow() - timedelta(days=2)
    mongo_db["forecast_claims"].insert_one({"_id": "old|ticket", "claimed_at": old})
    mongo_db["forecast_runs"].insert_many(
        [
            {"_id": "old|done", "job_id": "old", "status": "succeeded", "finished_at": old},
            {"_id": "old|failed", "job_id": "old", "status": "failed", "finished_at": old},
        ]
    )
    assert schedule.claim_slots([(JobId("fresh"), utcnow())]) == [True]
    assert mongo_db["forecast_claims"].count_documents({"_id": "old|ticket"}) == 0
    assert {d["_id"] for d in mongo_db["forecast_runs"].find()} == {"old|failed"}


def test_a_lease_has_one_holder_until_released_or_expired(mongo_db: Database[Document]) -> None:
    leases = MongoLeases(mongo_db)
    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(lambda i: leases.acquire("toggle:j", f"h{i}", 60), range(16)))
    assert won.count(True) == 1
    holder = f"h{won.index(True)}"
    leases.release("toggle:j", "not-the-holder")
    assert not leases.acquire("toggle:j", "late", 60)
    leases.release("toggle:j", holder)
    assert leases.acquire("toggle:j", "late", -1)  # taken, and already expired...
    assert leases.acquire("toggle:j", "next", 60)  # ...so the next caller takes it over
