"""Forecast use cases with in-memory ports: grid advancement (drift-free, catch-up), scheduler
ticks (claims, enqueue failures), execution (idempotency, failures, skips) and the Orion payload
shape of shared/research/fiware-contract.md §2.4-2.5."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronos_core.adapters.fiware.orion import (
    ForecastPoint,
    ForecastSeries,
    forecast_attributes,
    notification_subscription,
)
from chronos_core.application import forecasts
from chronos_core.application.forecasts import (
    DueJob,
    ForecastMessage,
    ForecastSettings,
    RunAdmission,
    advance,
    run_key,
)
from chronos_core.domain.errors import ConflictError, UpstreamError
from chronos_core.domain.fiware import validate_entity
from chronos_core.domain.training import TrainingJob, TrainingStatus
from chronos_core.ml.inference import ForecastResult

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------------------------ advance


@pytest.mark.parametrize(
    ("now_offset", "expected_slot", "expected_next"),
    [
        (0, 0, 60),  # exactly due
        (59.999, 0, 60),  # still the same slot
        (60, 60, 120),  # the next slot is due
        (61, 60, 120),
        (3600 * 24 + 5, 3600 * 24, 3600 * 24 + 60),  # a day of missed slots: one forecast, skip the rest
    ],
)
def test_advance_is_on_the_grid_and_skips_missed_slots(
    now_offset: float, expected_slot: float, expected_next: float
) -> None:
    slot, next_slot = advance(T0, 60, T0 + timedelta(seconds=now_offset))
    assert slot == T0 + timedelta(seconds=expected_slot)
    assert next_slot == T0 + timedelta(seconds=expected_next)
    assert next_slot > T0 + timedelta(seconds=now_offset)


def test_advance_does_not_drift_with_scheduler_latency() -> None:
    """Ticks arriving late by a random latency never move the grid."""
    stored = T0
    for tick in range(1, 500):
        now = T0 + timedelta(seconds=tick * 60 + (tick * 7919 % 50))  # 0..49 s late
        if stored <= now:
            _, stored = advance(stored, 60, now)
        assert (stored - T0).total_seconds() % 60 == 0
    assert stored == T0 + timedelta(seconds=500 * 60)


def test_advance_with_fractional_interval_stays_on_the_millisecond_grid() -> None:
    stored = T0
    for k in range(1, 1000):
        _, stored = advance(stored, 90.5, T0 + timedelta(seconds=k * 90.5 - 0.001))
    assert stored == T0 + timedelta(milliseconds=999 * 90_500)


# --------------------------------------------------------------------------------- fakes


class FakeSchedule:
    """In-memory ForecastSchedule with the same claim semantics as the Mongo adapter (a ticket
    per ``(job, slot)``, inserted once)."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.tickets: set[str] = set()
        self.next_seen_by_record: list[tuple[str, datetime | None]] = []
        self.lock = threading.Lock()
        self.keys: dict[str, str] = {}

    def add(self, job_id: str, slot: datetime, interval: float = 60, enabled: bool = True) -> None:
        self.jobs[job_id] = {
            "next": slot,
            "config": {"enabled": enabled, "interval_seconds": interval},
            "last": None,
        }

    def due(self, now: datetime, limit: int) -> list[DueJob]:
        items = [
            DueJob(job_id=k, slot=v["next"], interval_seconds=v["config"]["interval_seconds"])
            for k, v in self.jobs.items()
            if v["config"].get("enabled") and v["next"] is not None and v["next"] <= now
        ]
        return sorted(items, key=lambda d: d.slot)[:limit]

    def claim_slots(self, items: Sequence[tuple[str, datetime]]) -> list[bool]:
        won = []
        with self.lock:
            for job_id, slot in items:
                key = run_key(job_id, slot)
                won.append(key not in self.tickets)
                self.tickets.add(key)
        return won

    def release(self, job_id: str, slot: datetime) -> bool:
        with self.lock:
            key = run_key(job_id, slot)
            if key in self.tickets:
                self.tickets.remove(key)
                return True
            return False

    def advance_after(self, job_id: str, slot: datetime, next_slot: datetime) -> bool:
        job = self.jobs.get(job_id)
        if job and job["config"].get("enabled") and job["next"] is not None and job["next"] <= slot:
            job["next"] = next_slot
            return True
        return False

    def prune(self, before: datetime) -> int:
        return 0

    def enable(self, job_id: str, config: dict[str, Any], first_slot: datetime | None) -> None:
        self.jobs.setdefault(job_id, {"next": None, "config": {}, "last": None})["config"] = config
        if first_slot is not None:
            self.jobs[job_id]["next"] = first_slot

    def set_subscription(self, job_id: str, subscription_id: str) -> bool:
        config = self.jobs[job_id]["config"]
        if config.get("subscription_id"):
            return False
        config["subscription_id"] = subscription_id
        return True

    def disable(self, job_id: str) -> None:
        self.jobs[job_id]["config"].update(enabled=False, subscription_id=None)
        self.jobs[job_id]["next"] = None

    def begin_run(self, job_id: str, slot: datetime, attempt: int, lease_seconds: float) -> RunAdmission:
        key = run_key(job_id, slot)
        run = self.runs.get(key)
        if run is None or run["status"] == "failed":
            self.runs[key] = {"status": "running"}
            return "run"
        return "done" if run["status"] == "succeeded" else "busy"

    def finish_run(self, job_id: str, slot: datetime, *, status: str, error: str | None) -> None:
        self.runs[run_key(job_id, slot)] = {"status": status, "error": error}

    def record_last(self, job_id: str, last_forecast: dict[str, Any]) -> None:
        self.next_seen_by_record.append((last_forecast["status"], self.jobs[job_id]["next"]))
        last = self.jobs[job_id]["last"]
        if last is None or last["slot"] <= last_forecast["slot"]:
            self.jobs[job_id]["last"] = last_forecast

    def api_key(self, service: str, servicepath: str, generate: Callable[[], str]) -> str:
        return self.keys.setdefault(f"{service}|{servicepath}", generate())


