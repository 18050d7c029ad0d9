"""The Mongo adapters' batch operations against the real server: one read for a batch of jobs,
run leases taken together (a redelivered or duplicated pair never admitted twice), bulk run
outcomes, slot moves and last forecasts, and the due query of one scheduler shard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.database import Database

from chronos_core.adapters.mongo import (
    Document,
    MongoForecastSchedule,
    MongoModelRepository,
    MongoTrainingJobRepository,
)
from chronos_core.adapters.mongo.point_reads import POINT_READ_LIMIT, find_by_keys
from chronos_core.adapters.mongo.prediction_stamps import MongoPredictionStamps
from chronos_core.application.ports.forecasting import RunOutcome
from chronos_core.domain.forecasting import ForecastRunStatus, ForecastShard, LastForecast, forecast_bucket
from chronos_core.domain.ids import JobId, ModelId
from tests.support.builders import model, prediction_config, trained_job

pytestmark = pytest.mark.integration

SLOT = datetime(2026, 1, 1, tzinfo=UTC)


def seed(db: Database[Document], count: int, *, with_bucket: bool = True) -> list[JobId]:
    ids = [JobId(str(uuid.uuid4())) for _ in range(count)]
    db["training_jobs"].insert_many(
        [
            {
                "id": job_id,
                "model_id": "m",
                "status": "completed",
                "prediction_config": {"enabled": True, "interval_seconds": 60},
                "next_prediction_at": SLOT,
                **({"forecast_bucket": forecast_bucket(job_id)} if with_bucket else {}),
            }
            for job_id in ids
        ]
    )
    return ids


def test_begin_runs_admits_each_pair_once_and_finish_runs_records_them(mongo_db: Database[Document]) -> None:
    schedule = MongoForecastSchedule(mongo_db)
    a, b, c = JobId("a"), JobId("b"), JobId("c")
    assert schedule.begin_runs([(a, SLOT, 1), (b, SLOT, 1), (a, SLOT, 1)], 60) == ["run", "run", "busy"]
    schedule.finish_runs(
        [
            RunOutcome(job_id=a, slot=SLOT, status=ForecastRunStatus.SUCCEEDED),
            RunOutcome(job_id=b, slot=SLOT, status=ForecastRunStatus.FAILED, error="Orion down"),
        ]
    )
    # Redelivered: a succeeded (done), b failed (run again), c is new.
    assert schedule.begin_runs([(a, SLOT, 2), (b, SLOT, 2), (c, SLOT, 1)], 60) == ["done", "run", "run"]
    assert schedule.begin_runs([(c, SLOT, 2)], 60) == ["busy"]  # c's lease is held
    runs = {d["_id"]: d for d in mongo_db["forecast_runs"].find()}
    assert runs["a|2026-01-01T00:00:00.000Z"]["status"] == "succeeded"
    assert runs["b|2026-01-01T00:00:00.000Z"]["attempts"] == 2


def test_get_many_and_bulk_moves_and_records(mongo_db: Database[Document]) -> None:
    jobs = MongoTrainingJobRepository(mongo_db)
    ids = [JobId(str(uuid.uuid4())) for _ in range(5)]
    for job_id in ids:
        jobs.add(trained_job(job_id, prediction_config=prediction_config(), next_prediction_at=SLOT))
    found = jobs.get_many([*ids, JobId("missing")])
    assert sorted(found) == sorted(ids)
    assert jobs.get_batch([*ids, ids[0], JobId("missing")]) == found  # point reads, same jobs
    later = SLOT + timedelta(minutes=1)
    jobs.advance_forecast_slots([(job_id, SLOT, later) for job_id in ids[:3]])
    run = LastForecast(slot=SLOT, started_at=SLOT, status=ForecastRunStatus.SUCCEEDED, attempt=1)
    jobs.record_last_forecasts([(job_id, run) for job_id in ids[:3]])
    after = jobs.get_batch(ids)  # by the _id read before
    assert [after[j].next_prediction_at == later for j in ids] == [True, True, True, False, False]
    assert [after[j].last_forecast is not None for j in ids] == [True, True, True, False, False]
    mongo_db["training_jobs"].delete_one({"id": ids[0]})
    assert sorted(jobs.get_batch(ids)) == sorted(ids[1:])  # a job deleted since is gone
    fresh = MongoTrainingJobRepository(mongo_db)  # a cold container: by id
    assert sorted(fresh.get_batch(ids)) == sorted(ids[1:])


def test_a_shard_reads_only_its_due_jobs_and_old_jobs_belong_to_shard_zero(
    mongo_db: Database[Document],
) -> None:
    jobs = MongoTrainingJobRepository(mongo_db)
    ids = seed(mongo_db, 64)
    legacy = seed(mongo_db, 3, with_bucket=False)
    now = SLOT + timedelta(seconds=1)
    seen: list[str] = []
    for i in range(4):
        shard = ForecastShard(index=i, count=4)
        due = [d.job_id for d in jobs.due_for_forecast(now, 1000, shard)]
        assert all(shard.holds(j) for j in due if j not in legacy)
        if i == 0:
            assert set(legacy) <= set(due)
        seen.extend(due)
    assert sorted(seen) == sorted([*ids, *legacy])


def test_enabling_forecasts_stores_the_bucket(mongo_db: Database[Document]) -> None:
    jobs = MongoTrainingJobRepository(mongo_db)
    [job_id] = seed(mongo_db, 1, with_bucket=False)
    jobs.enable_forecasts(job_id, prediction_config(), SLOT)
    doc = mongo_db["training_jobs"].find_one({"id": job_id})
    assert doc is not None and doc["forecast_bucket"] == forecast_bucket(job_id)


@pytest.mark.parametrize("count", [1, 10, POINT_READ_LIMIT + 5])
def test_find_by_keys_returns_each_known_document_once_by_point_reads_or_one_query(
    mongo_db: Database[Document], count: int
) -> None:
    ids = seed(mongo_db, count + 3)
    wanted = [*ids[:count], ids[0], "no-such-job"]  # a duplicate and an unknown key
    found = list(find_by_keys(mongo_db["training_jobs"], "id", wanted, {"_id": 0, "id": 1, "model_id": 1}))
    assert sorted(doc["id"] for doc in found) == sorted(ids[:count])
    assert all(set(doc) == {"id", "model_id"} for doc in found)
    assert list(find_by_keys(mongo_db["training_jobs"], "id", [])) == []


def test_the_models_of_a_batch_are_the_same_by_point_reads(mongo_db: Database[Document]) -> None:
    models = MongoModelRepository(mongo_db)
    ids = [ModelId(f"fleet-model-{uuid.uuid4()}") for _ in range(4)]
    for model_id in ids:
        models.add(model(model_id))
    wanted = [*ids, ids[1], ModelId("missing")]
    by_query = sorted(m.id for m in models.get_many(wanted))
    assert by_query == sorted(ids)
    assert sorted(m.id for m in models.get_batch(wanted)) == by_query


def test_prediction_stamps_follow_changes_and_deletions_read_by_id_then_by_underscore_id(
    mongo_db: Database[Document],
) -> None:
    models, jobs = MongoModelRepository(mongo_db), MongoTrainingJobRepository(mongo_db)
    model_id, job_id = ModelId(f"stamp-model-{uuid.uuid4()}"), JobId(str(uuid.uuid4()))
    models.add(model(model_id))
    jobs.add(trained_job(job_id, model_id=model_id))
    stamps = MongoPredictionStamps(mongo_db)
    first = stamps.stamps(model_id, job_id)
    assert first[0] is not None and first[1] is not None
    assert stamps.stamps(model_id, job_id) == first  # the second read goes by _id: same stamps
    assert MongoPredictionStamps(mongo_db).stamps(model_id, job_id) == first  # a cold container
    mongo_db["training_jobs"].update_one({"id": job_id}, {"$set": {"model_version": 7}})
    assert stamps.job_stamp(job_id) != first[1]
    mongo_db["training_jobs"].delete_one({"id": job_id})
    mongo_db["models"].delete_one({"id": model_id})
    assert stamps.stamps(model_id, job_id) == (None, None)
