"""Training pipeline throughput: collect and prepare 100,000 points through the deployed state
machine in LocalStack (sandbox STH-Comet, Map over S3-checkpointed chunks), then train a small
network, and report the time per phase.

Needs the stack up and deployed (`make bench` does it). Prints its figures.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
POINTS = int(os.environ.get("BENCH_PIPELINE_POINTS", "100000"))
SERVICE, SERVICEPATH = "bench", "/pipeline"


def token() -> str:
    result = subprocess.run(
        [sys.executable, "local/mint_token.py", "--role", "admin", "--tenant", "*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def seed(sth_url: str, entity_id: str) -> None:
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    points = [
        {
            "recvTime": (start + timedelta(minutes=i, milliseconds=rng.randint(20, 900)))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "attrValue": f"{20 + 5 * math.sin(2 * math.pi * i / 1440) + rng.gauss(0, 0.5):.3f}",
        }
        for i in range(POINTS)
    ]
    response = httpx.post(
        f"{sth_url}/_sandbox/sth/seed",
        json={
            "service": SERVICE,
            "servicepath": SERVICEPATH,
            "entity_id": entity_id,
            "entity_type": "Thermometer",
            "attr_name": "temperature",
            "attr_type": "Number",
            "points": points,
            "replace": True,
        },
        timeout=300,
    )
    response.raise_for_status()


def main() -> None:
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    if "sth" in stack.get("FiwareExternal", []):
        raise SystemExit(
            f"the stack's STH-Comet {stack['SthUrl']} is external (CHRONOS_STH_URL): this benchmark seeds "
            "its series through the sandbox's /_sandbox API; deploy without CHRONOS_STH_URL"
        )
    entity_id = f"urn:ngsi-ld:Thermometer:bench-{uuid.uuid4().hex[:6]}"
    seed(stack["SthUrl"], entity_id)
    headers = {"Authorization": f"Bearer {token()}"}
    with httpx.Client(base_url=stack["ApiUrl"], headers=headers, timeout=60) as api:
        model = api.post(
            "/models/",
            json={
                "model_type": "gru",
                "rnn_layers": [{"units": 8, "dropout": 0.0}],
                "dense_layers": [],
                "lookback_window": 24,
                "forecast_horizon": 1,
                "epochs": 1,
                "batch_size": 512,
                "feature": "temperature",
                "entity_type": "Thermometer",
                "entity_id": entity_id,
                "fiware_service": SERVICE,
                "fiware_servicepath": SERVICEPATH,
            },
        ).json()
        started = time.perf_counter()
        job = api.post(f"/models/{model['id']}/training-jobs", json={"last_n": POINTS}).json()
        prepared_at: float | None = None
        last: dict[str, Any] = job
        while True:
            last = api.get(f"/models/{model['id']}/training-jobs/{job['id']}").json()
            if prepared_at is None and last["status"] in ("queued", "training", "completed"):
                prepared_at = time.perf_counter()
            if last["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.5)
        total = time.perf_counter() - started
    if last["status"] != "completed":
        raise SystemExit(f"pipeline did not complete: {last['status']} {last['error']}")
    phases = {name: timing["seconds"] for name, timing in last["phases"].items()}
    collect_prepare = phases["collect"] + phases["prepare"]
    print(f"points: {POINTS} in {last['progress']['chunks_total']} chunks")
    print(
        f"collect + prepare: {collect_prepare:.1f} s -> {POINTS / collect_prepare:,.0f} points/s "
        f"(API request to 'queued': {prepared_at - started if prepared_at else float('nan'):.1f} s)"
    )
    for name in ("collect", "prepare", "train", "finalize"):
        print(f"  phase {name:<9} {phases[name]:.2f} s")
    created = datetime.fromisoformat(last["created_at"].replace("Z", "+00:00"))
    collect_started = datetime.fromisoformat(last["phases"]["collect"]["started_at"].replace("Z", "+00:00"))
    print(
        f"  job created -> collection started: {(collect_started - created).total_seconds():.1f} s (Step Functions start, Plan)"
    )
    print(f"end to end (POST to completed, 1-epoch GRU-8): {total:.1f} s")


if __name__ == "__main__":
    main()