class FakeQueue:
    def __init__(self, fail: Callable[[ForecastMessage], bool] = lambda m: False) -> None:
        self.sent: list[ForecastMessage] = []
        self.fail = fail

    def send(self, messages: Sequence[ForecastMessage]) -> list[ForecastMessage]:
        failed = [m for m in messages if self.fail(m)]
        self.sent.extend(m for m in messages if not self.fail(m))
        return failed


# ------------------------------------------------------------------------------------- ticks


def test_tick_claims_due_jobs_once_and_sends_one_message_each() -> None:
    schedule = FakeSchedule()
    now = T0 + timedelta(seconds=90)
    schedule.add("due-1", T0)
    schedule.add("due-2", T0 - timedelta(hours=5))  # long overdue: one message, slots skipped
    schedule.add("later", now + timedelta(seconds=1))
    schedule.add("off", T0, enabled=False)
    queue = FakeQueue()
    result = forecasts.schedule_due(schedule, lambda: queue, now)
    assert (result.due, result.claimed, result.enqueued) == (2, 2, 2)
    assert {m.job_id for m in queue.sent} == {"due-1", "due-2"}
    assert {m.slot for m in queue.sent} == {T0 + timedelta(seconds=60)}
    assert schedule.jobs["due-1"]["next"] == T0  # a tick writes no job: the run moves it
    again = forecasts.schedule_due(schedule, lambda: queue, now)
    assert (again.due, again.claimed) == (2, 0) and len(queue.sent) == 2  # same slots, tickets taken
    later = forecasts.schedule_due(schedule, lambda: queue, now + timedelta(seconds=60))
    assert later.claimed == 3  # "later" is due now too
    assert {(m.job_id, m.slot) for m in queue.sent[2:]} == {
        ("due-1", T0 + timedelta(seconds=120)),
        ("due-2", T0 + timedelta(seconds=120)),
        ("later", now + timedelta(seconds=1)),
    }


