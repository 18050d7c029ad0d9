"""Throughput of one anomaly scan through the deployed state machine (run `local/stack.py up` and
`deploy` first; uses the FIWARE sandbox's control API to seed the series).

A fresh entity gets ``--points`` half-hourly readings (a daily sine with noise); a tiny model is
trained through the stack on its last 3,000 points; then ``POST /models/{id}/anomaly-scans`` scans
every reading (``publish: false``) and the scan is polled to the end. Printed: points scored,
chunks, the scan's phase timings, and points per second over the scan's score phase and end to
end (admission to completion), and the STH requests the scan made and the most the sandbox held at
once. ``--sth-max-page-size`` sets the sandbox STH's ``MAX_PAGE_SIZE`` for the run (100 like a
default STH-Comet when not given); ``--sth-cost`` turns its cost model on (a real STH's latency).

Usage: python bench/bench_anomaly_deployed.py [--points N] [--sth-max-page-size N] [--sth-cost]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "chronos_core"), str(ROOT)]

import httpx  # noqa: E402

from tests.e2e.conftest import SandboxControl  # noqa: E402
from tests.e2e.helpers import FINISHED, create_model, seed_series, start, wait_for  # noqa: E402
from tests.support.auth import token  # noqa: E402

STACK = json.loads((ROOT / ".local" / "stack.json").read_text())
SECRET = (ROOT / ".local" / "jwt-secret").read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--sth-max-page-size", type=int, default=None)
    parser.add_argument("--sth-cost", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    i = np.arange(args.points)
    values = [
        round(float(v), 3) for v in 10 + 3 * np.sin(2 * math.pi * i / 48) + 0.2 * rng.standard_normal(i.size)
    ]
    sandbox = SandboxControl.for_stack(STACK)
    headers = {"Authorization": f"Bearer {token(['admin'], ['*'], secret=SECRET, subject='bench')}"}
    with httpx.Client(base_url=STACK["ApiUrl"].rstrip("/"), timeout=60, headers=headers) as api:
        entity_id = seed_series(sandbox, values, "bench")
        model = create_model(api, entity_id, lookback_window=48, forecast_horizon=6)
        job = start(api, model["id"], last_n=3000)
        done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED, timeout=600)
        assert done["status"] == "completed", done["error"]
        faults: dict[str, object] = {}
        if args.sth_max_page_size:
            faults["sth_max_page_size"] = args.sth_max_page_size
        if args.sth_cost:
            faults["sth_cost_model"] = True
        if faults:
            sandbox.faults(**faults)
        sandbox.reset_sth_stats()
        t0 = time.monotonic()
        response = api.post(
            f"/models/{model['id']}/anomaly-scans", json={"last_n": args.points, "publish": False}
        )
        response.raise_for_status()
        scan = response.json()
        while scan["status"] in {"pending", "queued", "running"}:
            time.sleep(1)
            scan = api.get(f"/models/{model['id']}/anomaly-scans/{scan['id']}").json()
        wall = time.monotonic() - t0
        stats = sandbox.sth_stats()
        if faults:
            sandbox.clear_faults()
    p = scan["progress"]
    phases = {k: v["seconds"] for k, v in scan["phases"].items()}
    print(f"status {scan['status']}, {p['points_scored']} points scored in {p['chunks_total']} chunks")
    print(f"phases (s): {phases}; end to end {wall:.1f} s")
    print(
        f"STH max page size {args.sth_max_page_size or 'default'}, cost model {'on' if args.sth_cost else 'off'}: "
        f"{stats.get('raw_requests')} raw requests, peak {stats.get('peak_in_flight')} in flight, "
        f"{stats.get('abandoned')} abandoned"
    )
    print(
        f"points/s: {p['points_scored'] / max(phases.get('score') or wall, 1e-9):,.0f} over the score phase "
        f"(STH reads included), {p['points_scored'] / wall:,.0f} end to end"
    )


if __name__ == "__main__":
    main()
