"""The Chronos demo against the deployed local stack (run by `make demo`).

1. Seed the FIWARE sandbox with a real measured series: the half-hourly electricity demand of
   England and Wales (4,032 points, `pmdarima.datasets.load_taylor`), as STH-Comet history of an
   IoT Agent device. When the stack points at real FIWARE (`CHRONOS_STH_URL`, `CHRONOS_ORION_URL`,
   `CHRONOS_IOT_AGENT_URL`), the series goes through the components' public APIs instead.
2. Discover the device through `GET /devices/`.
3. Create an LSTM model for it and train it through the deployed Step Functions state machine,
   showing progress while it runs.
4. Show the test metrics next to the last-value and seasonal-naive baselines.
5. Forecast on demand, then enable recurring forecasts and publish one into Orion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from stack import local_client

ROOT = Path(__file__).resolve().parents[1]
SERVICE, SERVICEPATH = "energy", "/demo"
ENTITY_TYPE, ENTITY_ID, ATTRIBUTE = "ElectricityMeter", "urn:ngsi-ld:ElectricityMeter:taylor", "demand"


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def mint(role: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "local" / "mint_token.py"), "--role", role, "--tenant", SERVICE],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def seed_sandbox(stack: dict[str, Any]) -> None:
    # The seed CLI writes into the sandbox's database directly (the server need not restart); real
    # FIWARE has no such database: its components are seeded through their public APIs.
    target = ["--mongodb-uri", stack["MongoDbUri"]]
    external = stack.get("FiwareExternal") or []
    for name, key in (("sth", "SthUrl"), ("orion", "OrionUrl"), ("iota", "IotAgentUrl")):
        if name in external:
            target += [f"--{name}-url", stack[key]]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "local.fiware_sandbox",
            "seed",
            "--taylor",
            "--entity-type",
            ENTITY_TYPE,
            "--entity-id",
            ENTITY_ID,
            "--attr",
            ATTRIBUTE,
            "--service",
            SERVICE,
            "--servicepath",
            SERVICEPATH,
            "--register-device",
            *target,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}:{ROOT}"},
        check=True,
    )


def progress_bar(fraction: float, width: int = 30) -> str:
    filled = int(round(width * max(0.0, min(1.0, fraction))))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def show_progress(job: dict[str, Any]) -> str:
    p = job["progress"]
    detail = ""
    if job["status"] == "collecting_data":
        chunks = f"{p['chunks_done']}/{p['chunks_total']}"
        detail = f"chunks {chunks}, points {p['points_collected']}/{p['points_expected']}"
    elif job["status"] == "training" and p["epochs"]:
        loss = f"{p['loss']:.4f}" if p["loss"] is not None else "-"
        val = f"{p['val_loss']:.4f}" if p["val_loss"] is not None else "-"
        detail = f"epoch {p['epoch']}/{p['epochs']}, loss {loss}, val_loss {val}"
    elif p.get("training_phase"):
        detail = p["training_phase"]
    return f"{progress_bar(p['percent'] / 100)} {p['percent']:5.1f}%  {job['status']:<16} {detail}"


def train(api: httpx.Client, model_id: str) -> dict[str, Any]:
    response = api.post(f"/models/{model_id}/training-jobs", json={})
    response.raise_for_status()
    job = response.json()
    print(f"job {job['id']} accepted (202), execution {job['execution']['name']}")
    last_line = ""
    while True:
        job = api.get(f"/models/{model_id}/training-jobs/{job['id']}").json()
        line = show_progress(job)
        if line != last_line:
            print(f"   {line}", flush=True)
            last_line = line
        if job["status"] in ("completed", "failed", "cancelled"):
            return dict(job)
        time.sleep(1.0)


def _fmt(metrics: dict[str, Any], key: str, digits: int = 1) -> str:
    value = metrics.get(key)
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def report_metrics(job: dict[str, Any]) -> None:
    test = job["metrics"]["test"]
    baselines = job["metrics"]["baselines"]
    print("phases: " + ", ".join(f"{k} {v['seconds']:.1f}s" for k, v in job["phases"].items()))
    print(f"test windows: {test.get('windows')} (H-step forecasts, original units)")
    rows = [
        ("network", test),
        ("last value", baselines["last_value"]),
        ("seasonal naive", baselines["seasonal_naive"]),
    ]
    print(f"{'forecast':<16}{'MAE':>10}{'RMSE':>10}{'MASE':>8}{'sMAPE':>8}")
    for name, metrics in rows:
        print(
            f"{name:<16}{_fmt(metrics, 'mae'):>10}{_fmt(metrics, 'rmse'):>10}"
            f"{_fmt(metrics, 'mase', 3):>8}{_fmt(metrics, 'smape', 2):>8}"
        )
    skill = baselines.get("skill_vs_seasonal_naive")
    skill_text = f"{skill:+.3f}" if isinstance(skill, int | float) else "-"
    print(f"season detected: {baselines.get('season_length')} steps; skill vs seasonal naive: {skill_text}")


def main() -> int:
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    api_url = stack["ApiUrl"]
    step(f"API Gateway stage in LocalStack: {api_url}")
    admin = {"Authorization": f"Bearer {mint('admin')}"}
    with httpx.Client(base_url=api_url, timeout=60, headers=admin) as api:
        health = api.get("/health").json()
        print(f"GET /health -> {health['status']}")
        for dep in health["dependencies"]:
            print(f"   {dep['name']:<14} {dep['status']:<9} {dep['latency_ms']} ms")

        external = stack.get("FiwareExternal") or []
        where = f"FIWARE (external: {', '.join(external)})" if external else "FIWARE sandbox"
        step(f"Seed the {where} with the half-hourly electricity demand series (4,032 points)")
        seed_sandbox(stack)

        step(f"Discover devices of service {SERVICE!r} through the IoT Agent: GET /devices/")
        devices = api.get("/devices/", params={"service": SERVICE, "servicepath": SERVICEPATH}).json()
        for group in devices["devices"]:
            for entity in group["entities"]:
                names = [a["name"] for a in entity["attributes"]]
                print(f"   {group['entity_type']}: {entity['entity_name']} attributes {names}")

        step("Create an LSTM model: one week of half-hours in, the next 12 hours out")
        response = api.post(
            "/models/",
            json={
                "model_type": "lstm",
                "rnn_layers": [{"units": 32, "dropout": 0.0}],
                "lookback_window": 96,
                "forecast_horizon": 24,
                "epochs": 30,
                "batch_size": 64,
                "feature": ATTRIBUTE,
                "entity_type": ENTITY_TYPE,
                "entity_id": ENTITY_ID,
                "fiware_service": SERVICE,
                "fiware_servicepath": SERVICEPATH,
            },
        )
        response.raise_for_status()
        model = response.json()
        print(f"model {model['id']} ({model['name']}), status {model['status']}")

        step("Train it through the state machine: Plan -> Map(collect) -> Prepare -> Train -> Finalize")
        job = train(api, model["id"])
        if job["status"] != "completed":
            print(f"training {job['status']}: {job['error']}")
            return 1
        report_metrics(job)
        print(f"model status now: {api.get(f'/models/{model["id"]}').json()['status']}")

        run_forecasts(api, stack, model, job)
        run_anomaly_scan(api, model)
    return 0


def run_anomaly_scan(api: httpx.Client, model: dict[str, Any]) -> None:
    """A scan of the demo series with the served forecaster: its progress, events and data quality."""
    step("Anomaly scan of the whole series: POST /models/{id}/anomaly-scans (Plan -> Map(score) -> Combine)")
    base = f"/models/{model['id']}/anomaly-scans"
    response = api.post(base, json={"last_n": 4032, "sensitivity": "medium", "merge_gap": 2})
    response.raise_for_status()
    scan = response.json()
    rate = scan["settings"]["false_discovery_rate"]
    print(f"scan {scan['id']} accepted (202), false-discovery rate {rate}")
    deadline = time.monotonic() + 300
    while scan["status"] in {"pending", "queued", "running"} and time.monotonic() < deadline:
        time.sleep(2)
        scan = api.get(f"{base}/{scan['id']}").json()
        p = scan["progress"]
        print(
            f"   {scan['status']:<10} chunks {p['chunks_done']}/{p['chunks_total']}, points scored "
            f"{p['points_scored']}, anomalies so far {p['anomalies_so_far']}, ETA {p['eta_seconds']} s",
            flush=True,
        )
    if scan["status"] != "completed":
        print(f"scan {scan['status']}: {scan.get('error')}")
        return
    summary = scan["summary"]
    print(
        f"{summary['points_scored']} points scored, {summary['flagged_points']} flagged (p <= "
        f"{summary['p_value_threshold']}), {summary['events']} events {summary['events_by_level']}, "
        f"{summary['published']} Anomaly entities upserted into Orion; "
        f"data quality {summary['quality_issues']}"
    )
    events = api.get(f"{base}/{scan['id']}/events", params={"limit": 5}).json()["items"]
    for event in events:
        print(
            f"   {event['start']} .. {event['end']}: peak {event['peak_value']:.0f} vs expected "
            f"{event['expected']:.0f}, severity {event['severity']} ({event['level']})"
        )


def run_forecasts(
    api: httpx.Client, stack: dict[str, Any], model: dict[str, Any], job: dict[str, Any]
) -> None:
    """On-demand forecast, then recurring forecasts published into Orion."""
    base = f"/models/{model['id']}/training-jobs/{job['id']}"
    step("Forecast on demand: POST .../predict (ONNX Runtime, no TensorFlow)")
    response = api.post(f"{base}/predict")
    response.raise_for_status()
    forecast = response.json()
    print(f"served forecaster: {forecast['serving']} (chosen on the validation split)")
    print(f"context: {len(forecast['context'])} points up to {forecast['last_observation']}")
    print(f"{'step':>4}  {'target time':<24}{'value':>10}   80 % interval          95 % interval")
    for point in forecast["forecast"][:8]:
        lo80, hi80 = point["lower"].get("80"), point["upper"].get("80")
        lo95, hi95 = point["lower"].get("95"), point["upper"].get("95")
        print(
            f"{point['step']:>4}  {point['target_timestamp']:<24}{point['value']:>10.1f}   "
            f"[{lo80:>8.1f}, {hi80:>8.1f}]   [{lo95:>8.1f}, {hi95:>8.1f}]"
        )
    print(f"   ... {len(forecast['forecast'])} steps in all")

    step("Enable recurring forecasts: POST .../prediction-toggle")
    toggle = api.post(f"{base}/prediction-toggle", json={"enabled": True, "interval_seconds": 1800})
    toggle.raise_for_status()
    config = toggle.json()
    print(
        f"forecast entity {config['entity_id']} ({config['entity_type']}), subscription "
        f"{config['subscription_id']}, next run {config['next_prediction_at']}"
    )

    step("The EventBridge rule runs the scheduler every minute; invoke it now instead of waiting")
    event = json.loads((ROOT / "events" / "schedule_forecasts.json").read_text())
    lambda_client = local_client("lambda", stack["LocalStackUrl"])
    tick = lambda_client.invoke(
        FunctionName=stack["ScheduleForecastsFunctionName"], Payload=json.dumps(event)
    )
    print(f"scheduler tick: {json.loads(tick['Payload'].read())}")

    step("The forecast Lambda (SQS) publishes forecastSeries into Orion")
    headers = {"fiware-service": SERVICE, "fiware-servicepath": SERVICEPATH}
    entity: dict[str, Any] | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = httpx.get(
            f"{stack['OrionUrl']}/v2/entities/{config['entity_id']}", headers=headers, timeout=10
        )
        if found.status_code == 200 and "forecastSeries" in found.json():
            entity = found.json()
            break
        time.sleep(1)
    if entity is None:
        print("no forecast was published within 2 minutes")
        return
    value = entity["forecastSeries"]["value"]
    print(f"GET {stack['OrionUrl']}/v2/entities/{config['entity_id']}")
    print(
        f"   generatedAt {value['generatedAt']}, horizon {value['horizon']}, serving {value.get('serving')}"
    )
    for point in value["points"][:3]:
        print(f"   {json.dumps(point)}")
    print(f"   sourceEntity {entity['sourceEntity']['value']}, feature {entity['feature']['value']}")
    last = api.get(base).json().get("last_forecast") or {}
    print(f"job's last forecast run: status {last.get('status')}, points {last.get('points')}")


if __name__ == "__main__":
    sys.exit(main())