def test_tick_with_nothing_due_does_not_build_the_queue() -> None:
    def no_queue() -> FakeQueue:
        raise AssertionError("the queue must not be built")

    assert forecasts.schedule_due(FakeSchedule(), no_queue, T0).claimed == 0


def test_claims_whose_message_failed_are_released_for_the_next_tick() -> None:
    schedule = FakeSchedule()
    schedule.add("ok", T0)
    schedule.add("broken", T0)
    queue = FakeQueue(fail=lambda m: m.job_id == "broken")
    result = forecasts.schedule_due(schedule, lambda: queue, T0 + timedelta(seconds=1))
    assert (result.claimed, result.enqueued, result.released) == (2, 1, 1)
    retry = forecasts.schedule_due(schedule, lambda: FakeQueue(), T0 + timedelta(seconds=2))
    assert (retry.due, retry.claimed) == (2, 1)  # only the released slot is claimed again


def test_concurrent_ticks_claim_each_slot_exactly_once() -> None:
    schedule = FakeSchedule()
    for i in range(200):
        schedule.add(f"job-{i}", T0)
    queue = FakeQueue()
    barrier = threading.Barrier(6)

    def tick() -> None:
        barrier.wait()
        forecasts.schedule_due(schedule, lambda: queue, T0 + timedelta(seconds=5))

    threads = [threading.Thread(target=tick) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m.job_id for m in queue.sent) == sorted(f"job-{i}" for i in range(200))


# --------------------------------------------------------------------------------- execution


class FakeForecaster:
    lookback = 3

    def forecast_points(self, points: list[tuple[datetime, float | None]]) -> ForecastResult:
        last = points[-1][0]
        return ForecastResult(
            values=[1.0, 2.0],
            timestamps=[last + timedelta(seconds=60), last + timedelta(seconds=120)],
            last_observation=last,
            interval_seconds=60,
        )


class FakeSeries:
    def __init__(self, points: int = 3, error: Exception | None = None) -> None:
        self.points = points
        self.error = error

    def last_n(self, source: Any, n: int) -> list[tuple[datetime, float | None]]:
        if self.error:
            raise self.error
        return [(T0 + timedelta(seconds=60 * i), float(i)) for i in range(min(n, self.points))]


class FakeOrion:
    def __init__(self, fail: bool = False) -> None:
        self.upserts: list[dict[str, Any]] = []
        self.fail = fail

    def upsert_forecast(self, tenant: Any, entity_id: str, entity_type: str, **kwargs: Any) -> None:
        if self.fail:
            raise UpstreamError("Orion answered HTTP 503 to upsert entity")
        self.upserts.append({"tenant": tenant, "id": entity_id, "type": entity_type, **kwargs})


class Repo:
    def __init__(self, items: dict[str, Any]) -> None:
        self.items = items

    def get(self, key: str) -> Any:
        return self.items.get(key)


def _job(status: TrainingStatus = TrainingStatus.COMPLETED, enabled: bool = True) -> TrainingJob:
    return TrainingJob(
        id="job-1",
        model_id="model-1",
        fiware_service="energy",
        status=status,
        last_n=100,
        points_available=100,
        window_offset=0,
        artifacts={k: f"id-{k}" for k in ("model", "inference", "x_scaler", "y_scaler", "metadata")},
        prediction_config={"enabled": enabled, "interval_seconds": 60, "entity_id": "urn:x:Prediction:1"},
    )


def _model() -> Any:
    from chronos_core.domain.model import ModelDraft, build_model

    model = build_model(
        ModelDraft(
            model_type="gru",
            rnn_layers=[{"units": 8}],
            feature="demand",
            entity_type="Meter",
            entity_id="urn:x:Meter:1",
            fiware_service="energy",
            fiware_servicepath="/e2e",
        )
    )
    return model.model_copy(update={"id": "model-1"})


