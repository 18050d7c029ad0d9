"""Forecast benchmarks against the deployed local stack (run `local/stack.py up` and `deploy`).

Prints:

1. On-demand predict latency (p50/p95): the API handler in-process (the same Lambda handler,
   API Gateway proxy event, warm container) and through API Gateway in LocalStack.
2. One scheduler tick claiming and enqueueing 1,000 due jobs (seeded directly in a scratch
   database; messages go to a scratch SQS queue in LocalStack, so no forecast runs).
3. Forecasts per second executed by the deployed forecast Lambda from SQS (N cloned jobs of one
   trained job; N messages sent at once; timed until every job records a successful run).

A trained job is taken from the stack's database (the newest completed one whose STH series is
still seeded); if there is none, one is trained first with the tiny e2e configuration.

Usage: ``.local/venv/bin/python bench/bench_forecasts.py [--predict N] [--jobs 1000] [--forecasts 200]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "chronos_core"), str(ROOT)]

import httpx  # noqa: E402
from pymongo import MongoClient  # noqa: E402

from local.stack import local_client  # noqa: E402

STACK = json.loads((ROOT / ".local" / "stack.json").read_text())
SECRET = (ROOT / ".local" / "jwt-secret").read_text().strip()


def aws(service: str) -> Any:
    return local_client(service, STACK["LocalStackUrl"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:44} n={len(ms):4d}  p50={pct(ms, 0.5):7.1f} ms  p95={pct(ms, 0.95):7.1f} ms  "
        f"mean={statistics.fmean(ms):7.1f} ms"
    )


def token() -> str:
    from tests.support.auth import token as mint

    return mint(secret=SECRET, subject="bench")


def trained_job(db: Any, api: httpx.Client) -> dict[str, Any]:
    """The newest completed job whose model's series answers a predict; else train one."""
    for job in (
        db["training_jobs"]
        .find({"status": "completed", "artifacts.inference": {"$exists": True}})
        .sort("created_at", -1)
        .limit(10)
    ):
        response = api.post(f"/models/{job['model_id']}/training-jobs/{job['id']}/predict")
        if response.status_code == 200:
            return dict(job)
    print("no usable trained job: training one (tiny e2e configuration)...", flush=True)
    from local.fiware_sandbox.seed import load_taylor
    from tests.e2e.conftest import SandboxControl
    from tests.e2e.helpers import train_tiny

    _, done, _ = train_tiny(api, SandboxControl.for_stack(STACK), load_taylor(), "bench")
    return dict(db["training_jobs"].find_one({"id": done["id"]}))


# ---------------------------------------------------------------------------------- predict


