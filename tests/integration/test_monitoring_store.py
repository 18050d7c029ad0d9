"""The monitoring adapters against the real MongoDB-compatible server (FerretDB v1 locally):
round trips of every document, the claims under concurrency, the channel counters, the forecast
log's bound, and a whole evaluation tick and delivery on the real stores."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from pymongo import MongoClient, monitoring
from pymongo.database import Database

from chronos_core.adapters.mongo import (
    Document,
    MongoForecastSchedule,
    MongoModelRepository,
    MongoTrainingJobRepository,
)
from chronos_core.adapters.mongo.alert_rules import MongoAlertRules, MongoEvaluationLog, MongoRuleStates
from chronos_core.adapters.mongo.alerts import MongoAlertStore, MongoSilenceStore
from chronos_core.adapters.mongo.forecast_log import PRUNE_EVERY, MongoForecastLog, MongoForecastRunHistory
from chronos_core.adapters.mongo.notifications import MongoChannelStore, MongoNotificationStore
from chronos_core.application.ports.monitoring import AlertFilter, EvaluationRecord, RuleFilter
from chronos_core.domain.forecasting import ForecastRunStatus
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ServingSummary
from chronos_core.domain.monitoring import (
    Alert,
    AlertEvent,
    AlertOutcome,
    AlertState,
    AlertStatus,
    DriftReference,
    Outcome,
    PredictedCrossing,
    RuleState,
    RuleType,
    Silence,
)
from chronos_core.domain.notifications import (
    ChannelStatus,
    ChannelType,
    DeliveryOutcome,
    Notification,
    NotificationStatus,
)
from tests.support import builders
from tests.support.app import mongo_services
from tests.support.builders import T0
from tests.support.fakes import FakeObservedSeries, InMemoryModelRepository, InMemoryTrainingJobs
from tests.support.monitoring import (
    ENTITY,
    MINUTE,
    deliver_all,
    monitored_job,
    published,
    rule_of,
    served_model,
    tick,
    webhook_channel,
)

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


def concurrently[T](calls: int, work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(calls)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=calls) as pool:
        return list(pool.map(run, range(calls)))


# ---------------------------------------------------------------------------------- rules


def test_rules_round_trip_with_their_typed_parameters(mongo_db: Database[Document]) -> None:
    rules = MongoAlertRules(mongo_db)
    channel = webhook_channel()
    crossing = rule_of(
        "predicted_crossing", {"threshold": 42.5, "direction": "below"}, channels=[channel.id],
        pending_evaluations={"m": 2, "n": 3}, severity="critical",
    )  # fmt: skip
    drift = rule_of("input_drift", {"test": "psi"}, enabled=False)
    rules.add(crossing)
    rules.add(drift)
    assert rules.get(crossing.id) == crossing
    assert rules.get(drift.id).params.test == "psi"  # type: ignore[union-attr]
    assert [r.id for r in rules.enabled(10)] == [crossing.id]
    assert [r.id for r in rules.for_model(ModelId("model-1"), [RuleType.PREDICTED_CROSSING])] == [crossing.id]
    assert rules.for_model(ModelId("model-1"), [RuleType.STALENESS]) == []
    assert rules.using_channel(channel.id) == [crossing.id]
    page = rules.list(RuleFilter(services=frozenset({"energy"}), type=RuleType.INPUT_DRIFT), 0, 10)
    assert page.total == 1 and page.items[0].id == drift.id
    assert rules.list(RuleFilter(services=frozenset({"water"})), 0, 10).total == 0
    assert rules.replace(crossing.model_copy(update={"name": "renamed"}))
    assert rules.get(crossing.id).name == "renamed"  # type: ignore[union-attr]
    assert rules.delete(crossing.id) and rules.get(crossing.id) is None and not rules.delete(crossing.id)


def test_rule_states_round_trip_with_their_drift_reference(mongo_db: Database[Document]) -> None:
    states = MongoRuleStates(mongo_db)
    reference = DriftReference(job_id="job-1", normalization="relative", values=[0.5, -1.25], window_to=T0)
    state = RuleState(
        rule_id="r1", state=AlertState.FIRING, since=T0, recent=["b", "g", "b"], alert_id="a1",
        last_notified_at=T0, reference=reference,
    )  # fmt: skip
    states.save(state)
    states.save(state.model_copy(update={"version": 2}))
    assert states.get("r1") == state.model_copy(update={"version": 2})
    assert set(states.get_many(["r1", "missing"])) == {"r1"}
    states.delete("r1")
    assert states.get("r1") is None


def test_each_evaluation_slot_is_claimed_once_among_concurrent_evaluators(
    mongo_db: Database[Document],
) -> None:
    keys = [f"rule-{i}|2026-01-01T00:00:00.000Z" for i in range(100)]
    results = concurrently(8, lambda i: MongoEvaluationLog(mongo_db).claim(keys))
    won = [sum(result[k] for result in results) for k in range(len(keys))]
    assert won == [1] * len(keys)


def test_the_evaluation_log_answers_the_latest_evaluation(mongo_db: Database[Document]) -> None:
    log = MongoEvaluationLog(mongo_db)
    log.record(
        [
            EvaluationRecord(rule_id="r", slot="s1", at=T0, outcome=Outcome.OK, state=AlertState.OK),
            EvaluationRecord(
                rule_id="r",
                slot="s2",
                at=T0 + MINUTE,
                outcome=Outcome.BREACH,
                state=AlertState.FIRING,
                value=3.5,
            ),
        ]
    )
    latest = log.latest("r")
    assert (
        latest is not None
        and latest.slot == "s2"
        and latest.value == 3.5
        and latest.state == AlertState.FIRING
    )
    assert log.latest("other") is None
    assert log.prune(T0 + timedelta(seconds=30)) == 1


# --------------------------------------------------------------------------------- alerts


def alert(**fields: Any) -> Alert:
    values: dict[str, Any] = {
        "fingerprint": "fp1", "rule_id": "r1", "rule_name": "n", "rule_type": "predicted_crossing",
        "severity": "high", "fiware_service": "energy", "model_id": "model-1", "started_at": T0,
        **fields,
    }  # fmt: skip
    return Alert.model_validate(values)


def test_alerts_and_events_round_trip_and_filter(mongo_db: Database[Document]) -> None:
    store = MongoAlertStore(mongo_db)
    predicted = PredictedCrossing(
        threshold=20, direction="above", probability=0.8, crossing_at=T0, deadline=T0 + MINUTE
    )
    open_ = alert(predicted=predicted, values={"forecast": {"points": [{"step": 1, "lower": {"80": 1.0}}]}})
    closed = alert(
        status=AlertStatus.RESOLVED, started_at=T0 - MINUTE, resolved_at=T0, rule_id="r2", fingerprint="fp2"
    )
    store.add_alert(open_)
    store.add_alert(closed)
    assert store.get_alert(open_.id) == open_
    assert store.active_with_fingerprint("fp1") == open_ and store.active_with_fingerprint("fp2") is None
    assert [a.id for a in store.undecided_outcomes("r1")] == [open_.id]
    active = store.list_alerts(AlertFilter(services=frozenset({"energy"}), status=AlertStatus.FIRING), 0, 10)
    assert active.total == 1 and active.items[0].id == open_.id
    assert store.list_alerts(AlertFilter(), 0, 10).items[0].id == open_.id  # most recent first
    assert store.list_alerts(AlertFilter(services=frozenset({"water"})), 0, 10).total == 0
    store.save_alert(
        open_.model_copy(update={"outcome": AlertOutcome.MATERIALIZED, "lead_time_seconds": 60.0})
    )
    assert store.undecided_outcomes("r1") == []
    events = [
        AlertEvent(rule_id="r1", alert_id=open_.id, fingerprint="fp1", fiware_service="energy",
                   at=T0 + k * MINUTE, from_state=AlertState.OK, to_state=AlertState.FIRING,
                   outcome=Outcome.BREACH, values={"k": k})
        for k in range(3)
    ]  # fmt: skip
    store.add_events(events)
    page = store.events(rule_id="r1", skip=1, limit=1)
    assert page.total == 3 and page.items[0].values == {"k": 1}
    assert store.events(alert_id=open_.id).items[0].values == {"k": 2}  # newest first
    store.forget_rule("r1")
    assert store.get_alert(open_.id).status == AlertStatus.RESOLVED  # type: ignore[union-attr]


def test_silences_are_active_within_their_window(mongo_db: Database[Document]) -> None:
    store = MongoSilenceStore(mongo_db)
    silence = Silence(fiware_service="energy", rule_id="r1", starts_at=T0, ends_at=T0 + 10 * MINUTE)
    store.add(silence)
    assert store.active("energy", T0 + MINUTE) == [silence]
    assert store.active("energy", T0 + 10 * MINUTE) == [] and store.active("water", T0 + MINUTE) == []
    assert store.list(frozenset({"energy"}), T0 + 11 * MINUTE, 0, 10).total == 0
    assert store.list(None, None, 0, 10).total == 1
    assert store.delete(silence.id) and store.get(silence.id) is None


# -------------------------------------------------------------------------- notifications


def notification(**fields: Any) -> Notification:
    values: dict[str, Any] = {
        "alert_id": "a1", "channel_id": "c1", "channel_type": ChannelType.WEBHOOK,
        "fiware_service": "energy", "kind": "firing", "created_at": T0,
        "payload": {"alert": {"values": {"lower": {"80": 1.5}}}}, **fields,
    }  # fmt: skip
    return Notification.model_validate(values)


def test_notifications_round_trip_and_each_attempt_is_claimed_once(mongo_db: Database[Document]) -> None:
    store = MongoNotificationStore(mongo_db)
    first, second = notification(), notification(channel_id="c2", created_at=T0 + MINUTE)
    store.add_many([first, second])
    assert store.get(first.id) == first
    assert [n.id for n in store.unsent(T0 + 30 * timedelta(seconds=1), 10)] == [first.id]
    store.save(first.model_copy(update={"status": NotificationStatus.DELIVERED, "attempts": 1}))
    assert store.delivered_channels("a1") == {"c1"}
    assert [n.id for n in store.for_alert("a1")] == [first.id, second.id]
    claims = concurrently(8, lambda i: MongoNotificationStore(mongo_db).claim_attempt(second.id, 1))
    assert sum(claims) == 1
    assert store.claim_attempt(second.id, 2)


def test_channel_counters_follow_orions_subscription_fields(mongo_db: Database[Document]) -> None:
    store = MongoChannelStore(mongo_db)
    channel = webhook_channel()
    store.add(channel)
    failure = DeliveryOutcome(ok=False, status_code=503, retryable=True, reason="HTTP 503")
    store.record_delivery(channel.id, failure, T0)
    stats = store.record_delivery(channel.id, failure, T0 + MINUTE)
    assert stats is not None and (stats.times_sent, stats.failed, stats.consecutive_failures) == (2, 2, 2)
    assert stats.last_failure == T0 + MINUTE and stats.last_failure_reason == "HTTP 503"
    stats = store.record_delivery(channel.id, DeliveryOutcome(ok=True, status_code=202), T0 + 2 * MINUTE)
    assert stats is not None and (stats.delivered, stats.consecutive_failures, stats.last_success_code) == (
        1,
        0,
        202,
    )
    assert store.record_delivery("missing", failure, T0) is None
    assert store.disable(channel.id, "too many failures", T0) and not store.disable(channel.id, "again", T0)
    disabled = store.get(channel.id)
    assert (
        disabled is not None and disabled.status == ChannelStatus.DISABLED and disabled.stats.times_sent == 3
    )
    store.save(disabled.model_copy(update={"name": "renamed", "status": ChannelStatus.ACTIVE}))
    renamed = store.get(channel.id)
    assert (
        renamed is not None and renamed.name == "renamed" and renamed.stats.times_sent == 3
    )  # counters kept
    assert [c.id for c in store.active_in("energy")] == [channel.id]
    assert store.list(frozenset({"water"}), 0, 10).total == 0
    assert store.get_many([channel.id, "x"]).keys() == {channel.id}
    assert store.delete(channel.id)


def test_concurrent_failures_are_all_counted(mongo_db: Database[Document]) -> None:
    store = MongoChannelStore(mongo_db)
    channel = webhook_channel()
    store.add(channel)
    failure = DeliveryOutcome(ok=False, retryable=True, reason="timeout")
    concurrently(6, lambda i: MongoChannelStore(mongo_db).record_delivery(channel.id, failure, T0))
    stored = store.get(channel.id)
    assert stored is not None and stored.stats.times_sent == 6


# ----------------------------------------------------------------------- forecasts and runs


def test_the_forecast_log_keeps_a_bounded_number_per_job_newest_first(mongo_db: Database[Document]) -> None:
    log = MongoForecastLog(mongo_db, keep=10)
    for k in range(13):
        log.record(published(T0 + k * MINUTE, [1.0, 2.0]))
    log.record(published(T0 + 12 * MINUTE, [1.0, 2.0]))  # the same forecast again: stored once
    recent = log.recent(JobId("job-1"), 100)
    assert len(recent) == 10 and recent[0].generated_at == T0 + 12 * MINUTE
    assert recent[0].points[0].lower == {"80": 0.0, "95": -1.0}
    assert log.recent(JobId("job-2"), 5) == []


def test_the_forecast_log_is_pruned_now_and_then_and_a_deleted_jobs_forecasts_go(
    mongo_db: Database[Document],
) -> None:
    log = MongoForecastLog(mongo_db, keep=10)
    total = 10 + 3 * PRUNE_EVERY
    for k in range(total):
        log.record(published(T0 + k * MINUTE, [1.0]))
        stored = mongo_db["forecast_log"].count_documents({"job_id": "job-1"})
        assert stored <= 10 + PRUNE_EVERY, (k, stored)  # never far past its bound
        assert len(log.recent(JobId("job-1"), 100)) == min(k + 1, 10)  # reads: exactly the bound
    newest = log.recent(JobId("job-1"), 3)
    assert [f.generated_at for f in newest] == [T0 + (total - 1 - i) * MINUTE for i in range(3)]
    log.record(published(T0, [1.0]).model_copy(update={"job_id": "job-2"}))
    log.forget(JobId("job-1"))
    assert mongo_db["forecast_log"].count_documents({"job_id": "job-1"}) == 0
    assert len(log.recent(JobId("job-2"), 5)) == 1


def test_recent_forecast_run_statuses_come_from_the_forecast_runs(mongo_db: Database[Document]) -> None:
    schedule = MongoForecastSchedule(mongo_db)
    job = JobId("job-1")
    for k, status in enumerate(["succeeded", "failed", "failed"]):
        slot = T0 + k * MINUTE
        assert schedule.begin_run(job, slot, 1, 60) == "run"
        schedule.finish_run(job, slot, status=ForecastRunStatus(status), error=None)
    schedule.begin_run(job, T0 + 3 * MINUTE, 1, 60)  # still running: not finished
    assert MongoForecastRunHistory(mongo_db).recent_statuses(job, 5) == ["failed", "failed", "succeeded"]


# ------------------------------------------------------------------------ a tick, end to end


def test_a_tick_and_its_deliveries_on_the_real_stores(mongo_db: Database[Document]) -> None:
    channel = webhook_channel()
    rule = rule_of("observed_threshold", {"threshold": 100.0}, channels=[channel.id])
    services = mongo_services(
        mongo_db,
        models=InMemoryModelRepository(served_model()),
        jobs=InMemoryTrainingJobs(monitored_job()),
        observed_series=FakeObservedSeries({ENTITY: [(T0, 150.0)]}),
    )
    services.channels.add(channel)
    services.alert_rules.add(rule)
    first = tick(services, T0)
    again = tick(services, T0)
    assert (first.claimed, first.firing, again.claimed) == (1, 1, 0)
    [delivered] = deliver_all(services, T0)
    assert delivered.action == "delivered"
    [stored] = services.alerts.list_alerts(AlertFilter(status=AlertStatus.FIRING), 0, 10).items
    [sent] = services.notifications.for_alert(stored.id)
    assert (
        sent.status == NotificationStatus.DELIVERED and services.channels.get(channel.id).stats.delivered == 1
    )  # type: ignore[union-attr]
    assert services.rule_states.get(rule.id).alert_id == stored.id  # type: ignore[union-attr]
    assert services.alert_evaluations.latest(rule.id).outcome == Outcome.BREACH  # type: ignore[union-attr]
    services.observed_series.points[ENTITY] = [(T0 + MINUTE, 10.0)]  # type: ignore[attr-defined]
    tick(services, T0 + MINUTE)
    assert services.alerts.get_alert(stored.id).status == AlertStatus.RESOLVED  # type: ignore[union-attr]
    assert [n.kind for n in services.notifications.for_alert(stored.id)] == ["firing", "resolved"]


# ------------------------------------------------------------------------------ batched reads


def test_models_and_jobs_are_read_a_batch_at_a_time(mongo_db: Database[Document]) -> None:
    models, jobs = MongoModelRepository(mongo_db), MongoTrainingJobRepository(mongo_db)
    for k in range(3):
        models.add(builders.model(f"model-{k}"))
        jobs.add(monitored_job(job_id=f"job-{k}", model_id=f"model-{k}"))
    found = {m.id: m for m in models.get_many([ModelId("model-0"), ModelId("model-2"), ModelId("gone")])}
    assert sorted(found) == ["model-0", "model-2"] and found[ModelId("model-2")] == models.get(
        ModelId("model-2")
    )
    got = jobs.get_many([JobId("job-1"), JobId("job-2"), JobId("gone")])
    assert sorted(got) == ["job-1", "job-2"]
    one = jobs.get(JobId("job-1"))
    assert one is not None
    for name in ("prediction_config", "data_quality", "selection", "metrics", "sampling_interval_seconds"):
        assert getattr(got[JobId("job-1")], name) == getattr(one, name), name  # what the rules read
    assert jobs.get_many([]) == {}


def test_undecided_predicted_alerts_of_many_rules_in_one_read(mongo_db: Database[Document]) -> None:
    store = MongoAlertStore(mongo_db)
    predicted = PredictedCrossing(
        threshold=20, direction="above", probability=0.8, crossing_at=T0, deadline=T0 + MINUTE
    )
    open_r1, open_r2 = alert(predicted=predicted), alert(predicted=predicted, rule_id="r2", fingerprint="fp2")
    decided = alert(predicted=predicted, outcome=AlertOutcome.AVERTED, fingerprint="fp3")
    plain = alert(rule_id="r3", fingerprint="fp4")  # no prediction: nothing to settle
    store.add_alerts([open_r1, open_r2, decided, plain])
    store.add_alerts([open_r1])  # stored already (a retried tick): replaced, not refused
    assert store.get_alert(decided.id) == decided
    found = store.undecided_outcomes_of(["r1", "r2", "r3", "r4"])
    assert {rule: [a.id for a in alerts] for rule, alerts in found.items()} == {
        "r1": [open_r1.id],
        "r2": [open_r2.id],
    }
    assert found["r1"] == store.undecided_outcomes("r1")


def test_the_newest_forecasts_of_many_jobs_whatever_the_hint(mongo_db: Database[Document]) -> None:
    log = MongoForecastLog(mongo_db, keep=20)
    for k in range(6):
        log.record(published(T0 + k * HOUR, [1.0, 2.0]))
    log.record(published(T0, [1.0]).model_copy(update={"job_id": "job-2"}))
    wanted = {JobId("job-1"): 3, JobId("job-2"): 2, JobId("job-3"): 1}
    exact = {job: log.recent(job, n) for job, n in wanted.items()}
    assert [f.generated_at for f in exact[JobId("job-1")]] == [T0 + 5 * HOUR, T0 + 4 * HOUR, T0 + 3 * HOUR]
    assert log.recent_many(wanted) == exact
    assert log.recent_many(wanted, newer_than=T0 + 2 * HOUR) == exact  # job-2 is short: read in full
    assert log.recent_many(wanted, newer_than=T0 + 10 * HOUR) == exact  # nothing newer: all in full
    assert log.recent_many({JobId("job-1"): 0}) == {JobId("job-1"): []}


def test_recent_run_statuses_of_many_jobs_whatever_the_hint(mongo_db: Database[Document]) -> None:
    schedule, history = MongoForecastSchedule(mongo_db), MongoForecastRunHistory(mongo_db)
    for job, statuses in (("job-1", ["succeeded", "failed", "failed", "failed"]), ("job-2", ["failed"])):
        for k, status in enumerate(statuses):
            slot = T0 + k * HOUR
            assert schedule.begin_run(JobId(job), slot, 1, 60) == "run"
            schedule.finish_run(JobId(job), slot, status=ForecastRunStatus(status), error=None)
    schedule.begin_run(JobId("job-1"), T0 + 4 * HOUR, 1, 60)  # running: not finished
    wanted = {JobId("job-1"): 3, JobId("job-2"): 2, JobId("job-3"): 1}
    exact = {job: history.recent_statuses(job, n) for job, n in wanted.items()}
    assert exact[JobId("job-1")] == ["failed", "failed", "failed"] and exact[JobId("job-2")] == ["failed"]
    assert history.recent_statuses_many(wanted) == exact
    assert history.recent_statuses_many(wanted, newer_than=T0 + 30 * MINUTE) == exact
    assert history.recent_statuses_many(wanted, newer_than=T0 + 10 * HOUR) == exact


def test_rule_states_are_inserted_together_the_first_time_and_replaced_after(
    mongo_db: Database[Document],
) -> None:
    states = MongoRuleStates(mongo_db)
    first = [RuleState(rule_id=f"r{k}", since=T0, version=1) for k in range(5)]
    states.save(first[0].model_copy(update={"state": AlertState.PENDING}))  # another writer was first
    states.save_many(first)
    assert states.get_many([s.rule_id for s in first]) == {s.rule_id: s for s in first}
    later = [s.model_copy(update={"state": AlertState.FIRING, "version": 2}) for s in first[:2]]
    states.save_many(later)
    stored = states.get_many(["r0", "r1", "r2"])
    assert [stored[i].state for i in ("r0", "r1", "r2")] == [
        AlertState.FIRING,
        AlertState.FIRING,
        AlertState.OK,
    ]


class FindCounter(monitoring.CommandListener):
    """Counts the ``find`` commands sent (per collection)."""

    def __init__(self) -> None:
        self.finds: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.finds.append(str(event.command["find"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return


def test_a_tick_reads_the_database_a_fixed_number_of_times_whatever_the_rules(
    mongo_db: Database[Document],
) -> None:
    """Models, jobs, logged forecasts, forecast runs, undecided alerts and states are read in
    batches: the
    number of finds of a tick does not grow with the number of models and rules."""
    counter = FindCounter()
    client: MongoClient[Document] = MongoClient(mongo_db.client.address[0], mongo_db.client.address[1],
                                                tz_aware=True, event_listeners=[counter])  # fmt: skip
    db = client[mongo_db.name]
    points: dict[str, list[tuple[Any, float | None]]] = {}
    try:
        services = mongo_services(db, observed_series=FakeObservedSeries(points))

        def add_models(first: int, count: int) -> None:
            for k in range(first, first + count):
                entity = f"urn:x:Meter:{k}"
                points[entity] = [(T0 - (3 - i) * HOUR, 50.0 + i) for i in range(4)]
                served = builders.model(f"model-{k}", entity_id=entity).model_copy(
                    update={"serving": ServingSummary(training_job_id=f"job-{k}", serving="network"),
                            "has_successful_training": True}
                )  # fmt: skip
                services.models.add(served)
                services.jobs.add(monitored_job(job_id=f"job-{k}", model_id=f"model-{k}"))
                services.forecast_log.record(
                    published(T0 - HOUR, [60.0, 70.0]).model_copy(update={"job_id": f"job-{k}"})
                )
                for rule_type, params in (
                    ("observed_threshold", {"threshold": 52.0}),
                    ("predicted_crossing", {"threshold": 65.0}),
                    ("live_accuracy", {"metric": "mae", "max_value": 100, "min_scored": 1}),
                    ("forecast_failures", {"consecutive": 2}),
                ):
                    services.alert_rules.add(
                        rule_of(rule_type, params, model_id=f"model-{k}").model_copy(
                            update={"model_id": f"model-{k}"}
                        )
                    )

        add_models(0, 2)
        counter.finds.clear()
        small = tick(services, T0)
        finds_small = len(counter.finds)
        add_models(2, 8)
        counter.finds.clear()
        large = tick(services, T0 + 2 * HOUR)
        assert (small.evaluated, large.evaluated, large.errors) == (8, 40, 0)
        assert large.firing >= 10  # every threshold rule fires on the new models
        assert len(counter.finds) <= finds_small + 2, counter.finds
    finally:
        client.close()