def _execute(
    schedule: FakeSchedule, orion: FakeOrion, series: FakeSeries | None = None, attempt: int = 1, **job: Any
) -> forecasts.ExecutionOutcome:
    return forecasts.execute_forecast(
        Repo({"model-1": _model()}),  # type: ignore[arg-type]
        Repo({"job-1": _job(**job)}),  # type: ignore[arg-type]
        schedule,
        None,  # type: ignore[arg-type]
        lambda: series or FakeSeries(),  # type: ignore[arg-type,return-value]
        lambda: orion,  # type: ignore[arg-type,return-value]
        lambda store, refs: FakeForecaster(),
        ForecastSettings(max_receive_count=2),
        ForecastMessage(job_id="job-1", slot=T0),
        attempt=attempt,
    )


def test_execute_publishes_once_per_slot() -> None:
    schedule = FakeSchedule()
    schedule.add("job-1", T0)
    orion = FakeOrion()
    first = _execute(schedule, orion)
    assert first.status == "succeeded" and first.points == 2
    upsert = orion.upserts[0]
    assert upsert["tenant"].service == "energy" and upsert["tenant"].servicepath == "/e2e"
    assert upsert["source_entity_id"] == "urn:x:Meter:1" and upsert["id"] == "urn:x:Prediction:1"
    assert [p.step for p in upsert["series"].points] == [1, 2]
    last = schedule.jobs["job-1"]["last"]
    assert last["status"] == "succeeded" and last["points"] == 2 and last["slot"] == T0
    # The run moved the job to its next grid slot before showing the outcome.
    assert schedule.next_seen_by_record == [("running", T0), ("succeeded", T0 + timedelta(seconds=60))]
    again = _execute(schedule, orion)  # SQS redelivered the same message
    assert again.status == "skipped" and len(orion.upserts) == 1
    assert schedule.jobs["job-1"]["next"] == T0 + timedelta(seconds=60)


def test_a_redelivered_message_of_a_succeeded_slot_still_moves_the_job_on() -> None:
    schedule = FakeSchedule()
    schedule.add("job-1", T0)
    schedule.runs[run_key("job-1", T0)] = {"status": "succeeded"}  # the run stopped before moving it
    assert _execute(schedule, FakeOrion()).status == "skipped"
    assert schedule.jobs["job-1"]["next"] == T0 + timedelta(seconds=60)


def test_execute_failure_is_recorded_raised_and_retried() -> None:
    schedule = FakeSchedule()
    schedule.add("job-1", T0)
    with pytest.raises(UpstreamError):
        _execute(schedule, FakeOrion(fail=True), attempt=1)
    last = schedule.jobs["job-1"]["last"]
    assert last["status"] == "failed" and "Orion" in last["error"] and last["final"] is False
    assert schedule.jobs["job-1"]["next"] == T0  # SQS retries the slot: the job stays on it
    with pytest.raises(UpstreamError):
        _execute(schedule, FakeOrion(fail=True), attempt=2)
    assert schedule.jobs["job-1"]["last"]["final"] is True
    assert schedule.jobs["job-1"]["next"] == T0 + timedelta(seconds=60)  # given up: move on
    assert _execute(schedule, FakeOrion(), attempt=3).status == "succeeded"  # a failed slot may re-run


def test_execute_skips_disabled_or_missing_jobs() -> None:
    schedule = FakeSchedule()
    schedule.add("job-1", T0)
    assert _execute(schedule, FakeOrion(), enabled=False).status == "skipped"
    missing = forecasts.execute_forecast(
        Repo({}),  # type: ignore[arg-type]
        Repo({}),  # type: ignore[arg-type]
        schedule,
        None,  # type: ignore[arg-type]
        lambda: FakeSeries(),  # type: ignore[arg-type,return-value]
        lambda: FakeOrion(),  # type: ignore[arg-type,return-value]
        lambda store, refs: FakeForecaster(),
        ForecastSettings(),
        ForecastMessage(job_id="gone", slot=T0),
    )
    assert missing.status == "skipped" and missing.reason == "job not found"