def predict_environment() -> None:
    """The API handler's environment for in-process calls against the stack."""
    os.environ.update(
        {
            "CHRONOS_MONGODB_URI": STACK["MongoDbUri"],
            "CHRONOS_MONGODB_DATABASE": STACK["MongoDbDatabase"],
            "CHRONOS_STH_URL": STACK["SthUrl"],
            "CHRONOS_ORION_URL": STACK["OrionUrl"],
            "CHRONOS_IOT_AGENT_URL": STACK["IotAgentUrl"],
            "CHRONOS_AUTH_JWT_SECRET": SECRET,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("CHRONOS_AUTH_JWT_SECRET_PARAMETER", None)


def predict_event(job: dict[str, Any]) -> dict[str, Any]:
    """An API Gateway proxy event for ``POST …/training-jobs/{job}/predict``, with a token."""
    from tests.support.lambda_runtime import load_event

    path = f"/models/{job['model_id']}/training-jobs/{job['id']}/predict"
    event = load_event("api_health.json")
    event.update(path=path, httpMethod="POST", body=None, queryStringParameters=None)
    event["multiValueQueryStringParameters"] = None
    event["headers"]["Authorization"] = f"Bearer {token()}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {token()}"]
    event["requestContext"]["path"] = f"/dev{path}"
    event["requestContext"]["httpMethod"] = "POST"
    return dict(event)


def bench_predict(job: dict[str, Any], api: httpx.Client, n: int) -> None:
    predict_environment()
    from tests.support.lambda_runtime import FakeLambdaContext, load_handler_module

    module = load_handler_module("api")
    path = f"/models/{job['model_id']}/training-jobs/{job['id']}/predict"
    event = predict_event(job)

    def call() -> float:
        started = time.perf_counter()
        result = module.handler(json.loads(json.dumps(event)), FakeLambdaContext())
        elapsed = time.perf_counter() - started
        assert result["statusCode"] == 200, result["body"]
        return elapsed

    cold = call()
    print(f"{'predict, handler in-process (first call)':44} {cold * 1000:7.1f} ms (loads the ONNX model)")
    summary("predict, handler in-process (warm)", [call() for _ in range(n)])

    def gateway() -> float:
        started = time.perf_counter()
        response = api.post(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed

    for _ in range(3):
        gateway()  # warm the Lambda workers
    summary("predict, through API Gateway (LocalStack)", [gateway() for _ in range(n)])


# ------------------------------------------------------------------------------------- tick


def bench_tick(jobs: int, repeats: int = 3) -> None:
    from chronos_core import bootstrap
    from chronos_core.adapters import mongo
    from chronos_core.adapters.sqs import SqsForecastQueue
    from chronos_core.application.forecasting.commands import ScheduleTick
    from chronos_core.application.forecasting.scheduler import schedule_due
    from chronos_core.config import Settings
    from chronos_core.domain.model import utcnow

    client = mongo.create_client(STACK["MongoDbUri"], 5000)
    sqs = aws("sqs")
    for run in range(repeats):
        name = f"chronos_bench_{uuid.uuid4().hex[:8]}"
        db = client[name]
        mongo.ensure_indexes(db)
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        try:
            settings = Settings(mongodb_database=name, forecast_max_claims_per_tick=max(jobs, 5000))
            now = utcnow()
            db["training_jobs"].insert_many(
                [
                    {
                        "id": str(uuid.uuid4()),
                        "model_id": "bench",
                        "status": "completed",
                        "prediction_config": {"enabled": True, "interval_seconds": 60},
                        "next_prediction_at": now - timedelta(seconds=30),
                    }
                    for _ in range(jobs)
                ]
            )
            started = time.perf_counter()
            queue = SqsForecastQueue(
                sqs, queue_url, settings.forecast_send_concurrency, settings.forecast_retry_delay_seconds
            )
            services = bootstrap.bootstrap(settings, database=db, queue=queue)
            result = schedule_due(services, ScheduleTick(now=utcnow(), correlation_id="bench"))
            elapsed = time.perf_counter() - started
            attrs = sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            queued = int(attrs["Attributes"]["ApproximateNumberOfMessages"])
            print(
                f"{'scheduler tick, ' + str(jobs) + ' due jobs (run ' + str(run + 1) + ')':44} "
                f"{elapsed:7.2f} s   claimed={result.claimed} enqueued={result.enqueued} in queue={queued}"
            )
        finally:
            sqs.delete_queue(QueueUrl=queue_url)
            client.drop_database(name)
    client.close()


# -------------------------------------------------------------------------------- forecasts


def bench_forecasts(db: Any, job: dict[str, Any], count: int) -> None:
    from chronos_core.domain.forecasting import ForecastMessage, PredictionConfig, forecast_entity_id
    from chronos_core.domain.ids import JobId
    from chronos_core.domain.model import utcnow

    model = db["models"].find_one({"id": job["model_id"]})
    tag = uuid.uuid4().hex[:6]
    clones = []
    for _ in range(count):
        clone = {k: v for k, v in job.items() if k not in ("_id", "last_forecast", "next_prediction_at")}
        clone["id"] = str(uuid.uuid4())
        clone["bench"] = tag
        clone["prediction_config"] = PredictionConfig(
            enabled=True,
            interval_seconds=3600,
            entity_id=forecast_entity_id(JobId(clone["id"])),
            entity_type="Prediction",
            fiware_service=model["fiware_service"],
            fiware_servicepath=model["fiware_servicepath"],
            source_entity_id=model["entity_id"],
            feature=model["feature"],
        ).model_dump()
        clone["next_prediction_at"] = None  # not scheduled: only the messages below run them
        clones.append(clone)
    db["training_jobs"].insert_many(clones)
    sqs = aws("sqs")
    slot = utcnow()
    ids = [c["id"] for c in clones]
    try:
        started = time.perf_counter()
        for i in range(0, count, 10):
            sqs.send_message_batch(
                QueueUrl=STACK["ForecastQueueUrl"],
                Entries=[
                    {
                        "Id": str(k),
                        "MessageBody": json.dumps(ForecastMessage(job_id=JobId(job_id), slot=slot).to_body()),
                    }
                    for k, job_id in enumerate(ids[i : i + 10])
                ],
            )
        done = 0
        deadline = time.monotonic() + 600
        # Counted in forecast_runs (small documents, the slot is this run's own): polling the
        # cloned job documents (9 KB each) cost FerretDB more CPU than the workers did.
        while time.monotonic() < deadline:
            done = db["forecast_runs"].count_documents({"slot": slot, "status": "succeeded"})
            if done >= count:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        time.sleep(2)  # the runs' final records on their jobs follow their run outcomes
        recorded = db["training_jobs"].count_documents({"bench": tag, "last_forecast.status": "succeeded"})
        failed = db["training_jobs"].count_documents({"bench": tag, "last_forecast.status": "failed"})
        print(
            f"{'forecast Lambda from SQS, ' + str(count) + ' messages':44} {elapsed:7.2f} s   "
            f"{done / elapsed:6.1f} forecasts/s   (runs succeeded={done}; on their jobs: "
            f"succeeded={recorded} failed={failed})"
        )
    finally:
        headers = {
            "Fiware-Service": model["fiware_service"],
            "Fiware-ServicePath": model["fiware_servicepath"],
        }
        with httpx.Client(base_url=STACK["OrionUrl"], timeout=10, headers=headers) as orion:
            for job_id in ids:
                orion.delete(f"/v2/entities/{forecast_entity_id(JobId(job_id))}")
        db["training_jobs"].delete_many({"bench": tag})
        db["forecast_runs"].delete_many({"job_id": {"$in": ids}})
        db["forecast_log"].delete_many({"job_id": {"$in": ids}})  # as deleting a job does


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predict", type=int, default=100, help="predict calls per path")
    parser.add_argument("--jobs", type=int, default=1000, help="due jobs in the scheduler tick")
    parser.add_argument("--forecasts", type=int, default=200, help="messages for the forecast Lambda")
    args = parser.parse_args()
    client: MongoClient[dict[str, Any]] = MongoClient(STACK["MongoDbUri"], tz_aware=True)
    db = client[STACK["MongoDbDatabase"]]
    with httpx.Client(
        base_url=STACK["ApiUrl"].rstrip("/"), timeout=60, headers={"Authorization": f"Bearer {token()}"}
    ) as api:
        job = trained_job(db, api)
        print(f"job {job['id']} (model {job['model_id']})")
        bench_predict(job, api, args.predict)
    bench_tick(args.jobs)
    bench_forecasts(db, job, args.forecasts)
    client.close()


if __name__ == "__main__":
    main()
