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
6. Retraining, on a second meter that sent noise for three weeks (a wiring fault) while its
   first model (the champion) trained: a retraining policy (a daily cron in Europe/Madrid, with
   its next fire times and daylight-saving notes), the real series arriving once the meter is
   fixed, the retraining scheduler invoked at the first fire time, and the challenger scored
   against the champion on the same holdout and promoted.

7. An alert: a webhook channel to a receiver the demo starts, an observed-threshold rule that
   breaches, the evaluator invoked now, and the signed notification received and recorded.

The steps a user would type (2, 3, the forecast and enabling forecasts in 5) run the `chronos`
command line (`cli/`), printed as `$ chronos ...` before they run; seeding, the scheduler tick
and reading Orion back are the demo's own harness.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


CHRONOS = ROOT / ".local" / "venv" / "bin" / "chronos"


def cli_env(api_url: str, token: str, config_dir: str) -> dict[str, str]:
    """The environment of the `chronos` commands: the stack's API, an admin token, and a config
    file of the demo's own (the user's config is never touched)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOS_")}
    env.update(
        CHRONOS_API_URL=api_url,
        CHRONOS_TOKEN=token,
        CHRONOS_CONFIG=str(Path(config_dir) / "config.toml"),
    )
    return env


def chronos(env: dict[str, str], *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``chronos ARGS`` as a user would type it (shown first); ``capture`` adds ``-o json``
    and keeps stdout for the demo to read, the rest goes to the terminal."""
    command = [str(CHRONOS) if CHRONOS.exists() else "chronos", *args]
    print(f"$ chronos {shlex.join(args)}", flush=True)
    if capture:
        command += ["-o", "json"]
    return subprocess.run(
        command, env=env, stdout=subprocess.PIPE if capture else None, text=True, check=False
    )


def chronos_json(env: dict[str, str], *args: str) -> dict[str, Any]:
    result = chronos(env, *args, capture=True)
    if result.returncode != 0:
        raise SystemExit(f"chronos {' '.join(args)} failed with exit code {result.returncode}")
    return dict(json.loads(result.stdout))


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


def print_dashboard(stack: dict[str, Any], *, stays_up: bool) -> None:
    """The dashboard's URL and a one-line way to sign in (the dev IdP that `up` started), then
    whether the stack stays up: `make dashboard` leaves it up, `make demo` stops it after this."""
    url = stack.get("DashboardUrl") or f"{stack['ApiUrl'].rstrip('/')}/ui/"
    idp = stack.get("DevIdpUrl", "http://127.0.0.1:19080")
    step(f"Dashboard: {url}")
    print(
        f"   sign in at the dev IdP ({idp}): any user name, roles admin (or reader/operator), "
        f"tenants {SERVICE} (or *); the demo's device is under service {SERVICE}, path {SERVICEPATH}"
    )
    print(
        f"   from a terminal: chronos config set api_url {stack['ApiUrl']} && "
        f"chronos login --authority {idp} --issuer chronos-local"
    )
    if stays_up:
        print("   the stack stays up: `make down` stops it")
    else:
        print("   `make demo` stops the stack now; `make dashboard` starts it again and leaves it up")


