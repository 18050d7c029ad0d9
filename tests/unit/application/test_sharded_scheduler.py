"""The sharded scheduler tick over the fakes: shards partition the jobs, each shard tick reads
and claims only its own due jobs, every due job is claimed exactly once over all shards, and the
rule's tick only fans out one shard tick per shard."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import ValidationError

from chronos_core import bootstrap
from chronos_core.application.forecasting.commands import ScheduleTick
from chronos_core.application.forecasting.scheduler import fan_out_tick, schedule_due
from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.domain.forecasting import FORECAST_BUCKETS, ForecastShard, forecast_bucket
from tests.support.builders import T0, prediction_config, trained_job
from tests.support.fakes import FakeQueue, FakeTickQueue, InMemoryTrainingJobs, fake_services
from tests.support.lambda_runtime import FakeLambdaContext, load_handler_module

NOW = T0 + timedelta(seconds=30)


def fleet(n: int) -> InMemoryTrainingJobs:
    return InMemoryTrainingJobs(
        *(
            trained_job(f"job-{i}", prediction_config=prediction_config(), next_prediction_at=T0)
            for i in range(n)
        )
    )


def test_shards_partition_the_jobs_evenly() -> None:
    ids = [f"job-{i}" for i in range(4000)]
    owners = Counter()
    for job_id in ids:
        holding = [i for i in range(8) if ForecastShard(index=i, count=8).holds(job_id)]
        assert len(holding) == 1
        owners[holding[0]] += 1
    assert set(owners) == set(range(8))
    assert max(owners.values()) < 1.25 * 4000 / 8  # roughly even
    assert all(0 <= forecast_bucket(job_id) < FORECAST_BUCKETS for job_id in ids)


@pytest.mark.parametrize(("index", "count"), [(0, 3), (4, 4), (-1, 2), (0, 2048)])
def test_a_shard_must_divide_the_buckets(index: int, count: int) -> None:
    with pytest.raises(ValidationError):
        ForecastShard(index=index, count=count)


def test_each_shard_tick_claims_only_its_jobs_and_all_together_claim_each_once() -> None:
    jobs, queue = fleet(200), FakeQueue()
    services = fake_services(jobs=jobs, queue=queue)
    claimed_per_shard = []
    for i in range(4):
        shard = ForecastShard(index=i, count=4)
        result = schedule_due(services, ScheduleTick(now=NOW, correlation_id="t", shard=shard))
        mine = [j for j in jobs.jobs if shard.holds(j)]
        assert result.due == result.claimed == len(mine)  # its own due jobs, no more
        claimed_per_shard.append(result.claimed)
    assert sum(claimed_per_shard) == 200
    assert Counter(m.job_id for m in queue.sent) == Counter({f"job-{i}": 1 for i in range(200)})
    # A shard tick run again (SQS redelivered it) claims nothing twice.
    again = schedule_due(
        services, ScheduleTick(now=NOW, correlation_id="t", shard=ForecastShard(index=0, count=4))
    )
    assert again.claimed == 0 and len(queue.sent) == 200


def test_the_fan_out_sends_one_shard_tick_per_shard_and_reads_no_job() -> None:
    jobs, ticks = fleet(10), FakeTickQueue()
    services = fake_services(
        jobs=jobs, tick_queue=ticks, forecast_settings=ForecastSettings(scheduler_shards=16)
    )
    assert fan_out_tick(services, ScheduleTick(now=NOW, correlation_id="rule-1")) == 16
    assert [s.index for s, _, _ in ticks.sent] == list(range(16))
    assert {(s.count, now, c) for s, now, c in ticks.sent} == {(16, NOW, "rule-1")}
    assert jobs.due_reads == 0


@pytest.fixture
def sharded() -> Iterator[tuple[InMemoryTrainingJobs, FakeQueue, FakeTickQueue]]:
    jobs, queue, ticks = fleet(50), FakeQueue(), FakeTickQueue()
    bootstrap._current = fake_services(
        jobs=jobs, queue=queue, tick_queue=ticks, forecast_settings=ForecastSettings(scheduler_shards=4)
    )
    yield jobs, queue, ticks
    bootstrap.reset()


def test_the_handler_fans_out_then_runs_each_shard_tick(
    sharded: tuple[InMemoryTrainingJobs, FakeQueue, FakeTickQueue],
) -> None:
    jobs, queue, ticks = sharded
    app = load_handler_module("schedule_forecasts")
    assert app.handler({"id": "rule-event"}, FakeLambdaContext()) == {"shards": 4}
    assert not queue.sent and len(ticks.sent) == 4
    records = [
        {
            "messageId": f"s-{shard.index}",
            "body": json.dumps(
                {"shard": shard.index, "shards": shard.count, "now": now.isoformat(), "correlation_id": corr}
            ),
        }
        for shard, now, corr in ticks.sent
    ]
    records.append({"messageId": "broken", "body": "{}"})
    response = app.handler({"Records": records}, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert sorted(m.job_id for m in queue.sent) == sorted(jobs.jobs)
