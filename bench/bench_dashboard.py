"""The dashboard's bundle size (gzipped) and its time to first chart on the deployed local stack.

    .local/venv/bin/python bench/bench_dashboard.py [--runs 5]

Bundle: every file of the build (functions/api/dashboard), raw and gzip -9. Time to first chart:
headless Debian chromium opens the forecasts page of the newest completed training job that can
forecast (asked once through the API first, so the forecast Lambda is warm; signed in by a token
put in sessionStorage, so the IdP's page is not timed) and waits until uPlot has drawn; the time runs from navigation start (cold: a new browser context each run, nothing cached)
and includes config.json, the model and job reads, the on-demand forecast and the history.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "chronos_core")]

from chronos_core.adapters.jwt_verifier import mint_token  # noqa: E402
from tests.e2e.dashboard_support import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

BUILD = ROOT / "functions" / "api" / "dashboard"


def bundle() -> None:
    total_raw = total_gz = 0
    for path in sorted(p for p in BUILD.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        gz = len(gzip.compress(raw, 9))
        total_raw += len(raw)
        total_gz += gz
        print(f"{path.relative_to(BUILD)!s:40} {len(raw) / 1024:8.1f} KiB  gzip {gz / 1024:7.1f} KiB")
    print(f"{'total':40} {total_raw / 1024:8.1f} KiB  gzip {total_gz / 1024:7.1f} KiB")


def first_chart(runs: int) -> None:
    from playwright.sync_api import sync_playwright

    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    token = mint_token(
        secret=(ROOT / ".local" / "jwt-secret").read_text().strip(),
        subject="bench",
        roles=["operator"],
        tenants=["*"],
        issuer="chronos-local",
        audience="chronos",
    )
    api = httpx.Client(base_url=stack["ApiUrl"], headers={"Authorization": f"Bearer {token}"}, timeout=60)
    target = None
    # The newest completed job that can forecast now (on a shared stack, other tests' series
    # come and go): its on-demand forecast is asked for once here, so the Lambda is warm.
    for model in api.get("/models/", params={"status": "trained", "limit": 20}).json()["items"]:
        jobs = api.get(f"/models/{model['id']}/training-jobs", params={"limit": 5}).json()["items"]
        done = [j for j in jobs if j["status"] == "completed"]
        if (
            done
            and api.post(f"/models/{model['id']}/training-jobs/{done[0]['id']}/predict").status_code == 200
        ):
            target = f"models/{model['id']}/jobs/{done[0]['id']}/forecasts"
            break
    if target is None:
        raise SystemExit(
            "no completed training job that forecasts on the stack: run the demo or the dashboard e2e test first"
        )
    print(f"page: {target}")
    url = stack["DashboardUrl"] + target
    tokens = json.dumps({"access_token": token, "expires_at": 0})
    seconds = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for _ in range(runs):
            context = browser.new_context()
            context.add_init_script(f"sessionStorage.setItem('chronos.tokens', {json.dumps(tokens)})")
            page = context.new_page()
            page.goto(url)
            try:
                page.wait_for_function("() => (window.chronosCharts || []).length > 0", timeout=60_000)
            except Exception:
                raise SystemExit(
                    f"no chart within 60 s; the page shows: {page.inner_text('main')[:500]}"
                ) from None
            seconds.append(page.evaluate("() => performance.now()") / 1000)
            context.close()
        browser.close()
    print(f"time to first chart ({runs} cold runs): median {statistics.median(seconds):.2f} s, "
          f"min {min(seconds):.2f} s, max {max(seconds):.2f} s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bundle-only", action="store_true")
    args = parser.parse_args()
    bundle()
    if not args.bundle_only:
        first_chart(args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