def main() -> int:
    stack = json.loads((ROOT / ".local" / "stack.json").read_text())
    if "--dashboard-only" in sys.argv[1:]:  # make dashboard: something to discover, then the URL
        step(f"Seed the demo's device ({SERVICE}{SERVICEPATH}) for the dashboard's Devices page")
        seed_sandbox(stack)
        print_dashboard(stack, stays_up=True)
        return 0
    api_url = stack["ApiUrl"]
    step(f"API Gateway stage in LocalStack: {api_url}")
    token = mint("admin")
    admin = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=api_url, timeout=60, headers=admin) as api,
        tempfile.TemporaryDirectory(prefix="chronos-demo-") as config_dir,
    ):
        env = cli_env(api_url, token, config_dir)
        chronos(env, "health")

        external = stack.get("FiwareExternal") or []
        where = f"FIWARE (external: {', '.join(external)})" if external else "FIWARE sandbox"
        step(f"Seed the {where} with the half-hourly electricity demand series (4,032 points)")
        seed_sandbox(stack)

        step(f"Discover devices of service {SERVICE!r} through the IoT Agent: GET /devices/")
        chronos(env, "devices", "list", "--service", SERVICE, "--servicepath", SERVICEPATH)

        step("Create an LSTM model: two days of half-hours in, the next 12 hours out")
        model = chronos_json(
            env, "models", "create", "--type", "lstm", "--rnn-layer", "32:0.0",
            "--lookback-window", "96", "--forecast-horizon", "24", "--epochs", "30", "--batch-size", "64",
            "--entity-type", ENTITY_TYPE, "--entity-id", ENTITY_ID, "--feature", ATTRIBUTE,
            "--service", SERVICE, "--servicepath", SERVICEPATH,
        )  # fmt: skip
        print(f"model {model['id']} ({model['name']}), status {model['status']}")

        step("Train it through the state machine: Plan -> Map(collect) -> Prepare -> Train -> Finalize")
        trained = chronos(env, "train", "start", model["id"], "--follow", "--poll-interval", "1")
        jobs = api.get(f"/models/{model['id']}/training-jobs", params={"limit": 1}).json()["items"]
        if not jobs:
            print(f"no training job was started (chronos exited {trained.returncode})")
            return 1
        job = api.get(f"/models/{model['id']}/training-jobs/{jobs[0]['id']}").json()
        if trained.returncode != 0 or job["status"] != "completed":
            print(f"training {job['status']} (chronos exited {trained.returncode}): {job['error']}")
            return 1
        report_metrics(job)
        print(f"model status now: {api.get(f'/models/{model["id"]}').json()['status']}")

        published = run_forecasts(api, env, stack, model, job)
        run_alert(api, stack, model)
        run_retraining(api, stack)
        run_anomaly_scan(api, model)
    print_dashboard(stack, stays_up=False)
    return 0 if published else 1


#: The retraining story's second meter: wired wrongly when installed, it sent noise for three
#: weeks (the champion trained on that learned nothing); then the real demand arrives.
FAULTY_ENTITY_ID = "urn:ngsi-ld:ElectricityMeter:taylor-rewired"
FAULT_POINTS = 1008


