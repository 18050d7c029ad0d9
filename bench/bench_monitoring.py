"""Monitoring benchmarks.

Prints:

1. **One evaluation tick over 1,000 rules** (target <= 5 s), in-process: the evaluator's use case
   (``evaluate_due``) on the real MongoDB monitoring stores (a scratch database on the local
   FerretDB) reading a FIWARE sandbox STH-Comet started for the benchmark over HTTP. 100 models,
   each on its own seeded series (300 readings every 10 min), carry ten rules each: four
   observed thresholds, two staleness, two input drift (KS and PSI), one predicted crossing (a
   published forecast is logged per job) and one live accuracy. Three ticks on successive
   evaluation slots: the first also reads every drift reference once.
2. **Firing to webhook receipt** (p50/p95) through the deployed stack (``--stack``): an
   observed-threshold rule that breaches, the evaluator Lambda invoked directly, the notification
   queue and the deliverer Lambda, a receiver on this host. Measured from the invocation of the
   tick to the receipt of the signed POST, one alert at a time (``--firings`` of them), and for a
   burst of ``--burst`` rules firing in the same tick (the last receipt).

Usage: ``.local/venv/bin/python bench/bench_monitoring.py [--rules 1000] [--ticks 3]
[--stack --firings 20 --burst 50]`` (``MONGODB_URI`` defaults to the local FerretDB).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "chronos_core"), str(ROOT)]

import numpy as np  # noqa: E402
from pymongo import MongoClient  # noqa: E402

from chronos_core.adapters.fiware import SthCometClient  # noqa: E402
from chronos_core.adapters.fiware.series_source import SthObservedSeries  # noqa: E402
from chronos_core.application.monitoring.commands import EvaluationTick  # noqa: E402
from chronos_core.application.monitoring.evaluation import evaluate_due  # noqa: E402
from chronos_core.application.monitoring.settings import MonitoringSettings  # noqa: E402
from chronos_core.domain.forecasting import ForecastPoint  # noqa: E402
from chronos_core.domain.live_metrics import PublishedForecast  # noqa: E402
from chronos_core.domain.model import ServingSummary  # noqa: E402
from chronos_core.domain.monitoring import RuleDraft, build_rule  # noqa: E402
from local.fiware_sandbox.testing import start_sandbox  # noqa: E402
from tests.support.app import mongo_services  # noqa: E402
from tests.support.builders import data_quality, model, prediction_config, trained_job  # noqa: E402
from tests.support.fakes import FakeObservedSeries, RecordingRetrainTrigger  # noqa: E402
from tests.support.monitoring import webhook_channel  # noqa: E402

INTERVAL = 600.0
READINGS = 300
SERVICE, SERVICEPATH = "energy", "/bench"


def iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


# ------------------------------------------------------------------------------ tick, in-process


def rule_drafts(model_id: str, level: float, channel_id: str) -> list[dict[str, Any]]:
    """Ten rules on one model; the first threshold is breached (it fires and notifies)."""
    common = {"model_id": model_id}
    return [
        {**common, "type": "observed_threshold", "params": {"threshold": level - 5}, "channels": [channel_id]},
        {**common, "type": "observed_threshold", "params": {"threshold": level + 50}},
        {**common, "type": "observed_threshold", "params": {"threshold": level - 50, "direction": "below"}},
        {**common, "type": "observed_threshold", "params": {"threshold": level, "aggregation": "mean",
                                                            "window_points": 12}},
        {**common, "type": "staleness", "params": {"factor": 3}},
        {**common, "type": "staleness", "params": {"factor": 1.5, "interval_seconds": 600}},
        {**common, "type": "input_drift", "params": {"test": "ks", "reference_points": 200}},
        {**common, "type": "input_drift", "params": {"test": "psi", "reference_points": 200}},
        {**common, "type": "predicted_crossing", "params": {"threshold": level + 2}},
        {**common, "type": "live_accuracy", "params": {"metric": "mae", "min_scored": 3}},
    ]  # fmt: skip


def bench_tick(rule_count: int, ticks: int, sth: str, retraining: str = "real") -> None:
    """``sth``: ``sandbox`` (HTTP to a sandbox STH-Comet) or ``memory`` (the same points served
    by an in-memory double: what the tick costs Chronos itself). ``retraining``: ``real`` (a
    firing drift or live-accuracy rule asks the retraining capability, as deployed; the bench's
    models have no policy, so each such firing is recorded ``skipped``) or ``recorded`` (a double
    that only records the firings: the evaluator's own cost)."""
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27118/")
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    db = client[f"bench_monitoring_{uuid.uuid4().hex[:8]}"]
    sandbox = start_sandbox(uri, components=("sth",)) if sth == "sandbox" else None
    in_memory = FakeObservedSeries()
    memory = in_memory.points  # filled below (``FakeObservedSeries({})`` would keep a dict of its own)
    models = max(1, rule_count // 10)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=(READINGS - 1) * INTERVAL)
    rng = np.random.default_rng(3)
    try:
        services = mongo_services(
            db,
            observed_series=(SthObservedSeries(SthCometClient(sandbox.sth_url)) if sandbox else in_memory),
            monitoring_settings=MonitoringSettings(),
            **({"retrain_trigger": RecordingRetrainTrigger()} if retraining == "recorded" else {}),
        )
        channel = webhook_channel("bench")
        services.channels.add(channel)
        seeded = time.perf_counter()
        for m in range(models):
            entity = f"urn:ngsi-ld:Meter:bench{m}"
            level = 100.0 + m
            values = level + np.sin(np.arange(READINGS) * 2 * np.pi / 144) * 3 + rng.normal(0, 0.5, READINGS)
            stamps = [start + timedelta(seconds=i * INTERVAL) for i in range(READINGS)]
            memory[entity] = [(t, round(float(v), 3)) for t, v in zip(stamps, values, strict=True)]
            if sandbox is not None:
                sandbox.seed_sth(
                    service=SERVICE, servicepath=SERVICEPATH, entity_id=entity, entity_type="Meter",
                    attr_name="demand", attr_type="Number", replace=True,
                    points=[{"recvTime": iso(t), "attrValue": str(v)} for t, v in memory[entity]],
                )  # fmt: skip
            job_id, model_id = f"job-{m}", f"model-{m}"
            quality = data_quality(points=READINGS - 48, interval=INTERVAL).model_copy(
                update={"first_timestamp": start, "last_timestamp": start + timedelta(seconds=(READINGS - 49) * INTERVAL)}
            )  # fmt: skip
            job = trained_job(
                job_id, model_id, data_quality=quality, sampling_interval_seconds=INTERVAL,
                prediction_config=prediction_config(interval_seconds=600),
            )  # fmt: skip
            served = model(
                model_id, entity_id=entity, entity_type="Meter", fiware_servicepath=SERVICEPATH,
                lookback_window=24, forecast_horizon=6,
            ).model_copy(update={"serving": ServingSummary(training_job_id=job_id, serving="network"),
                                 "has_successful_training": True})  # fmt: skip
            services.models.add(served)
            services.jobs.add(job)
            origin = start + timedelta(seconds=(READINGS - 7) * INTERVAL)
            services.forecast_log.record(
                PublishedForecast(
                    job_id=job_id, slot=origin, generated_at=origin, interval_seconds=INTERVAL, serving="network",
                    points=[ForecastPoint(step=s, value=level + s, target_timestamp=origin + timedelta(seconds=s * INTERVAL),
                                          lower={"80": level + s - 2, "95": level + s - 4},
                                          upper={"80": level + s + 2, "95": level + s + 4}) for s in range(1, 7)],
                )
            )  # fmt: skip
            for draft in rule_drafts(model_id, level, channel.id):
                rule = build_rule(RuleDraft.model_validate(draft), served, created_by="bench")
                services.alert_rules.add(rule.model_copy(update={"created_at": now - timedelta(hours=1)}))
        print(
            f"seeded {models} series x {READINGS} readings, {models * 10} rules in "
            f"{time.perf_counter() - seeded:.1f} s"
        )
        seconds: list[float] = []
        for k in range(ticks):
            at = now + timedelta(seconds=60 * k + 1)
            started = time.perf_counter()
            result = evaluate_due(services, EvaluationTick(now=at, correlation_id=f"bench-{k}"))
            seconds.append(time.perf_counter() - started)
            print(
                f"tick {k + 1}: {seconds[-1]:.2f} s  rules={result.rules} evaluated={result.evaluated} "
                f"transitions={result.transitions} firing={result.firing} notifications={result.notifications} "
                f"errors={result.errors}"
            )
        print(
            f"evaluation tick over {models * 10} rules (STH: {sth}, retraining: {retraining}): "
            + " / ".join(f"{s:.2f}" for s in seconds)
            + " s"
        )
    finally:
        if sandbox is not None:
            sandbox.stop()
        client.drop_database(db.name)
        client.close()


# ---------------------------------------------------------------------- firing to receipt, stack


class Receiver:
    def __init__(self) -> None:
        self.received: dict[str, float] = {}  # rule id -> receipt time (perf_counter)
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with owner.lock:
                    owner.received.setdefault(body["alert"]["rule_id"], time.perf_counter())
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def bench_stack(firings: int, burst: int) -> None:
    import httpx

    from local.stack import local_client
    from tests.support.auth import token
    from tests.support.lambda_runtime import load_event

    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    secret = (ROOT / ".local" / "jwt-secret").read_text().strip()
    api = httpx.Client(
        base_url=stack["ApiUrl"].rstrip("/"), timeout=60,
        headers={"Authorization": f"Bearer {token(secret=secret, subject='bench')}"},
    )  # fmt: skip
    lambda_client = local_client("lambda", stack["LocalStackUrl"])
    receiver = Receiver()
    entity = f"urn:ngsi-ld:Meter:benchalert{uuid.uuid4().hex[:6]}"
    seed = httpx.post(
        f"{stack['SthUrl']}/_sandbox/sth/seed",
        json={"service": SERVICE, "servicepath": SERVICEPATH, "entity_id": entity, "entity_type": "Meter",
              "attr_name": "demand", "attr_type": "Number", "replace": True,
              "points": [{"recvTime": iso(datetime.now(UTC) - timedelta(minutes=10 - i)), "attrValue": "150"}
                         for i in range(10)]},
        timeout=30,
    )  # fmt: skip
    seed.raise_for_status()
    created = api.post(
        "/models/",
        json={"model_type": "gru", "rnn_layers": [{"units": 8}], "lookback_window": 24, "forecast_horizon": 6,
              "feature": "demand", "entity_type": "Meter", "entity_id": entity, "fiware_service": SERVICE,
              "fiware_servicepath": SERVICEPATH},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    model_id = created.json()["id"]
    channel = api.post(
        "/alert-channels",
        json={"name": "bench", "type": "webhook", "fiware_service": SERVICE, "config": {"url": receiver.url}},
    ).json()
    rules: list[str] = []

    def new_rule() -> tuple[str, datetime]:
        response = api.post(
            "/alert-rules",
            json={"type": "observed_threshold", "params": {"threshold": 100}, "model_id": model_id,
                  "channels": [channel["id"]], "evaluation_interval_seconds": 3600},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        rule = response.json()["rule"]
        rules.append(rule["id"])
        return rule["id"], datetime.fromisoformat(rule["created_at"])

    def tick(at: datetime) -> float:
        event = {
            **load_event("evaluate_alerts.json"),
            "id": str(uuid.uuid4()),
            "detail": {"evaluate_at": iso(at)},
        }
        started = time.perf_counter()
        response = lambda_client.invoke(FunctionName=stack["EvaluateAlertsFunctionName"],
                                        Payload=json.dumps(event).encode())  # fmt: skip
        assert "FunctionError" not in response, response["Payload"].read()
        return started

    def wait(rule_ids: list[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(r in receiver.received for r in rule_ids):
            time.sleep(0.05)

    try:
        latencies: list[float] = []
        for _ in range(firings):
            rule_id, at = new_rule()
            started = tick(at + timedelta(hours=1, seconds=1))
            wait([rule_id])
            if rule_id in receiver.received:
                latencies.append(receiver.received[rule_id] - started)
            api.delete(f"/alert-rules/{rule_id}")
        print(
            f"firing -> webhook receipt, one alert per tick (n = {len(latencies)} of {firings}): "
            f"p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
            f"max {max(latencies):.2f} s"
        )
        batch = [new_rule() for _ in range(burst)]
        started = tick(max(at for _, at in batch) + timedelta(hours=1, seconds=1))
        ids = [r for r, _ in batch]
        wait(ids, timeout=300)
        got = [receiver.received[r] - started for r in ids if r in receiver.received]
        print(
            f"burst: {burst} rules firing in one tick, {len(got)} received: p50 {percentile(got, 50):.2f} s, "
            f"p95 {percentile(got, 95):.2f} s, last {max(got):.2f} s"
        )
    finally:
        for rule_id in rules:
            api.delete(f"/alert-rules/{rule_id}")
        api.delete(f"/alert-channels/{channel['id']}")
        api.delete(f"/models/{model_id}")
        receiver.server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--stack", action="store_true", help="also measure firing -> receipt on the stack")
    parser.add_argument("--firings", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--skip-tick", action="store_true")
    parser.add_argument("--sth", choices=["memory", "sandbox", "both"], default="both")
    parser.add_argument("--retraining", choices=["real", "recorded"], default="real",
                        help="real: firings ask the retraining capability; recorded: a double")  # fmt: skip
    args = parser.parse_args()
    if not args.skip_tick:
        for sth in ("memory", "sandbox") if args.sth == "both" else (args.sth,):
            bench_tick(args.rules, args.ticks, sth, args.retraining)
    if args.stack:
        bench_stack(args.firings, args.burst)


if __name__ == "__main__":
    main()
