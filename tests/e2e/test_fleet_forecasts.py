"""A small fleet through the deployed stack: 50 jobs forecasting every minute for two slots,
scheduler Lambda -> SQS -> batched forecast Lambda -> Orion (``/v2/op/update``) -> STH. Every
(job, slot) is forecast exactly once: one succeeded run in ``forecast_runs`` and one update of
the job's entity that Orion received (counted in STH, fed by a subscription per entity, and in
the sandbox's request log where it lists batch entities), and nothing in the dead-letter queue.

The jobs are clones of one trained job (the newest usable one in the stack, else one trained
with the tiny configuration). The scheduler is invoked at each minute by the test; the stack's
own rule may fire too, which changes nothing (claims are unique per slot).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from chronos_core.adapters.fiware import OrionClient, SthCometClient, notification_subscription
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.forecasting import PredictionConfig
from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import train_tiny
from tests.support.lambda_runtime import load_event

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

JOBS = 50
SLOTS = 2


def aws(stack: dict[str, Any], service: str) -> Any:
    return local_client(service, stack["LocalStackUrl"])


@pytest.fixture(scope="module")
def db(stack: dict[str, Any]) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack["MongoDbUri"], tz_aware=True)
    yield client[stack["MongoDbDatabase"]]
    client.close()


def usable_job(db: Any, api: httpx.Client, sandbox: SandboxControl) -> dict[str, Any]:
    for job in (
        db["training_jobs"]
        .find({"status": "completed", "artifacts.inference": {"$exists": True}, "fleet": {"$exists": False}})
        .sort("created_at", -1)
        .limit(5)
    ):
        if api.post(f"/models/{job['model_id']}/training-jobs/{job['id']}/predict").status_code == 200:
            return dict(job)
    from local.fiware_sandbox.seed import load_taylor

    _, done, _ = train_tiny(api, sandbox, load_taylor(), "fleet")
    return dict(db["training_jobs"].find_one({"id": done["id"]}))


def invoke_scheduler(stack: dict[str, Any]) -> dict[str, Any]:
    event = load_event("schedule_forecasts.json")
    event["id"] = str(uuid.uuid4())
    response = aws(stack, "lambda").invoke(
        FunctionName=stack["ScheduleForecastsFunctionName"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def succeeded_slots(db: Any, ids: list[str]) -> Counter[str]:
    runs = db["forecast_runs"].find({"job_id": {"$in": ids}, "status": "succeeded"}, {"job_id": 1})
    return Counter(d["job_id"] for d in runs)


def most_batches_at_once(runs: list[dict[str, Any]]) -> int:
    """The most worker batches (runs sharing a lease ``batch`` token) whose spans, from their
    first start to their last finish, overlap at one instant."""
    spans: dict[str, list[Any]] = {}
    for run in runs:
        if run.get("batch") and run.get("finished_at"):
            span = spans.setdefault(run["batch"], [run["started_at"], run["finished_at"]])
            span[0], span[1] = min(span[0], run["started_at"]), max(span[1], run["finished_at"])
    edges = sorted([(start, 1) for start, _ in spans.values()] + [(end, -1) for _, end in spans.values()])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def wait_until(probe: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(1)
    raise AssertionError(f"not met within {timeout} s")


def test_every_job_and_slot_is_forecast_exactly_once(
    stack: dict[str, Any], api: httpx.Client, sandbox: SandboxControl, db: Any
) -> None:
    job = usable_job(db, api, sandbox)
    model = db["models"].find_one({"id": job["model_id"]})
    tenant = FiwareTenant(model["fiware_service"], model["fiware_servicepath"])
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    first_slot = now.replace(second=0, microsecond=0)
    clones = []
    for i in range(JOBS):
        clone = {k: v for k, v in job.items() if k not in ("_id", "last_forecast", "next_prediction_at")}
        clone.update(id=str(uuid.uuid4()), fleet=tag, next_prediction_at=first_slot)
        clone["prediction_config"] = PredictionConfig(
            enabled=True,
            interval_seconds=60,
            entity_id=f"urn:ngsi-ld:Chronos:Prediction:fleet{tag}x{i}",
            entity_type="Prediction",
            fiware_service=model["fiware_service"],
            fiware_servicepath=model["fiware_servicepath"],
            source_entity_id=model["entity_id"],
            feature=model["feature"],
            follow_champion=False,
        ).model_dump()
        clones.append(clone)
    ids = [c["id"] for c in clones]
    entities = [c["prediction_config"]["entity_id"] for c in clones]
    orion = OrionClient(stack["OrionUrl"])
    sth = SthCometClient(stack["SthUrl"])
    subscriptions = [
        orion.create_subscription(
            tenant, notification_subscription(e, "Prediction", stack["SthUrl"].rstrip("/") + "/notify")
        )
        for e in entities
    ]
    log_since = httpx.get(f"{stack['SthUrl']}/_sandbox/requests", params={"limit": 1}).json()["last_seq"]
    db["training_jobs"].insert_many(clones)
    try:
        last_slot = first_slot - timedelta(minutes=1)
        for round_ in range(1, SLOTS + 1):
            wait = (last_slot + timedelta(minutes=1) - datetime.now(UTC)).total_seconds()
            time.sleep(max(0.0, wait) + 1)  # the next minute's slot has fallen due
            invoke_scheduler(stack)

            def all_ran(rounds: int = round_) -> bool:
                done = succeeded_slots(db, ids)
                return len(done) == JOBS and min(done.values()) >= rounds

            wait_until(all_ran, 150)
            last_slot = max(
                r["slot"] for r in db["forecast_runs"].find({"job_id": {"$in": ids}}, {"slot": 1})
            )
        db["training_jobs"].update_many({"fleet": tag}, {"$set": {"prediction_config.enabled": False}})
        # A slot the stack's own rule claimed at a minute boundary may still run: wait until the
        # fleet's runs are settled (none running, the count unchanged for 5 s), then until Orion
        # has delivered its notifications to STH.
        settled: list[int] = []

        def quiet() -> bool:
            running = db["forecast_runs"].count_documents({"job_id": {"$in": ids}, "status": "running"})
            settled.append(db["forecast_runs"].count_documents({"job_id": {"$in": ids}}))
            return running == 0 and len(settled) > 5 and settled[-1] == settled[-6]

        wait_until(quiet, 120)
        sandbox_drain = httpx.post(f"{stack['OrionUrl']}/_sandbox/drain", params={"timeout": 10})
        assert sandbox_drain.status_code == 200

        runs = list(db["forecast_runs"].find({"job_id": {"$in": ids}}))
        assert all(r["status"] == "succeeded" for r in runs), [r for r in runs if r["status"] != "succeeded"][
            :3
        ]
        keys = Counter(r["_id"] for r in runs)
        assert set(keys.values()) == {1}
        # Batches ran side by side, as AWS runs up to MaximumConcurrency of them (LocalStack alone
        # runs one at a time; the executor plugin runs the mapping's pollers concurrently).
        assert most_batches_at_once(runs) >= 2
        per_job = Counter(r["job_id"] for r in runs)
        assert set(per_job) == set(ids) and min(per_job.values()) >= SLOTS

        # Orion received one update per (job, slot): STH stored one forecast per run. Orion's
        # notifications to STH are asynchronous, so a run that ended just before the count may
        # still be on its way: compare until they agree (runs re-read each time), then assert.
        def stored_per_entity() -> dict[str, int]:
            return {
                entity: sth.count(
                    tenant, SeriesRef(entity_type="Prediction", entity_id=entity, attribute="forecastSeries")
                )
                for entity in entities
            }

        def runs_per_entity() -> dict[str, int]:
            done = Counter(
                r["job_id"] for r in db["forecast_runs"].find({"job_id": {"$in": ids}, "status": "succeeded"})
            )
            return {entity: done[clone["id"]] for clone, entity in zip(clones, entities, strict=True)}

        seen: dict[str, dict[str, int]] = {}

        def agree() -> bool:
            seen["stored"], seen["runs"] = stored_per_entity(), runs_per_entity()
            return seen["stored"] == seen["runs"]

        with contextlib.suppress(AssertionError):  # the assertion below names the mismatch
            wait_until(agree, 60)
        mismatched = {
            e: (seen["stored"][e], seen["runs"][e]) for e in entities if seen["stored"][e] != seen["runs"][e]
        }
        assert not mismatched, mismatched  # (stored in STH, succeeded runs) per entity
        per_job = Counter(r["job_id"] for r in db["forecast_runs"].find({"job_id": {"$in": ids}}))
        log = httpx.get(
            f"{stack['SthUrl']}/_sandbox/requests",
            params={"component": "orion", "since": log_since, "path_contains": "/v2/op/update"},
        ).json()["requests"]
        assert log and all(r["status"] == 204 for r in log)
        assert len(log) < sum(per_job.values())  # batched: fewer requests than forecasts
        if all("entities" in r for r in log):  # a sandbox that lists batch entities
            named = Counter(e.split("/")[0] for r in log for e in r["entities"])
            assert all(named[e] == per_job[c["id"]] for c, e in zip(clones, entities, strict=True))

        # Nothing of the fleet went to the dead-letter queue.
        dlq = aws(stack, "sqs").receive_message(
            QueueUrl=stack["ForecastDeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        assert not [m for m in dlq.get("Messages", []) if json.loads(m["Body"]).get("job_id") in ids]
    finally:
        for subscription in subscriptions:
            orion.delete_subscription(tenant, subscription)
        for entity in entities:
            orion.delete_entity(tenant, entity, entity_type="Prediction")
        db["training_jobs"].delete_many({"fleet": tag})
        db["forecast_runs"].delete_many({"job_id": {"$in": ids}})
        db["forecast_log"].delete_many({"job_id": {"$in": ids}})
        orion.close()
        sth.close()