def seed_values(stack: dict[str, Any], entity_id: str, rows: list[tuple[datetime, float]]) -> None:
    """Seed ``entity_id``'s history with ``rows`` (replacing what it held), as `seed_sandbox`."""
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        handle.write("timestamp,value\n")
        handle.writelines(f"{t.isoformat().replace('+00:00', 'Z')},{v:.3f}\n" for t, v in rows)
    target = ["--mongodb-uri", stack["MongoDbUri"]]
    for name, key in (("sth", "SthUrl"), ("orion", "OrionUrl"), ("iota", "IotAgentUrl")):
        if name in (stack.get("FiwareExternal") or []):
            target += [f"--{name}-url", stack[key]]
    try:
        subprocess.run(
            [
                sys.executable, "-m", "local.fiware_sandbox", "seed", "--csv", handle.name,
                "--entity-type", ENTITY_TYPE, "--entity-id", entity_id, "--attr", ATTRIBUTE,
                "--service", SERVICE, "--servicepath", SERVICEPATH, "--register-device", *target,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}:{ROOT}"},
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.unlink(handle.name)


def faulty_then_real() -> tuple[list[tuple[datetime, float]], list[tuple[datetime, float]]]:
    """Three weeks of noise (mean and spread of the real demand, no daily cycle), then the real
    series (Taylor, 4,032 half-hours) once the meter is fixed."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from local.fiware_sandbox.seed import TAYLOR_INTERVAL, TAYLOR_START, load_taylor

    real = load_taylor()
    noise = np.random.default_rng(7).normal(float(np.mean(real)), float(np.std(real)), FAULT_POINTS)
    first = TAYLOR_START - FAULT_POINTS * TAYLOR_INTERVAL
    faulty = [(first + i * TAYLOR_INTERVAL, float(v)) for i, v in enumerate(noise)]
    return faulty, [(TAYLOR_START + i * TAYLOR_INTERVAL, v) for i, v in enumerate(real)]


def wait_finished(api: httpx.Client, model_id: str, job_id: str, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = dict(api.get(f"/models/{model_id}/training-jobs/{job_id}").json())
        if job["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(2.0)


def run_retraining(api: httpx.Client, stack: dict[str, Any]) -> bool:
    """A champion trained on a faulty meter's noise, a retraining policy, the data that grows
    once the meter is fixed, one fire time, and the challenger scored against the champion on
    the same holdout: promoted. Returns whether it was."""
    step(
        f"Retraining: a second meter ({FAULTY_ENTITY_ID}) sent noise for its first three weeks "
        "(a wiring fault); its first model, the champion, trained on that"
    )
    faulty, real = faulty_then_real()
    seed_values(stack, FAULTY_ENTITY_ID, faulty)
    body = {
        "name": f"rewired meter {uuid.uuid4().hex[:6]}", "model_type": "gru",
        "rnn_layers": [{"units": 16, "dropout": 0.0}],
        "lookback_window": 96, "forecast_horizon": 24, "epochs": 10, "batch_size": 64,
        "entity_type": ENTITY_TYPE, "entity_id": FAULTY_ENTITY_ID, "feature": ATTRIBUTE,
        "fiware_service": SERVICE, "fiware_servicepath": SERVICEPATH,
    }  # fmt: skip
    created = api.post("/models/", json=body)
    created.raise_for_status()
    model = created.json()
    first = api.post(f"/models/{model['id']}/training-jobs", json={})
    first.raise_for_status()
    champion = wait_finished(api, model["id"], first.json()["id"])
    if champion["status"] != "completed":
        print(f"the champion's training {champion['status']}: {champion['error']}")
        return False
    served = (champion.get("metrics") or {}).get("served") or {}
    print(f"champion {champion['id']}: serving {champion.get('serving')}, test MAE {_fmt(served, 'mae')}")

    step("Enable a retraining policy: PUT /models/{id}/retraining-policy")
    policy = {
        "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Madrid"},
        "window": {"last_n": len(real)},
        "min_new_points": 500,
        "max_per_day": 2,
        "promotion_margin": 0.05,
        "trigger_rules": ["*"],
    }
    response = api.put(f"/models/{model['id']}/retraining-policy", json=policy)
    response.raise_for_status()
    view = response.json()
    print(f"{view['description']}; next fire times:")
    for fire in view["next_fire_times"]:
        print(f"   {fire['local']}  ({fire['utc']})")
    for note in view["dst_notes"][:2]:
        print(f"   DST: {note}")

    step(f"The meter is fixed: {len(real):,} real half-hours arrive in STH-Comet")
    seed_values(stack, FAULTY_ENTITY_ID, faulty + real)

    step("Invoke the retraining scheduler at the first fire time instead of waiting for it")
    event = json.loads((ROOT / "events" / "schedule_retraining.json").read_text())
    event["now"] = view["next_fire_times"][0]["utc"]
    lambda_client = local_client("lambda", stack["LocalStackUrl"])
    tick = lambda_client.invoke(
        FunctionName=stack["ScheduleRetrainingFunctionName"], Payload=json.dumps(event)
    )
    print(f"retraining tick: {json.loads(tick['Payload'].read())}")
    runs = api.get(f"/models/{model['id']}/retraining-runs").json()["items"]
    if not runs or not runs[0].get("job_id"):
        print(f"no retraining started: {runs[0]['outcome_reason'] if runs else 'no run'}")
        return False
    print(f"run: {runs[0]['kind']} at {runs[0].get('fire_time')}, {runs[0]['outcome']} {runs[0]['job_id']}")
    job = wait_finished(api, model["id"], runs[0]["job_id"])
    if job["status"] != "completed":
        print(f"retraining {job['status']}: {job['error']}")
        return False
    comparison, promotion = job.get("comparison") or {}, job.get("promotion") or {}
    print(f"triggers: {[t['kind'] for t in job['triggers']]}; window: last {job.get('last_n')} points")
    print(
        f"same holdout ({comparison.get('windows')} windows of the challenger's test split): "
        f"challenger MAE {_fmt(comparison, 'challenger_mae')} vs champion MAE "
        f"{_fmt(comparison, 'champion_mae')} (margin 5 %)"
    )
    verdict = "PROMOTED" if promotion.get("promoted") else "kept as a challenger"
    print(
        f"verdict: challenger {job['id']} (version {job.get('model_version')}) {verdict}: "
        f"{promotion.get('reason')}"
    )
    now_serving = api.get(f"/models/{model['id']}/champion").json()
    print(
        f"champion now: {now_serving['champion']['training_job_id']}; "
        f"previous: {now_serving['previous_champions']} (POST .../champion/rollback returns to it)"
    )
    return bool(promotion.get("promoted"))


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
    api: httpx.Client, env: dict[str, str], stack: dict[str, Any], model: dict[str, Any], job: dict[str, Any]
) -> bool:
    """On-demand forecast, then recurring forecasts published into Orion; whether one was."""
    base = f"/models/{model['id']}/training-jobs/{job['id']}"
    step("Forecast on demand: POST .../predict (ONNX Runtime, no TensorFlow), with 80 %/95 % bounds")
    predicted = chronos(env, "predict", model["id"], job["id"], "--plot")
    if predicted.returncode != 0:
        raise SystemExit(f"chronos predict failed with exit code {predicted.returncode}")

    step("Enable recurring forecasts: POST .../prediction-toggle")
    config = chronos_json(env, "forecasts", "enable", model["id"], job["id"], "--interval-seconds", "1800")
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
        return False
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
    return True


def run_alert(api: httpx.Client, stack: dict[str, Any], model: dict[str, Any]) -> None:
    """A rule that breaches, evaluated now, and its signed webhook notification received."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    step(f"Alerts: a webhook channel to a receiver on {url} and a rule on the model")
    channel = api.post(
        "/alert-channels",
        json={"name": "demo", "type": "webhook", "fiware_service": SERVICE, "config": {"url": url}},
    )
    channel.raise_for_status()
    hook = channel.json()
    rule = api.post(
        "/alert-rules",
        json={
            "name": "demand above 1000 MW",
            "type": "observed_threshold",
            "params": {"threshold": 1000, "direction": "above"},
            "model_id": model["id"],
            "severity": "high",
            "channels": [hook["id"]],
            # The receiver stops with the demo: no repeats to it (the alert stays on the dashboard).
            "repeat_interval_seconds": None,
        },
    )
    rule.raise_for_status()
    created = rule.json()["rule"]
    print(f"rule {created['id']}: {created['type']} {created['params']}, channels {created['channels']}")

    step("The EventBridge rule runs the evaluator every minute; invoke it now instead of waiting")
    at = datetime.fromisoformat(created["created_at"]) + timedelta(seconds=1)
    event = {"id": str(uuid.uuid4()), "detail": {"evaluate_at": at.isoformat()}}
    tick = local_client("lambda", stack["LocalStackUrl"]).invoke(
        FunctionName=stack["EvaluateAlertsFunctionName"], Payload=json.dumps(event)
    )
    print(f"evaluator tick: {json.loads(tick['Payload'].read())}")
    alerts: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30  # the schedule may have evaluated this slot first
    while not alerts and time.monotonic() < deadline:
        alerts = api.get("/alerts", params={"rule_id": created["id"]}).json()["items"]
        time.sleep(0 if alerts else 1)
    if not alerts:
        print("the rule did not fire")
        return
    alert = alerts[0]
    print(f"alert {alert['id']} {alert['status']}: {alert['message']}")

    step("The deliverer Lambda (SQS) POSTs the signed notification to the webhook")
    deadline = time.monotonic() + 60
    while not received and time.monotonic() < deadline:
        time.sleep(0.5)
    server.shutdown()
    if not received:
        print("no notification arrived within a minute")
        return
    headers, body = received[0]
    timestamp, signature = headers["X-Chronos-Timestamp"], headers["X-Chronos-Signature"]
    print(f"received {json.loads(body)['kind']} notification, X-Chronos-Signature {signature[:20]}...")

    expected = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    verified = hmac.compare_digest("v1=" + expected.hexdigest(), signature)
    print(f"signature verified with the channel's secret: {verified}")
    time.sleep(1)
    for delivery in api.get(f"/alerts/{alert['id']}").json()["deliveries"]:
        print(f"delivery {delivery['id']}: {delivery['status']} after {delivery['attempts']} attempt(s)")


if __name__ == "__main__":
    sys.exit(main())
