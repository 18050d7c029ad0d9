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

from chronos_core.adapters.forecast_schedule import MongoForecastSchedule, SqsForecastQueue
from chronos_core.adapters.mongo import Document
from chronos_core.adapters.training_jobs import MongoTrainingJobRepository
from chronos_core.application import forecasts
from chronos_core.application.forecasts import ForecastMessage, run_key
from chronos_core.domain.model import utcnow
from chronos_core.domain.training import TrainingJob, TrainingStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def schedule(mongo_db: Database[Document]) -> MongoForecastSchedule:
    store = MongoForecastSchedule(mongo_db)
    store.ensure_indexes()
    return store


def seed_jobs(db: Database[Document], count: int, slot: datetime, interval: float = 60) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
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

    def send(self, messages: Sequence[ForecastMessage]) -> list[ForecastMessage]:
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
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    """8 scheduler ticks at once over 150 due jobs: every job enqueued exactly once."""
    now = utcnow()
    ids = seed_jobs(mongo_db, 150, now - timedelta(seconds=10))
    queue = RecordingQueue()
    barrier = threading.Barrier(8)

    def tick(_: int) -> forecasts.TickResult:
        barrier.wait()
        return forecasts.schedule_due(schedule, lambda: queue, now)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(tick, range(8)))
    counts = Counter(m.job_id for m in queue.sent)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}
    assert sum(r.claimed for r in results) == 150
    # The next tick in the same minute finds nothing due.
    assert forecasts.schedule_due(schedule, lambda: queue, now).claimed == 0


