"""Walking-skeleton figures: services-up time, deploy time, and GET /models/{id} latency
through API Gateway in LocalStack and through the handler called in-process.

Run with `make bench` (or `.local/venv/bin/python bench/bench_api.py` with the stack down).
It stops the stack first so that the services-up time is a cold start of every service.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "chronos_core"), str(ROOT)]
PY = str(ROOT / ".local" / "venv" / "bin" / "python")
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[94] * 1000


def model_body() -> dict[str, Any]:
    return {
        "model_type": "lstm",
        "rnn_layers": [{"units": 32}],
        "feature": "temperature",
        "entity_type": "Room",
        "entity_id": "urn:ngsi-ld:Room:bench",
        "fiware_service": "bench",
    }


def main() -> None:
    subprocess.run([PY, "local/stack.py", "down"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    up_s = timed([PY, "local/stack.py", "up"])
    deploy_s = timed([PY, "local/stack.py", "deploy"])
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())

    from tests.support.auth import bearer

    secret = (ROOT / ".local" / "jwt-secret").read_text().strip()
    headers = bearer(secret=secret, subject="bench")
    with httpx.Client(base_url=stack["ApiUrl"], timeout=60, headers=headers) as api:
        model_id = api.post("/models/", json=model_body()).json()["id"]
        cold_started = time.perf_counter()
        api.get(f"/models/{model_id}").raise_for_status()
        first_s = time.perf_counter() - cold_started
        for _ in range(10):
            api.get(f"/models/{model_id}")
        gateway: list[float] = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            response = api.get(f"/models/{model_id}")
            gateway.append(time.perf_counter() - started)
            assert response.status_code == 200

    os.environ["CHRONOS_MONGODB_URI"] = stack["MongoDbUri"]
    os.environ["CHRONOS_MONGODB_DATABASE"] = stack["MongoDbDatabase"]
    os.environ["CHRONOS_AUTH_JWT_SECRET"] = secret
    from tests.support.lambda_runtime import FakeLambdaContext, load_event, load_handler_module

    handler = load_handler_module("api").handler
    event = load_event("api_get_model_missing.json")
    event["path"] = f"/models/{model_id}"
    event["pathParameters"] = {"proxy": f"models/{model_id}"}
    event["headers"]["Authorization"] = headers["Authorization"]
    event["multiValueHeaders"]["Authorization"] = [headers["Authorization"]]
    for _ in range(10):
        handler(event, FakeLambdaContext())
    in_process: list[float] = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        result = handler(event, FakeLambdaContext())
        in_process.append(time.perf_counter() - started)
        assert result["statusCode"] == 200

    gw50, gw95 = percentiles(gateway)
    ip50, ip95 = percentiles(in_process)
    print(f"services up (FerretDB, FIWARE sandbox, LocalStack), cold: {up_s:.1f} s")
    print(
        f"deploy (sam build + sam deploy into LocalStack):      {deploy_s:.1f} s "
        f"(build {stack['BuildSeconds']} s, deploy {stack['DeploySeconds']} s)"
    )
    print(f"first GET /models/{{id}} after deploy (cold worker):   {first_s * 1000:.0f} ms")
    print(
        f"GET /models/{{id}} via API Gateway in LocalStack:      p50 {gw50:.1f} ms  p95 {gw95:.1f} ms  (n={REQUESTS})"
    )
    print(
        f"GET /models/{{id}} via handler in-process:             p50 {ip50:.2f} ms  p95 {ip95:.2f} ms  (n={REQUESTS})"
    )


if __name__ == "__main__":
    main()
