"""Collection from STH-Comet through the deployed state machine: the adaptive client (the
template's defaults) against the fixed settings shipped before it, with the sandbox STH's cost
model on (calibrated on a real STH-Comet 2.11: ~2 s a page at 20,000 documents, a pool of 5, a
database running 1.6 queries at full speed, queries that outlive their client) and off.

For each series size and configuration it redeploys the stack with that configuration, trains a
1-epoch GRU on the whole series and reports: the collect phase's points per second, the most
queries the server held at once (and queued), the requests the server's database saw (retries
included) against the pages the series needs, and the requests abandoned by their client. A run
that has not finished collecting after ``--cap`` seconds is cancelled and reported with the rate
it had reached. The stack is redeployed with its defaults at the end.

Needs the stack up and deployed (``make bench`` does it):

    PYTHONPATH=layers/chronos_core:. .local/venv/bin/python bench/bench_sth_collection.py \\
        [--points 20000 100000] [--cost on off] [--cap 420]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVICE, SERVICEPATH = "bench", "/collection"
PAGE = 100
COST = {
    "sth_cost_model": True,
    "sth_cost_ms_per_document": 0.09,
    "sth_cost_ms_per_skipped": 0.02,
    "sth_query_pool_size": 5,
    "sth_db_parallelism": 1.6,
}


@dataclass(frozen=True)
class Configuration:
    name: str
    environment: dict[str, str]


CONFIGURATIONS = [
    Configuration("adaptive (defaults)", {}),
    Configuration(
        "fixed, former defaults: 8 pages x 4 chunks, 10 s",
        {
            "CHRONOS_STH_ADAPTIVE": "false",
            "CHRONOS_STH_PAGING": "offset",
            "CHRONOS_STH_PAGE_CONCURRENCY": "8",
            "CHRONOS_FIWARE_TIMEOUT_SECONDS": "10",
            "CHRONOS_FIWARE_MAX_ATTEMPTS": "4",
            "CHRONOS_MAP_MAX_CONCURRENCY": "4",
        },
    ),
    Configuration(
        "fixed, best measured: 2 pages x 2 chunks, 10 s",
        {
            "CHRONOS_STH_ADAPTIVE": "false",
            "CHRONOS_STH_PAGING": "offset",
            "CHRONOS_STH_PAGE_CONCURRENCY": "2",
            "CHRONOS_FIWARE_TIMEOUT_SECONDS": "10",
            "CHRONOS_FIWARE_MAX_ATTEMPTS": "4",
            "CHRONOS_MAP_MAX_CONCURRENCY": "2",
        },
    ),
]
ALL_SETTINGS = sorted({key for c in CONFIGURATIONS for key in c.environment})


def token() -> str:
    result = subprocess.run(
        [sys.executable, "local/mint_token.py", "--role", "admin", "--tenant", "*"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def deploy(environment: dict[str, str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ALL_SETTINGS}
    env.update(environment)
    subprocess.run(
        [sys.executable, "local/stack.py", "deploy"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return dict(json.loads((ROOT / ".local" / "stack.json").read_text()))


class Sth:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=600)

    def seed(self, entity_id: str, points: int) -> None:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        rows = [
            {
                "recvTime": (start + timedelta(minutes=i, milliseconds=137))
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "attrValue": f"{20 + 5 * math.sin(2 * math.pi * i / 1440):.3f}",
            }
            for i in range(points)
        ]
        self.http.post(
            "/_sandbox/sth/seed",
            json={
                "service": SERVICE,
                "servicepath": SERVICEPATH,
                "entity_id": entity_id,
                "entity_type": "Thermometer",
                "attr_name": "temperature",
                "attr_type": "Number",
                "points": rows,
                "replace": True,
            },
        ).raise_for_status()

    def cost(self, on: bool) -> None:
        if on:
            self.http.post("/_sandbox/faults", json=COST).raise_for_status()
        else:
            self.http.delete("/_sandbox/faults").raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get("/_sandbox/sth/stats").json())

    def reset(self) -> None:
        self.http.delete("/_sandbox/sth/stats").raise_for_status()

    def settle(self, timeout: float = 300) -> None:
        """Wait for the queries abandoned by a failed run to finish (real STH keeps them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["in_flight"] == 0 and stats["queued"] == 0:
                return
            time.sleep(1)


def run(api: httpx.Client, sth: Sth, entity_id: str, points: int, cap: float) -> dict[str, Any]:
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
    sth.reset()
    started = time.monotonic()
    response = api.post(f"/models/{model['id']}/training-jobs", json={"last_n": points})
    if response.status_code != 202:
        return {"outcome": f"admission {response.status_code}", "rate": 0.0, "stats": sth.stats()}
    job = response.json()
    url = f"/models/{model['id']}/training-jobs/{job['id']}"
    outcome = "cancelled at the cap"
    last: dict[str, Any] = job
    while time.monotonic() - started < cap:
        last = api.get(url).json()
        if last["status"] not in ("pending", "collecting_data"):
            outcome = "collected"
            break
        time.sleep(1)
    stats = sth.stats()
    if last["status"] in ("pending", "collecting_data"):
        api.post(url + "/cancel")
    elapsed = time.monotonic() - started
    collect = (last.get("phases") or {}).get("collect") or {}
    seconds = collect.get("seconds") or elapsed
    collected = last["progress"]["points_collected"]
    if last["status"] == "failed":
        outcome = f"failed: {last['error']['error']} ({collected} points)"
    final = api.get(url).json()
    while (
        final["status"] not in ("completed", "failed", "cancelled") and time.monotonic() - started < cap + 300
    ):
        time.sleep(2)
        final = api.get(url).json()
    api.delete(f"/models/{model['id']}")
    return {
        "outcome": outcome,
        "rate": collected / seconds if seconds else 0.0,
        "seconds": seconds,
        "collected": collected,
        "stats": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--cost", choices=["on", "off"], nargs="+", default=["on", "off"])
    parser.add_argument("--cap", type=float, default=420.0, help="seconds a run may collect")
    parser.add_argument(
        "--configurations",
        type=int,
        nargs="+",
        default=list(range(len(CONFIGURATIONS))),
        help="which rows of CONFIGURATIONS to run (0 = adaptive)",
    )
    args = parser.parse_args()
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    if "sth" in stack.get("FiwareExternal", []):
        raise SystemExit("the stack's STH-Comet is external: this benchmark needs the sandbox's cost model")
    sth = Sth(stack["SthUrl"])
    entities = {}
    for points in args.points:
        entities[points] = f"urn:ngsi-ld:Thermometer:collect-{points}-{uuid.uuid4().hex[:6]}"
        sth.seed(entities[points], points)
    print(
        f"{'points':>7} {'cost':>4}  {'configuration':<48} {'points/s':>9} {'s':>6} "
        f"{'peak':>4} {'queue':>5} {'requests':>8} {'pages':>6} {'extra':>6} {'abandoned':>9}  outcome"
    )
    try:
        for configuration in (CONFIGURATIONS[i] for i in args.configurations):
            stack = deploy(configuration.environment)
            headers = {"Authorization": f"Bearer {token()}"}
            with httpx.Client(base_url=stack["ApiUrl"], headers=headers, timeout=60) as api:
                for points in args.points:
                    for cost in args.cost:
                        sth.cost(cost == "on")
                        sth.settle()
                        result = run(api, sth, entities[points], points, args.cap)
                        sth.cost(False)
                        stats = result["stats"]
                        pages = math.ceil(points / PAGE)
                        extra = stats["raw_requests"] / pages - 1
                        print(
                            f"{points:>7} {cost:>4}  {configuration.name:<48} {result['rate']:>9,.0f} "
                            f"{result.get('seconds', 0):>6.0f} {stats['peak_in_flight']:>4} {stats['peak_queued']:>5} "
                            f"{stats['raw_requests']:>8} {pages:>6} {extra:>+6.0%} {stats['abandoned']:>9}  "
                            f"{result['outcome']}",
                            flush=True,
                        )
    finally:
        sth.cost(False)
        deploy({})


if __name__ == "__main__":
    main()
