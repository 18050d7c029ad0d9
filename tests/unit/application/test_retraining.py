"""Retraining use cases over the fakes: the scheduler tick (fires once, coalesces, skips on too
little data), the single training lease (a trigger during a run is one more reason), the
training queue (a concurrency limit of 1), the champion/challenger decision at Finalize, the
worker following the champion, pin and rollback."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronos_core.application.forecasting.worker import serving_job
from chronos_core.application.ports.retraining import RuleFiring
from chronos_core.application.retraining.champion import rollback_champion, set_champion
from chronos_core.application.retraining.commands import (
    ModelCommand,
    PutPolicy,
    Retrain,
    RetrainTick,
    SetChampion,
)
from chronos_core.application.retraining.policies import put_policy
from chronos_core.application.retraining.promotion import settle_challenger
from chronos_core.application.retraining.scheduler import schedule_retraining
from chronos_core.application.retraining.triggers import retrain
from chronos_core.application.training.queue import dispatch_queue, queue_snapshot
from chronos_core.bootstrap import Services
from chronos_core.config import Settings
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ModelStatus
from chronos_core.domain.retraining import HoldoutComparison, ModelEvent, RetrainingPolicy, TriggerKind
from chronos_core.domain.schedule import Schedule
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import ARTIFACTS, T0, model, prediction_config, principal, trained_job
from tests.support.builders import job as build_job
from tests.support.fakes import (
    FakeSeriesSource,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)

MODEL = ModelId("model-1")
CHAMPION = JobId("champ")
SET_AT = datetime(2026, 5, 1, 0, 30, tzinfo=UTC)


def series(points: int, entity: str = "urn:x:Meter:1") -> dict[str, list[tuple[datetime, float]]]:
    return {entity: [(T0 + timedelta(minutes=10 * i), 1.0) for i in range(points)]}


def world(
    points: int = 1500, *, settings: Settings | None = None, models: int = 1, **overrides: Any
) -> Services:
    """``models`` trained models (model-1, model-2...), each served by its champion job, whose
    training was admitted with 1200 stored points."""
    repo = InMemoryModelRepository()
    jobs = InMemoryTrainingJobs()
    data: dict[str, list[tuple[datetime, float]]] = {}
    for k in range(1, models + 1):
        champion = trained_job(
            "champ" if k == 1 else f"champ-{k}",
            f"model-{k}",
            created_at=T0,
            started_at=T0,
            ended_at=T0 + timedelta(seconds=300),
            points_available=1200,
        )
        jobs.add(champion)
        repo.add(
            model(f"model-{k}", ModelStatus.TRAINED, entity_id=f"urn:x:Meter:{k}").model_copy(
                update={"serving": champion.serving_summary(), "has_successful_training": True}
            )
        )
        data.update(series(points, f"urn:x:Meter:{k}"))
    defaults = {"models": repo, "jobs": jobs, "series": FakeSeriesSource(data)}
    return fake_services(settings, **{**defaults, **overrides})


def policy_for(services: Services, model_id: str = "model-1", **fields: Any) -> None:
    body = {"schedule": Schedule(cron="0 * * * *"), **fields}
    put_policy(
        services,
        PutPolicy(
            principal=principal(), model_id=ModelId(model_id), policy=RetrainingPolicy(**body), now=SET_AT
        ),
    )


def tick(services: Services, at: datetime) -> Any:
    return schedule_retraining(services, RetrainTick(now=at))


def new_jobs(services: Services, model_id: str = "model-1") -> list[Any]:
    return [
        j
        for j in services.jobs.list_for_model(ModelId(model_id), 0, 50).items
        if not j.id.startswith("champ")
    ]


def test_a_due_fire_time_starts_one_training_and_a_second_tick_does_nothing() -> None:
    services = world()
    policy_for(services)
    at = datetime(2026, 5, 1, 3, 10, tzinfo=UTC)  # the scheduler missed 01:00 and 02:00
    first = tick(services, at)
    assert (first.due, first.claimed, first.outcomes) == (1, 1, {"started": 1})
    [started] = new_jobs(services)
    assert started.status == TrainingStatus.PENDING and services.workflow.started  # type: ignore[attr-defined]
    [trigger] = started.triggers
    assert trigger.kind == TriggerKind.CRON and trigger.fire_time == datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    again = tick(services, at + timedelta(seconds=30))
    assert (again.due, again.claimed) == (0, 0)
    [run] = services.runs.list_for_model(MODEL, 0, 10).items
    assert run.outcome == "started" and run.job_id == started.id


def test_concurrent_ticks_claim_each_fire_time_once() -> None:
    services = world(models=4)
    for k in range(1, 5):
        policy_for(services, f"model-{k}")
    at = datetime(2026, 5, 1, 1, 0, 20, tzinfo=UTC)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(tick(services, at))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.claimed for r in results) == 4
    assert sum(len(new_jobs(services, f"model-{k}")) for k in range(1, 5)) == 4


def test_too_little_new_data_records_a_skipped_run_and_starts_nothing() -> None:
    services = world(points=1300)  # the champion was admitted with 1200
    policy_for(services, min_new_points=500)
    result = tick(services, datetime(2026, 5, 1, 1, 0, 5, tzinfo=UTC))
    assert result.outcomes == {"skipped": 1}
    [run] = services.runs.list_for_model(MODEL, 0, 10).items
    assert run.outcome == "skipped" and "100 new points" in (run.outcome_reason or "")
    assert new_jobs(services) == [] and services.workflow.started == []  # type: ignore[attr-defined]


def test_cooldown_and_daily_cap_hold_cron_triggers_back() -> None:
    services = world()
    policy_for(services, cooldown="PT3H", max_per_day=5)
    tick(services, datetime(2026, 5, 1, 1, 0, tzinfo=UTC))
    [job] = new_jobs(services)
    services.jobs.finish(job.id, TrainingStatus.COMPLETED)
    services.models.release_after_training(MODEL, succeeded=True)
    tick(services, datetime(2026, 5, 1, 2, 0, tzinfo=UTC))
    runs = services.runs.list_for_model(MODEL, 0, 10).items
    assert runs[0].outcome == "skipped" and (runs[0].outcome_reason or "").startswith("cooldown")
    assert len(new_jobs(services)) == 1


def test_two_triggers_during_one_run_make_one_run_with_two_reasons() -> None:
    services = world()
    policy_for(services, trigger_rules=["drift-demand"])
    manual = retrain(services, Retrain(principal=principal(), model_id=MODEL, reason="new sensor"))
    assert manual.outcome == "started" and manual.job_id
    rule = services.retrain_trigger.trigger(
        RuleFiring(model_id=MODEL, rule_id="drift-demand", reason="drift p=0.001", event_id="evt-1")
    )
    assert (rule.outcome, rule.job_id) == ("attached", manual.job_id)
    duplicate = services.retrain_trigger.trigger(
        RuleFiring(model_id=MODEL, rule_id="drift-demand", reason="drift p=0.001", event_id="evt-1")
    )
    assert duplicate.outcome == "attached"  # the same firing delivered twice is one trigger
    [job] = new_jobs(services)
    assert [t.kind for t in job.triggers] == [TriggerKind.MANUAL, TriggerKind.RULE]
    assert job.triggers[0].user == "tester" and job.triggers[1].rule_id == "drift-demand"
    assert len(services.workflow.started) == 1  # type: ignore[attr-defined]


def test_a_rule_the_policy_does_not_list_is_skipped() -> None:
    services = world()
    policy_for(services, trigger_rules=["drift-demand"])
    run = services.retrain_trigger.trigger(RuleFiring(model_id=MODEL, rule_id="other", reason="x"))
    assert run.outcome == "skipped" and "other" in (run.outcome_reason or "")


def test_with_a_limit_of_one_a_second_models_training_waits_then_starts_after_the_first() -> None:
    services = world(models=2, settings=Settings(training_max_concurrent=1))
    first = retrain(services, Retrain(principal=principal(), model_id=MODEL))
    second = retrain(services, Retrain(principal=principal(), model_id=ModelId("model-2")))
    assert (first.outcome, second.outcome) == ("started", "queued")
    snapshot = queue_snapshot(services)
    assert snapshot.global_limit == 1 and [r.training_job_id for r in snapshot.running] == [first.job_id]
    [waiting] = snapshot.waiting
    assert (waiting.training_job_id, waiting.position) == (second.job_id, 1)
    assert waiting.blocked_by and "global limit" in waiting.blocked_by
    assert waiting.estimated_wait_seconds is not None and waiting.estimated_wait_seconds > 0
    assert dispatch_queue(services) == []  # no slot yet
    services.jobs.finish(JobId(first.job_id or ""), TrainingStatus.COMPLETED)
    assert dispatch_queue(services) == [second.job_id]
    started = services.jobs.get(JobId(second.job_id or ""))
    assert started is not None and started.status == TrainingStatus.PENDING and started.execution
    assert started.execution.arn is not None


def test_cancelling_a_queued_job_removes_it_from_the_queue() -> None:
    from chronos_core.application.training.commands import JobCommand
    from chronos_core.application.training.control import cancel_job

    services = world(models=2, settings=Settings(training_max_concurrent=1))
    retrain(services, Retrain(principal=principal(), model_id=MODEL))
    queued = retrain(services, Retrain(principal=principal(), model_id=ModelId("model-2")))
    command = JobCommand(
        principal=principal(), model_id=ModelId("model-2"), job_id=JobId(queued.job_id or "")
    )
    assert cancel_job(services, command).status == TrainingStatus.CANCELLED
    assert queue_snapshot(services).waiting == []
    assert services.models.get(ModelId("model-2")).status == ModelStatus.TRAINED  # type: ignore[union-attr]


def challenger(services: Services, challenger_mae: float, champion_mae: float = 1.0) -> Any:
    """A challenger that trained and is finalizing, scored against the champion."""
    job = build_job(
        "chall",
        status=TrainingStatus.TRAINING,
        artifacts=ARTIFACTS,
        serving="network",
        comparison=HoldoutComparison(
            champion_job_id=CHAMPION, challenger_mae=challenger_mae, champion_mae=champion_mae, windows=30
        ),
    )
    services.jobs.add(job)
    return job


def test_a_better_challenger_is_promoted_and_the_old_champion_kept_for_a_rollback() -> None:
    services = world()
    policy_for(services, promotion_margin=0.1)
    verdict = settle_challenger(services, challenger(services, 0.85))
    assert verdict.promoted
    promoted = services.models.get(MODEL)
    assert promoted is not None and promoted.champion_job_id == "chall"
    assert promoted.previous_champions == ["champ"]
    stored = services.jobs.get(JobId("chall"))
    assert stored is not None and stored.promotion == verdict and stored.model_version == 1
    [event] = services.events.list_for_model(MODEL, 0, 10).items
    assert event.kind == "promoted"
    view = rollback_champion(services, ModelCommand(principal=principal(), model_id=MODEL))
    assert view.champion is not None and view.champion.training_job_id == "champ"


@pytest.mark.parametrize("mae", [0.95, 1.0, 1.3])
def test_a_challenger_not_better_by_the_margin_stays_a_challenger_with_the_reason(mae: float) -> None:
    services = world()
    policy_for(services, promotion_margin=0.1)
    verdict = settle_challenger(services, challenger(services, mae))
    assert not verdict.promoted and "the champion stays" in verdict.reason
    assert services.models.get(MODEL).champion_job_id == "champ"  # type: ignore[union-attr]
    [event] = services.events.list_for_model(MODEL, 0, 10).items
    assert event.kind == "challenger_kept" and "stays a challenger" in event.message


def test_a_pinned_champion_is_not_replaced_and_the_worker_follows_the_champion() -> None:
    services = world()
    services.jobs.add(trained_job("other", created_at=T0 + timedelta(hours=1)))
    set_champion(services, SetChampion(principal=principal(), model_id=MODEL, job_id=JobId("other")))
    assert not settle_challenger(services, challenger(services, 0.01)).promoted
    forecasting = trained_job("champ-forecasts", prediction_config=prediction_config())
    served = serving_job(services, services.models.get(MODEL), forecasting)  # type: ignore[arg-type]
    assert served.id == "other"  # the recurring forecasts of an older job use the champion
    with pytest.raises(ConflictError):
        set_champion(services, SetChampion(principal=principal(), model_id=MODEL, job_id=JobId("chall")))


def test_deleting_a_model_removes_its_policy_runs_and_events() -> None:
    from chronos_core.application.models.commands import DeleteModel
    from chronos_core.application.models.removal import delete_model

    services = world()
    policy_for(services)
    tick(services, datetime(2026, 5, 1, 1, 0, tzinfo=UTC))
    [job] = new_jobs(services)
    services.jobs.finish(job.id, TrainingStatus.COMPLETED)
    services.models.release_after_training(MODEL, succeeded=True)
    services.events.add(ModelEvent(model_id=MODEL, at=SET_AT, kind="pinned", message="pinned"))
    delete_model(services, DeleteModel(principal=principal(), model_id=MODEL))
    assert services.policies.get(MODEL) is None
    assert services.runs.list_for_model(MODEL, 0, 10).total == 0
    assert services.events.list_for_model(MODEL, 0, 10).total == 0
