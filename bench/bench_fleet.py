"""Fleet-scale forecasting benchmarks against the deployed local stack (issue #19).

Prints:

1. One batch of ten forecasts in-process (the real adapters: MongoDB, STH, Orion of the stack),
   broken down by step (jobs+models read, leases, running records, STH context + forecast,
   Orion batch update, run outcomes + slot moves + last forecasts, listeners).
2. Forecasts per second through SQS -> the deployed forecast Lambda (N cloned jobs, N messages
   sent at once, timed until every job records a successful run).
3. A sharded scheduler tick over ``--due`` due jobs (seeded in a scratch database): each shard's
   due query + claims, run one after the other in-process as each shard's invocation would; the
   queue counts messages (SQS's send rate is measured by bench_forecasts.py).
4. Predict p50/p95 in-process (handler, warm container) and through API Gateway.

Usage: ``.local/venv/bin/python bench/bench_fleet.py [--forecasts 400] [--due 100000] [--shards 32]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "chronos_core"), str(ROOT), str(ROOT / "bench")]

import httpx  # noqa: E402
from bench_forecasts import STACK, bench_forecasts, bench_predict, token, trained_job  # noqa: E402
from pymongo import MongoClient  # noqa: E402


class Timed:
    """Wraps an adapter; adds the wall time of each method call to ``times[label]``."""

    def __init__(self, inner: Any, label: str, times: dict[str, float]) -> None:
        self._inner, self._label, self._times = inner, label, times

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._times[f"{self._label}.{name}"] += time.perf_counter() - started

        return timed


#: ``--mongodb-uri``: the batch benchmark's database server instead of the stack's (the job and its
#: model are copied there into a scratch database; STH, Orion and the artifacts stay the stack's).
MONGO_OVERRIDE: dict[str, str] = {}


def stack_settings() -> Any:
    from chronos_core.config import Settings

    return Settings(
        mongodb_uri=MONGO_OVERRIDE.get("uri", STACK["MongoDbUri"]),
        mongodb_database=MONGO_OVERRIDE.get("database", STACK["MongoDbDatabase"]),
        sth_url=STACK["SthUrl"],
        orion_url=STACK["OrionUrl"],
        iot_agent_url=STACK["IotAgentUrl"],
    )


def clone_jobs(db: Any, job: dict[str, Any], count: int, tag: str, interval: int = 3600) -> list[str]:
    from chronos_core.domain.forecasting import PredictionConfig, forecast_entity_id
    from chronos_core.domain.ids import JobId

    model = db["models"].find_one({"id": job["model_id"]})
    clones = []
    for _ in range(count):
        clone = {k: v for k, v in job.items() if k not in ("_id", "last_forecast", "next_prediction_at")}
        clone.update(id=str(uuid.uuid4()), bench=tag, next_prediction_at=None)
        clone["prediction_config"] = PredictionConfig(
            enabled=True,
            interval_seconds=interval,
            entity_id=forecast_entity_id(JobId(clone["id"])),
            entity_type="Prediction",
            fiware_service=model["fiware_service"],
            fiware_servicepath=model["fiware_servicepath"],
            source_entity_id=model["entity_id"],
            feature=model["feature"],
        ).model_dump()
        clones.append(clone)
    db["training_jobs"].insert_many(clones)
    return [c["id"] for c in clones]


def bench_batch(db: Any, job: dict[str, Any], batches: int = 5) -> None:
    from chronos_core import bootstrap
    from chronos_core.application.forecasting.commands import ExecuteForecast, ExecuteForecastBatch
    from chronos_core.application.forecasting.worker import execute_forecasts
    from chronos_core.domain.forecasting import ForecastMessage
    from chronos_core.domain.ids import JobId
    from chronos_core.domain.model import utcnow

    tag = uuid.uuid4().hex[:6]
    ids = clone_jobs(db, job, 10 * (batches + 1), tag)
    base = bootstrap.bootstrap(stack_settings())
    times: dict[str, float] = defaultdict(float)
    services = bootstrap.bootstrap(
        stack_settings(),
        jobs=Timed(base.jobs, "jobs", times),
        models=Timed(base.models, "models", times),
        schedule=Timed(base.schedule, "schedule", times),
        series=Timed(base.series, "sth", times),
        forecasters=Timed(base.forecasters, "forecasters", times),
        publisher=Timed(base.publisher, "orion", times),
        forecast_listeners=[Timed(listener, "listeners", times) for listener in base.forecast_listeners],
    )
    totals: list[float] = []
    try:
        for b in range(batches + 1):
            slot = utcnow()
            batch = ExecuteForecastBatch(
                items=tuple(
                    ExecuteForecast(message=ForecastMessage(job_id=JobId(j), slot=slot))
                    for j in ids[b * 10 : b * 10 + 10]
                )
            )
            if b == 0:
                execute_forecasts(services, batch)  # warm: ONNX model loaded, connections open
                times.clear()
                continue
            started = time.perf_counter()
            results = execute_forecasts(services, batch)
            totals.append(time.perf_counter() - started)
            assert all(not isinstance(r, Exception) and r.status == "succeeded" for r in results), results
        mean_total = statistics.fmean(totals) * 1000
        print(
            f"{'batch of ten in-process, total':44} mean={mean_total:7.1f} ms over {batches} batches "
            f"({10 * 1000 / mean_total:5.1f} forecasts/s per worker)"
        )
        for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
            print(f"  {name:42} {seconds / batches * 1000:7.1f} ms per batch (wall, summed over threads)")
    finally:
        cleanup(db, job, ids)


def cleanup(db: Any, job: dict[str, Any], ids: Sequence[str]) -> None:
    from chronos_core.domain.forecasting import forecast_entity_id
    from chronos_core.domain.ids import JobId

    model = db["models"].find_one({"id": job["model_id"]})
    headers = {"Fiware-Service": model["fiware_service"], "Fiware-ServicePath": model["fiware_servicepath"]}
    with httpx.Client(base_url=STACK["OrionUrl"], timeout=10, headers=headers) as orion:
        for job_id in ids:
            orion.delete(f"/v2/entities/{forecast_entity_id(JobId(job_id))}")
    db["training_jobs"].delete_many({"id": {"$in": list(ids)}})
    db["forecast_runs"].delete_many({"job_id": {"$in": list(ids)}})
    db["forecast_log"].delete_many({"job_id": {"$in": list(ids)}})  # as deleting a job does


class CountingQueue:
    def __init__(self) -> None:
        self.sent = 0

    def send(self, messages: Sequence[Any], correlation_id: str) -> list[Any]:
        self.sent += len(messages)
        return []


def bench_sharded_tick(due: int, shards: int) -> None:
    from chronos_core import bootstrap
    from chronos_core.adapters import mongo
    from chronos_core.application.forecasting.commands import ScheduleTick
    from chronos_core.application.forecasting.scheduler import schedule_due
    from chronos_core.config import Settings
    from chronos_core.domain.forecasting import ForecastShard, forecast_bucket
    from chronos_core.domain.model import utcnow

    client = mongo.create_client(STACK["MongoDbUri"], 5000)
    name = f"chronos_bench_{uuid.uuid4().hex[:8]}"
    db = client[name]
    mongo.ensure_indexes(db)
    try:
        now = utcnow()
        started = time.perf_counter()
        for start in range(0, due, 10_000):
            docs = []
            for _ in range(min(10_000, due - start)):
                job_id = str(uuid.uuid4())
                docs.append(
                    {
                        "id": job_id,
                        "model_id": "bench",
                        "status": "completed",
                        "prediction_config": {"enabled": True, "interval_seconds": 3600},
                        "next_prediction_at": now - timedelta(seconds=30),
                        "forecast_bucket": forecast_bucket(job_id),
                    }
                )
            db["training_jobs"].insert_many(docs)
        print(f"{'seeded due jobs':44} {due} in {time.perf_counter() - started:6.1f} s")
        settings = Settings(
            mongodb_database=name, forecast_max_claims_per_tick=5000, forecast_scheduler_shards=shards
        )
        queue = CountingQueue()
        services = bootstrap.bootstrap(settings, database=db, queue=queue)
        per_shard: list[float] = []
        claimed = 0
        tick_now = utcnow()
        for i in range(shards):
            t0 = time.perf_counter()
            result = schedule_due(
                services,
                ScheduleTick(
                    now=tick_now, correlation_id="bench", shard=ForecastShard(index=i, count=shards)
                ),
            )
            per_shard.append(time.perf_counter() - t0)
            claimed += result.claimed
        ms = sorted(s * 1000 for s in per_shard)
        print(
            f"{'sharded tick, ' + str(due) + ' due, ' + str(shards) + ' shards':44} total={sum(per_shard):6.1f} s  "
            f"per shard p50={ms[len(ms) // 2]:7.0f} ms max={ms[-1]:7.0f} ms  claimed={claimed} sent={queue.sent}"
        )
        # The same shard again: everything claimed already, nothing twice.
        t0 = time.perf_counter()
        again = schedule_due(
            services,
            ScheduleTick(now=tick_now, correlation_id="bench", shard=ForecastShard(index=0, count=shards)),
        )
        print(
            f"{'  shard 0 run again (redelivered)':44} {(time.perf_counter() - t0) * 1000:7.0f} ms  claimed={again.claimed}"
        )
    finally:
        client.drop_database(name)
        client.close()


class StepClock:
    """Times what one in-process predict spends where: MongoDB commands (a pymongo command
    listener, by command and collection), HTTP requests (``httpx.Client.send``, by host) and the
    rest (auth, ASGI, pydantic, inference, serialisation). Install before the handler's clients
    are created."""

    def __init__(self) -> None:
        from pymongo import monitoring

        self.times: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        clock = self

        class Listener(monitoring.CommandListener):
            def started(self, event: Any) -> None:
                pass

            def succeeded(self, event: Any) -> None:
                clock.add(f"mongo {event.command_name}", event.duration_micros / 1e6)

            def failed(self, event: Any) -> None:
                clock.add(f"mongo {event.command_name} (failed)", event.duration_micros / 1e6)

        monitoring.register(Listener())
        original = httpx.Client.send

        def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            started = time.perf_counter()
            try:
                return original(client, request, **kwargs)
            finally:
                clock.add(f"http {request.url.host}:{request.url.port}", time.perf_counter() - started)

        httpx.Client.send = send  # type: ignore[method-assign]

    def add(self, name: str, seconds: float) -> None:
        self.times[name] += seconds
        self.counts[name] += 1

    def reset(self) -> None:
        self.times.clear()
        self.counts.clear()


def bench_predict_steps(job: dict[str, Any], clock: StepClock, n: int) -> None:
    """The in-process predict handler ``n`` times (warm), broken down by step per call."""
    import json

    from bench_forecasts import predict_environment, predict_event

    from tests.support.lambda_runtime import FakeLambdaContext, load_handler_module

    predict_environment()
    if MONGO_OVERRIDE:
        os.environ["CHRONOS_MONGODB_URI"] = MONGO_OVERRIDE["uri"]
        os.environ["CHRONOS_MONGODB_DATABASE"] = MONGO_OVERRIDE["database"]
    module = load_handler_module("api")
    event = predict_event(job)
    module.handler(json.loads(json.dumps(event)), FakeLambdaContext())  # cold: loads the ONNX model
    clock.reset()
    totals = []
    for _ in range(n):
        started = time.perf_counter()
        result = module.handler(json.loads(json.dumps(event)), FakeLambdaContext())
        totals.append(time.perf_counter() - started)
        assert result["statusCode"] == 200, result["body"]
    ms = sorted(t * 1000 for t in totals)
    accounted = sum(clock.times.values()) / n * 1000
    print(
        f"{'predict in-process, by step (warm)':44} p50={ms[len(ms) // 2]:6.1f} ms mean={sum(ms) / n:6.1f} ms"
    )
    for name, seconds in sorted(clock.times.items(), key=lambda kv: -kv[1]):
        print(f"  {name:42} {seconds / n * 1000:6.1f} ms per call ({clock.counts[name] / n:.1f} calls)")
    print(f"  {'the rest (auth, ASGI, pydantic, inference)':42} {sum(ms) / n - accounted:6.1f} ms per call")


def invoke_scheduler() -> None:
    """One scheduler invocation (the stack's Lambda, an EventBridge-like event), as its rule would."""
    import json

    from bench_forecasts import aws

    from tests.support.lambda_runtime import load_event

    event = load_event("schedule_forecasts.json")
    event["id"] = str(uuid.uuid4())
    response = aws("lambda").invoke(
        FunctionName=STACK["ScheduleForecastsFunctionName"], Payload=json.dumps(event).encode()
    )
    payload = response["Payload"].read()
    assert "FunctionError" not in response, payload


def bench_soak(db: Any, job: dict[str, Any], jobs: int, minutes: int, settle_s: float = 240) -> None:
    """``jobs`` clones forecasting every minute for ``minutes`` slots; the scheduler invoked at
    each minute (the stack's own rule may fire too: claims are unique per slot). Then the jobs are
    disabled, the runs left to settle, and counted: runs per (job, slot) in ``forecast_runs``,
    entity updates Orion received (the sandbox's request log of ``/v2/op/update``), messages in the
    dead-letter queue, and the lag from slot to the run's ``finished_at`` (written right after the
    Orion batch update)."""
    import json
    from collections import Counter
    from datetime import UTC, datetime

    from bench_forecasts import aws, pct

    from chronos_core.domain.forecasting import forecast_entity_id
    from chronos_core.domain.ids import JobId

    tag = uuid.uuid4().hex[:6]
    first_slot = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    ids = clone_jobs(db, job, jobs, tag, interval=60)
    db["training_jobs"].update_many(
        {"bench": tag},
        {"$set": {"next_prediction_at": first_slot, "prediction_config.follow_champion": False}},
    )
    entities = {forecast_entity_id(JobId(j)): j for j in ids}
    log_since = httpx.get(f"{STACK['SthUrl']}/_sandbox/requests", params={"limit": 1}).json()["last_seq"]
    expected = {first_slot + timedelta(minutes=k) for k in range(minutes)}
    print(f"soak: {jobs} jobs every minute, slots {first_slot:%H:%M}..{max(expected):%H:%M} UTC", flush=True)
    try:
        for slot in sorted(expected):
            time.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()) + 1)
            t0 = time.perf_counter()
            invoke_scheduler()
            done = db["forecast_runs"].count_documents({"job_id": {"$in": ids}, "status": "succeeded"})
            print(
                f"  {slot:%H:%M} scheduler invoked ({time.perf_counter() - t0:4.1f} s); "
                f"succeeded so far {done}",
                flush=True,
            )
        # The last slot is claimed and queued: let it run before the jobs are disabled (a disabled
        # job's queued forecast is skipped by the worker).
        deadline = time.monotonic() + settle_s
        last = max(expected)
        while time.monotonic() < deadline:
            if db["forecast_runs"].count_documents({"job_id": {"$in": ids}, "slot": last}) >= jobs:
                break
            time.sleep(2)
        db["training_jobs"].update_many({"bench": tag}, {"$set": {"prediction_config.enabled": False}})
        settled: list[int] = []
        while time.monotonic() < deadline:
            running = db["forecast_runs"].count_documents({"job_id": {"$in": ids}, "status": "running"})
            settled.append(db["forecast_runs"].count_documents({"job_id": {"$in": ids}}))
            queued = aws("sqs").get_queue_attributes(
                QueueUrl=STACK["ForecastQueueUrl"],
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            backlog = int(queued["ApproximateNumberOfMessages"]) + int(
                queued["ApproximateNumberOfMessagesNotVisible"]
            )
            if running == 0 and backlog == 0 and len(settled) > 5 and settled[-1] == settled[-6]:
                break
            time.sleep(2)
        settle = datetime.now(UTC)
        httpx.post(f"{STACK['OrionUrl']}/_sandbox/drain", params={"timeout": 10})
        runs = list(db["forecast_runs"].find({"job_id": {"$in": ids}}))
        by_status = Counter(r["status"] for r in runs)
        per_key = Counter((r["job_id"], r["slot"]) for r in runs)
        slots = Counter(
            r["slot"].replace(tzinfo=UTC) if r["slot"].tzinfo is None else r["slot"] for r in runs
        )
        in_grid = sum(n for s, n in slots.items() if s in expected)
        missing = jobs * len(expected) - len({k for k in per_key if k[1] in expected})
        log = httpx.get(
            f"{STACK['SthUrl']}/_sandbox/requests",
            params={"component": "orion", "since": log_since, "path_contains": "/v2/op/update"},
        ).json()["requests"]
        received: Counter[str] = Counter()
        received_at: dict[str, list[str]] = defaultdict(list)
        for record in log:
            if record["status"] == 204:
                for entity in record.get("entities") or []:
                    name = entity.split("/")[0]
                    if name in entities:
                        received[name] += 1
                        received_at[name].append(
                            f"{datetime.fromtimestamp(record['time'], UTC):%H:%M:%S.%f}"[:-3]
                            + f" ({len(record['entities'])} in the request, {record['duration_ms']:.0f} ms)"
                        )
        succeeded_per_job = Counter(r["job_id"] for r in runs if r["status"] == "succeeded")
        mismatched = [e for e, j in entities.items() if received[e] != succeeded_per_job[j]]
        for entity in mismatched[:5]:  # what happened to them, for the note
            job_runs = sorted((r for r in runs if r["job_id"] == entities[entity]), key=lambda r: r["slot"])
            print(f"  mismatch {entity} (job {entities[entity]}): runs", flush=True)
            for r in job_runs:
                print(
                    f"    slot {r['slot']:%H:%M} {r['status']} attempts={r.get('attempts')} "
                    f"started={r.get('started_at')} finished={r.get('finished_at')}"
                )
            print("    Orion updates: " + "; ".join(received_at[entity]))
        dlq = aws("sqs").receive_message(
            QueueUrl=STACK["ForecastDeadLetterQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        dead = [m for m in dlq.get("Messages", []) if json.loads(m["Body"]).get("job_id") in set(ids)]
        lags = [
            (r["finished_at"] - r["slot"]).total_seconds()
            for r in runs
            if r["status"] == "succeeded" and r.get("finished_at")
        ]
        print(
            f"  settled at {settle:%H:%M:%S}; runs {dict(by_status)}; runs per (job, slot) max "
            f"{max(per_key.values(), default=0)}; slots of the grid run {in_grid} of "
            f"{jobs * len(expected)} (missing {missing}); runs of other slots "
            f"{sum(per_key.values()) - in_grid}"
        )
        print(
            f"  Orion batch requests {len(log)} (non-204: {sum(r['status'] != 204 for r in log)}); "
            f"entity updates received {sum(received.values())}; jobs whose Orion count != their "
            f"succeeded runs: {len(mismatched)}; fleet messages in the DLQ: {len(dead)}"
        )
        if lags:
            print(
                f"  lag slot -> Orion upsert (run finished_at): p50={pct(lags, 0.5):6.1f} s "
                f"p95={pct(lags, 0.95):6.1f} s max={max(lags):6.1f} s"
            )
        per_slot = sorted(slots.items())
        print("  runs per slot: " + ", ".join(f"{s:%H:%M}={n}" for s, n in per_slot))
    finally:
        cleanup(db, job, ids)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--forecasts", type=int, default=400)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=32)
    parser.add_argument("--predict", type=int, default=100)
    parser.add_argument(
        "--mongodb-uri", help="--only batch/predict-steps on this server (a scratch database)"
    )
    parser.add_argument("--soak-jobs", type=int, default=1000)
    parser.add_argument("--soak-minutes", type=int, default=5)
    parser.add_argument(
        "--only", choices=["batch", "sqs", "tick", "predict", "predict-steps", "soak"], action="append"
    )
    args = parser.parse_args()
    clock = StepClock() if args.only and "predict-steps" in args.only else None
    only = set(args.only or ["batch", "sqs", "tick", "predict"])
    client: MongoClient[dict[str, Any]] = MongoClient(STACK["MongoDbUri"], tz_aware=True)
    db = client[STACK["MongoDbDatabase"]]
    with httpx.Client(
        base_url=STACK["ApiUrl"].rstrip("/"), timeout=60, headers={"Authorization": f"Bearer {token()}"}
    ) as api:
        job = trained_job(db, api) if only - {"tick"} else {}
        if job:
            print(f"job {job['id']} (model {job['model_id']})")
        if args.mongodb_uri and only & {"batch", "predict-steps"}:
            other: MongoClient[dict[str, Any]] = MongoClient(args.mongodb_uri, tz_aware=True)
            name = f"chronos_bench_{uuid.uuid4().hex[:8]}"
            MONGO_OVERRIDE.update(uri=args.mongodb_uri, database=name)
            from chronos_core.adapters import mongo

            mongo.ensure_indexes(other[name])
            # The stack's models and jobs (so the collections are as large as the stack's).
            other[name]["models"].insert_many(list(db["models"].find()))
            other[name]["training_jobs"].insert_many(list(db["training_jobs"].find()))
            from bson import ObjectId

            artifact_ids = [
                ObjectId(v) for v in (job.get("artifacts") or {}).values() if ObjectId.is_valid(v)
            ]
            for suffix, key in (("files", "_id"), ("chunks", "files_id")):
                docs = list(db[f"model_artifacts.{suffix}"].find({key: {"$in": artifact_ids}}))
                if docs:
                    other[name][f"model_artifacts.{suffix}"].insert_many(docs)
            print(
                f"on {args.mongodb_uri} (scratch database {name} with a copy of the stack's "
                f"{other[name]['training_jobs'].estimated_document_count()} jobs; the stack's STH and Orion)"
            )
            try:
                if "batch" in only:
                    bench_batch(other[name], job)
                if clock is not None:
                    bench_predict_steps(job, clock, args.predict)
            finally:
                other.drop_database(name)
                other.close()
                client.close()
            return
        if "batch" in only:
            bench_batch(db, job)
        if "sqs" in only:
            bench_forecasts(db, job, args.forecasts)
        if "predict" in only:
            bench_predict(job, api, args.predict)
        if clock is not None:  # not in the default set: it patches pymongo and httpx globally
            bench_predict_steps(job, clock, args.predict)
        if "soak" in only:  # not in the default set: it takes --soak-minutes plus the settling
            bench_soak(db, job, args.soak_jobs, args.soak_minutes)
    if "tick" in only:
        bench_sharded_tick(args.due, args.shards)
    client.close()


if __name__ == "__main__":
    main()