def test_slots_advance_on_the_grid_without_drift(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    [job_id] = seed_jobs(mongo_db, 1, anchor, interval=60)
    queue = RecordingQueue()
    for minute, late in [(0, 3.2), (1, 45.9), (2, 0.001), (7, 12.0)]:  # late ticks; 4 missed slots
        forecasts.schedule_due(schedule, lambda: queue, anchor + timedelta(seconds=minute * 60 + late))
        slot = queue.sent[-1].slot
        assert schedule.advance_after(job_id, slot, slot + timedelta(seconds=60))  # as the run does
    assert [m.slot for m in queue.sent] == [anchor + timedelta(minutes=m) for m in (0, 1, 2, 7)]
    stored = job_doc(mongo_db, job_id)["next_prediction_at"]
    assert stored == anchor + timedelta(minutes=8)
    assert isinstance(stored, datetime)


def test_disabled_jobs_are_not_due_and_release_undoes_a_claim(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    now = utcnow()
    slot = now - timedelta(seconds=1)
    on, off = seed_jobs(mongo_db, 2, slot)
    schedule.disable(off)
    assert [d.job_id for d in schedule.due(now, 10)] == [on]
    assert schedule.claim_slots([(on, slot)]) == [True]
    assert schedule.claim_slots([(on, slot)]) == [False]
    assert schedule.release(on, slot)
    assert not schedule.release(on, slot)
    assert schedule.claim_slots([(on, slot)]) == [True]  # the released slot can be claimed again


def test_the_run_moves_the_job_forward_only(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(seconds=60)
    job_id, off = seed_jobs(mongo_db, 2, slot)
    assert schedule.advance_after(job_id, slot, slot + step)
    assert not schedule.advance_after(job_id, slot, slot + step)  # a redelivery: already past it
    assert not schedule.advance_after(job_id, slot - step, slot)  # a late run of an older slot
    assert job_doc(mongo_db, job_id)["next_prediction_at"] == slot + step
    mongo_db["training_jobs"].update_one({"id": job_id}, {"$set": {"next_prediction_at": slot + 10 * step}})
    assert not schedule.advance_after(job_id, slot + step, slot + 2 * step)  # re-anchored since
    schedule.disable(off)
    assert not schedule.advance_after(off, slot, slot + step)
    assert job_doc(mongo_db, off)["next_prediction_at"] is None


def test_runs_are_idempotent_per_job_and_slot(schedule: MongoForecastSchedule) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.begin_run("j", slot, 1, 60) == "run"
    assert schedule.begin_run("j", slot, 2, 60) == "busy"  # lease held by the first run
    schedule.finish_run("j", slot, status="failed", error="Orion down")
    assert schedule.begin_run("j", slot, 2, 60) == "run"  # a failed run may be retried
    schedule.finish_run("j", slot, status="succeeded", error=None)
    assert schedule.begin_run("j", slot, 3, 60) == "done"
    assert schedule.begin_run("j", slot + timedelta(minutes=1), 1, 60) == "run"  # next slot
    assert schedule.begin_run("k", slot, 1, -1) == "run"
    assert schedule.begin_run("k", slot, 2, 60) == "run"  # lease expired: taken over
    assert schedule.delete_runs("j") == 2


def test_concurrent_begin_run_admits_one(schedule: MongoForecastSchedule) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    barrier = threading.Barrier(12)

    def begin(_: int) -> str:
        barrier.wait()
        return schedule.begin_run("job", slot, 1, 60)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(begin, range(12)))
    assert results.count("run") == 1


def test_api_key_is_created_once_per_tenant(schedule: MongoForecastSchedule) -> None:
    calls = iter(f"key-{i}" for i in range(100))
    keys = {schedule.api_key("energy", "/a", lambda: next(calls)) for _ in range(5)}
    assert len(keys) == 1
    assert schedule.api_key("energy", "/b", lambda: next(calls)) not in keys


def test_last_forecast_never_goes_back_in_time(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    slot = datetime(2026, 1, 1, tzinfo=UTC)
    [job_id] = seed_jobs(mongo_db, 1, slot)
    schedule.record_last(job_id, {"slot": slot + timedelta(minutes=1), "status": "succeeded"})
    schedule.record_last(job_id, {"slot": slot, "status": "failed"})  # a late retry of an older slot
    assert job_doc(mongo_db, job_id)["last_forecast"]["status"] == "succeeded"


def test_enable_set_subscription_and_disable(
    mongo_db: Database[Document], schedule: MongoForecastSchedule
) -> None:
    jobs = MongoTrainingJobRepository(mongo_db)
    job = TrainingJob(
        model_id="m",
        fiware_service="energy",
        status=TrainingStatus.COMPLETED,
        last_n=1,
        points_available=1,
        window_offset=0,
    )
    jobs.add(job)
    first = utcnow()
    schedule.enable(job.id, {"enabled": True, "interval_seconds": 60, "subscription_id": None}, first)
    assert schedule.set_subscription(job.id, "sub-1")
    assert not schedule.set_subscription(job.id, "sub-2")
    stored = jobs.get(job.id)
    assert stored is not None and stored.next_prediction_at == first
    assert stored.prediction_config is not None and stored.prediction_config["subscription_id"] == "sub-1"
    schedule.disable(job.id)
    stored = jobs.get(job.id)
    assert stored is not None and stored.next_prediction_at is None
    assert stored.prediction_config is not None
    assert (
        stored.prediction_config["enabled"] is False and stored.prediction_config["subscription_id"] is None
    )


class FakeSqs:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append({"url": QueueUrl, "entries": Entries})
        return {"Failed": [{"Id": "1"}]} if len(self.calls) == 1 else {}


def test_sqs_queue_sends_batches_of_ten_and_reports_failures() -> None:
    client = FakeSqs()
    messages = [ForecastMessage(job_id=f"j{i}", slot=datetime(2026, 1, 1, tzinfo=UTC)) for i in range(23)]
    failed = SqsForecastQueue(client, "http://q", "tick-1", concurrency=1).send(messages)
    assert [len(c["entries"]) for c in client.calls] == [10, 10, 3]
    assert failed == [messages[1]]
    assert run_key("j0", messages[0].slot) == "j0|2026-01-01T00:00:00.000Z"


def test_claim_slots_reports_each_item(schedule: MongoForecastSchedule) -> None:
    slot = utcnow() - timedelta(seconds=5)
    items = [(f"job-{i}", slot) for i in range(6)]
    assert schedule.claim_slots([items[0], items[4]]) == [True, True]  # claimed by another tick
    assert schedule.claim_slots(items) == [False, True, True, True, False, True]
    assert schedule.claim_slots(items) == [False] * 6
    assert schedule.claim_slots([("job-0", slot + timedelta(seconds=60))]) == [True]  # the next slot


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
    schedule.claim_slots([("taken", slot)])
    flaky = DropsTheReply(schedule._claims)
    schedule._claims = flaky  # type: ignore[assignment]
    assert schedule.claim_slots([("a", slot), ("taken", slot), ("b", slot)]) == [True, False, True]
    assert flaky.calls == 2