def test_execute_busy_run_is_retried_later() -> None:
    schedule = FakeSchedule()
    schedule.add("job-1", T0)
    schedule.runs[run_key("job-1", T0)] = {"status": "running"}
    with pytest.raises(ConflictError):
        _execute(schedule, FakeOrion())


def test_too_few_sth_points_is_an_upstream_error() -> None:
    schedule = FakeSchedule()
    schedule.add("job-1", T0)
    with pytest.raises(UpstreamError, match="needs the last 3"):
        _execute(schedule, FakeOrion(), series=FakeSeries(points=2))


def test_no_trained_model_is_a_conflict() -> None:
    with pytest.raises(ConflictError):
        forecasts.artifact_refs(_job(status=TrainingStatus.FAILED))


# ---------------------------------------------------------------------------- Orion payload


def test_forecast_payload_matches_the_ngsi_v2_contract() -> None:
    generated = datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    series = ForecastSeries(
        generated_at=generated,
        horizon=2,
        points=[
            ForecastPoint(step=1, value=1.5, target_timestamp=generated + timedelta(minutes=30)),
            ForecastPoint(step=2, value=2.5, target_timestamp=generated + timedelta(minutes=60)),
        ],
    )
    attributes = forecast_attributes("urn:ngsi-ld:Meter:1", "demand", series)
    entity: dict[str, Any] = {
        "id": forecasts.forecast_entity_id("0f8fad5b-d9cb-469f-a165-70867728950e"),
        "type": "Prediction",
    }
    entity.update(attributes)
    validate_entity(entity)  # ids, attribute names, forbidden characters (contract §2.2)
    assert entity["id"] == "urn:ngsi-ld:Chronos:Prediction:0f8fad5bd9cb"
    assert attributes["sourceEntity"] == {"type": "Relationship", "value": "urn:ngsi-ld:Meter:1"}
    assert attributes["feature"] == {"type": "Text", "value": "demand"}
    fs = attributes["forecastSeries"]
    assert fs["type"] == "StructuredValue"
    # DateTime metadata rendered as YYYY-MM-DDThh:mm:ss.sssZ (contract §2.5)
    assert fs["metadata"] == {"TimeInstant": {"type": "DateTime", "value": "2026-03-01T10:00:00.123Z"}}
    assert fs["value"] == {
        "generatedAt": "2026-03-01T10:00:00.123Z",
        "horizon": 2,
        "points": [
            {"step": 1, "value": 1.5, "targetTimestamp": "2026-03-01T10:30:00.123Z"},
            {"step": 2, "value": 2.5, "targetTimestamp": "2026-03-01T11:00:00.123Z"},
        ],
    }


def test_subscription_feeds_sth_in_legacy_format() -> None:
    body = notification_subscription(
        "urn:ngsi-ld:Chronos:Prediction:abc", "Prediction", "http://sth:8666/notify"
    )
    assert body["subject"]["entities"] == [{"id": "urn:ngsi-ld:Chronos:Prediction:abc", "type": "Prediction"}]
    assert body["notification"] == {
        "http": {"url": "http://sth:8666/notify"},
        "attrs": ["forecastSeries"],
        "attrsFormat": "legacy",
    }


def test_message_body_round_trip() -> None:
    message = ForecastMessage(job_id="job-1", slot=T0 + timedelta(milliseconds=5))
    assert message.to_body() == {"job_id": "job-1", "slot": "2026-01-01T00:00:00.005Z"}
    assert ForecastMessage.model_validate(message.to_body()) == message
    assert message.key == "job-1|2026-01-01T00:00:00.005Z"
