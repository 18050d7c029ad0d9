"""Retraining on FerretDB: the policy store, the claim of a fire time under concurrent
schedulers (one insert wins per key, as the forecast scheduler's claim tickets), the training
lease per model (a trigger arriving during a run is attached to it as one more reason), the
training queue's admission, and the champion's compare-and-set."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database

from chronos_core.adapters.mongo import (
    Document,
    MongoLeases,
    MongoModelEvents,
    MongoModelRepository,
    MongoRetrainingPolicies,
    MongoRetrainingRuns,
    MongoTrainingJobRepository,
)
from chronos_core.application.ports.retraining import RuleFiring
from chronos_core.application.retraining.commands import PutPolicy, Retrain, RetrainTick
from chronos_core.application.retraining.policies import put_policy
from chronos_core.application.retraining.scheduler import schedule_retraining
from chronos_core.application.retraining.triggers import retrain
from chronos_core.application.training.queue import dispatch_queue, queue_snapshot
from chronos_core.bootstrap import Services
from chronos_core.config import Settings
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ModelDraft, ModelStatus, build_model
from chronos_core.domain.retraining import RetrainingPolicy, RetrainingRun, TriggerKind, run_key
from chronos_core.domain.schedule import Schedule
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import T0, principal, trained_job
from tests.support.fakes import FakeSeriesSource, fake_services

pytestmark = pytest.mark.integration

SET_AT = datetime(2026, 5, 1, 0, 30, tzinfo=UTC)


def world(db: Database[Document], models: int, settings: Settings | None = None) -> Services:
    """``models`` trained models on FerretDB, each served by a completed champion job."""
    repo = MongoModelRepository(db)
    jobs = MongoTrainingJobRepository(db)
    data: dict[str, Any] = {}
    for k in range(models):
        model = build_model(
            ModelDraft.model_validate(
                {
                    "model_type": "gru",
                    "rnn_layers": [{"units": 4}],
                    "lookback_window": 24,
                    "forecast_horizon": 6,
                    "feature": "demand",
                    "entity_type": "Meter",
                    "entity_id": f"urn:x:Meter:{k}",
                    "fiware_service": "retrain",
                }
            )
        )
        champion = trained_job(f"champ-{model.id}", model.id, created_at=T0, points_available=1200)
        champion = champion.model_copy(update={"fiware_service": "retrain"})
        jobs.add(champion)
        repo.add(
            model.model_copy(
                update={
                    "status": ModelStatus.TRAINED,
                    "has_successful_training": True,
                    "serving": champion.serving_summary(),
                }
            )
        )
        data[f"urn:x:Meter:{k}"] = [(T0 + timedelta(minutes=10 * i), 1.0) for i in range(1500)]
    return fake_services(
        settings,
        models=repo,
        jobs=jobs,
        policies=MongoRetrainingPolicies(db),
        runs=MongoRetrainingRuns(db),
        events=MongoModelEvents(db),
        leases=MongoLeases(db),
        series=FakeSeriesSource(data),
    )


def model_ids(services: Services) -> list[ModelId]:
    return [m.id for m in services.models.list(_all(), 0, 1000).items]


def _all() -> Any:
    from chronos_core.application.ports.models import ModelFilter

    return ModelFilter()


def test_the_policy_store_puts_replaces_lists_and_deletes(mongo_db: Database[Document]) -> None:
    services = world(mongo_db, 2)
    first, second = model_ids(services)
    schedule = Schedule(cron="0 3 * * *", timezone="Europe/Madrid")
    view = put_policy(
        services,
        PutPolicy(
            principal=principal(), model_id=first, policy=RetrainingPolicy(schedule=schedule), now=SET_AT
        ),
    )
    assert len(view.next_fire_times) == 5
    put_policy(
        services,
        PutPolicy(
            principal=principal(), model_id=second, policy=RetrainingPolicy(enabled=False, schedule=schedule)
        ),
    )
    stored = services.policies.get(first)
    assert stored is not None and stored.policy.schedule == schedule and stored.schedule_since == SET_AT
    assert [p.model_id for p in services.policies.scheduled(10)] == [first]  # the disabled one is not
    # replacing with the same schedule keeps its fire times; another schedule holds from now on
    later = SET_AT + timedelta(days=1)
    changed = RetrainingPolicy(schedule=schedule, min_new_points=5)
    put_policy(services, PutPolicy(principal=principal(), model_id=first, policy=changed, now=later))
    assert services.policies.get(first).schedule_since == SET_AT  # type: ignore[union-attr]
    moved = RetrainingPolicy(schedule=Schedule(rate="PT6H"))
    put_policy(services, PutPolicy(principal=principal(), model_id=first, policy=moved, now=later))
    assert services.policies.get(first).schedule_since == later  # type: ignore[union-attr]
    assert services.policies.delete(first) and not services.policies.delete(first)
    assert services.policies.get(first) is None


def test_of_concurrent_claims_each_key_is_won_once(mongo_db: Database[Document]) -> None:
    runs = MongoRetrainingRuns(mongo_db)
    batch = [
        RetrainingRun(key=run_key(f"m-{k}", TriggerKind.CRON, "2026-05-01T01:00:00Z"), model_id=f"m-{k}",
                      kind=TriggerKind.CRON, at=SET_AT)
        for k in range(50)
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: runs.claim(batch), range(8)))
    assert [sum(r[i] for r in results) for i in range(50)] == [1] * 50
    assert runs.existing([b.key for b in batch[:3]] + ["other"]) == {b.key for b in batch[:3]}


def test_concurrent_scheduler_ticks_fire_each_policy_once(mongo_db: Database[Document]) -> None:
    services = world(mongo_db, 12)
    for model_id in model_ids(services):
        put_policy(
            services,
            PutPolicy(
                principal=principal(),
                model_id=model_id,
                policy=RetrainingPolicy(schedule=Schedule(cron="0 * * * *")),
                now=SET_AT,
            ),
        )
    at = datetime(2026, 5, 1, 4, 0, 30, tzinfo=UTC)  # 01:00..04:00 missed: coalesced into 04:00
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: schedule_retraining(services, RetrainTick(now=at)), range(4)))
    assert sum(r.claimed for r in results) == 12
    for model_id in model_ids(services):
        jobs = [
            j for j in services.jobs.list_for_model(model_id, 0, 10).items if not j.id.startswith("champ")
        ]
        assert len(jobs) == 1
        [trigger] = jobs[0].triggers
        assert trigger.fire_time == datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
        [run] = services.runs.list_for_model(model_id, 0, 10).items
        assert run.outcome == "started" and run.job_id == jobs[0].id
    assert schedule_retraining(services, RetrainTick(now=at + timedelta(seconds=20))).due == 0


def test_triggers_during_one_run_share_its_lease_as_extra_reasons(mongo_db: Database[Document]) -> None:
    services = world(mongo_db, 1)
    [model_id] = model_ids(services)
    put_policy(
        services,
        PutPolicy(principal=principal(), model_id=model_id, policy=RetrainingPolicy(trigger_rules=["drift"])),
    )

    def manual(k: int) -> RetrainingRun:
        return retrain(services, Retrain(principal=principal(), model_id=model_id, request_id=f"req-{k}"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        runs = list(pool.map(manual, range(6)))
    rule = services.retrain_trigger.trigger(RuleFiring(model_id=model_id, rule_id="drift", reason="p=0.001"))
    outcomes = sorted(r.outcome for r in runs)
    assert outcomes == ["attached"] * 5 + ["started"] and rule.outcome == "attached"
    [job_id] = {r.job_id for r in [*runs, rule]}
    job = services.jobs.get(JobId(job_id or ""))
    assert job is not None and len(job.triggers) == 7
    assert {t.kind for t in job.triggers} == {TriggerKind.MANUAL, TriggerKind.RULE}
    assert len(services.workflow.started) == 1  # type: ignore[attr-defined]


def test_the_queue_admits_in_order_within_the_limit(mongo_db: Database[Document]) -> None:
    services = world(mongo_db, 3, Settings(training_max_concurrent=1))
    first, second, third = (
        retrain(services, Retrain(principal=principal(), model_id=m)) for m in model_ids(services)
    )
    assert [r.outcome for r in (first, second, third)] == ["started", "queued", "queued"]
    assert [w.training_job_id for w in queue_snapshot(services).waiting] == [second.job_id, third.job_id]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sum(len(s) for s in pool.map(lambda _: dispatch_queue(services), range(4))) == 0
    services.jobs.finish(JobId(first.job_id or ""), TrainingStatus.COMPLETED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        started = [j for s in pool.map(lambda _: dispatch_queue(services), range(4)) for j in s]
    assert started == [second.job_id]
    assert [w.training_job_id for w in queue_snapshot(services).waiting] == [third.job_id]


def test_the_champion_is_set_by_compare_and_set(mongo_db: Database[Document]) -> None:
    services = world(mongo_db, 1)
    [model_id] = model_ids(services)
    current = services.models.get(model_id)
    assert current is not None and current.champion_job_id is not None
    newer = trained_job("newer", model_id).serving_summary()
    attempts = [
        services.models.set_champion(model_id, newer, previous_champions=[current.champion_job_id],
                                     pinned=False, expected=current.champion_job_id)
        for _ in range(3)
    ]  # fmt: skip
    assert attempts == [True, False, False]
    after = services.models.get(model_id)
    assert after is not None and after.champion_job_id == "newer"
    assert after.previous_champions == [current.champion_job_id]
    assert [services.models.next_version(model_id) for _ in range(3)] == [1, 2, 3]
