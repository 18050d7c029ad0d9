"""Monitoring and alerts through the deployed stack in LocalStack: alert rules and channels through
API Gateway, the evaluator Lambda, the notification queue and its deliverer Lambda, signed
webhooks received by servers this test starts, and Smart Data Models ``Alert`` entities in Orion.

One model is trained for the module on a trending sandbox series whose last reading is now. Then:

* a **level shift** injected through the sandbox's control API makes an observed-threshold rule
  fire exactly once; a receiver gets a correctly signed notification, a receiver that fails its
  first two calls gets it on the third attempt with every attempt recorded, the Orion ``Alert``
  entity exists; when the series returns, the resolution is notified and the entity closed;
* a **predicted-crossing** rule fires from the published forecast (the forecast listener), before
  the series crosses; once the actual values cross, the alert is marked ``materialized``.

The evaluator is invoked directly at chosen times (``detail.evaluate_at``) on the rules' hourly
evaluation grid, rather than waiting for the schedule; the stack's own every-minute tick can only
claim the current slot, which the test claims first.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest
from pymongo import MongoClient

from chronos_core.domain.notifications import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook
from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import FINISHED, SERVICE, SERVICEPATH, create_model, iso, job_url, start, wait_for
from tests.support.lambda_runtime import load_event

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

INTERVAL = 1800.0
POINTS = 700
HORIZON = 12
HOUR = timedelta(hours=1)


# ------------------------------------------------------------------------------ the receivers


class Receiver:
    """A webhook receiver on 127.0.0.1 (the stack's Lambdas run on this host) answering 503 to
    its first ``failures`` calls, then 200; it records every call."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 503 if len(receiver.calls) < receiver.failures else 200
                receiver.calls.append(
                    {"headers": dict(self.headers), "body": body, "status": status, "at": time.time()}
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def received(self, kind: str) -> list[dict[str, Any]]:
        """The calls answered 200 whose body is a ``kind`` notification."""
        return [c for c in self.calls if c["status"] == 200 and json.loads(c["body"])["kind"] == kind]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    steady, flaky = Receiver(), Receiver(failures=2)
    yield steady, flaky
    steady.close()
    flaky.close()


# -------------------------------------------------------------------------------- the stack


def poll[T](probe: Callable[[], T | None], timeout: float = 120, every: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def evaluate_at(stack: dict[str, Any], at: datetime) -> dict[str, Any]:
    """One evaluator tick at ``at`` (the Lambda invoked directly)."""
    event = load_event("evaluate_alerts.json")
    event["id"] = str(uuid.uuid4())
    event["detail"] = {"evaluate_at": iso(at)}
    response = local_client("lambda", stack["LocalStackUrl"]).invoke(
        FunctionName=stack["EvaluateAlertsFunctionName"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def tenant_headers() -> dict[str, str]:
    return {"Fiware-Service": SERVICE, "Fiware-ServicePath": SERVICEPATH}


def orion_entity(stack: dict[str, Any], entity_id: str) -> dict[str, Any] | None:
    response = httpx.get(
        f"{stack['OrionUrl']}/v2/entities/{entity_id}", params={"options": "keyValues"},
        headers=tenant_headers(), timeout=10,
    )  # fmt: skip
    return dict(response.json()) if response.status_code == 200 else None


def ramp(count: int, offset: int = 0) -> list[float]:
    """The trending series: +1 per reading from 100, with a little reproducible noise."""
    noise = np.random.default_rng(7).normal(0.0, 0.2, offset + count)
    return [round(100.0 + i + float(noise[i]), 3) for i in range(offset, offset + count)]


class Series:
    """The sandbox series the model is trained on: ``POINTS`` readings every 30 min, the last
    one a minute ago."""

    def __init__(self, sandbox: SandboxControl) -> None:
        self.sandbox = sandbox
        self.entity_id = f"urn:ngsi-ld:ElectricityMeter:alerts{uuid.uuid4().hex[:8]}"
        last = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
        self.start = last - timedelta(seconds=(POINTS - 1) * INTERVAL)
        self.values = ramp(POINTS)

    def seed(self, values: list[float]) -> None:
        self.sandbox.seed(
            service=SERVICE, servicepath=SERVICEPATH, entity_type="ElectricityMeter",
            entity_id=self.entity_id, attr="demand", values=values, interval_seconds=INTERVAL,
            start=self.start,
        )  # fmt: skip

    def time_of(self, index: int) -> datetime:
        return SandboxControl.seeded_time(index, INTERVAL, self.start)


@pytest.fixture(scope="module")
def trained(api: httpx.Client, sandbox: SandboxControl) -> dict[str, Any]:
    """The tiny model trained on the trending series: ``{model, job, series}``."""
    sandbox.clear_faults()
    series = Series(sandbox)
    series.seed(series.values)
    model = create_model(api, series.entity_id, lookback_window=48, forecast_horizon=HORIZON, epochs=8)
    job = start(api, model["id"])
    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    return {"model": model, "job": done, "series": series}


@pytest.fixture
def cleanup(api: httpx.Client) -> Iterator[list[str]]:
    """Paths to DELETE after the test (rules before the channels they use)."""
    paths: list[str] = []
    yield paths
    for path in paths:
        api.delete(path)


def create_channel(api: httpx.Client, cleanup: list[str], name: str, **body: Any) -> dict[str, Any]:
    response = api.post("/alert-channels", json={"name": name, "fiware_service": SERVICE, **body})
    assert response.status_code == 201, response.text
    cleanup.append(f"/alert-channels/{response.json()['id']}")
    return dict(response.json())


def create_rule(api: httpx.Client, cleanup: list[str], **body: Any) -> dict[str, Any]:
    defaults = {"evaluation_interval_seconds": 3600, "repeat_interval_seconds": 86400}
    response = api.post("/alert-rules", json={**defaults, **body})
    assert response.status_code == 201, response.text
    rule = dict(response.json()["rule"])
    cleanup.insert(0, f"/alert-rules/{rule['id']}")
    return rule


def alerts_of(api: httpx.Client, rule_id: str) -> list[dict[str, Any]]:
    response = api.get("/alerts", params={"rule_id": rule_id, "status": "all"})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def deliveries(api: httpx.Client, alert_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/alerts/{alert_id}")
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


def settled(api: httpx.Client, alert_id: str, kind: str, count: int) -> list[dict[str, Any]] | None:
    """The alert's ``kind`` notifications once ``count`` of them are final, else None."""
    found = [d for d in deliveries(api, alert_id) if d["kind"] == kind]
    final = [d for d in found if d["status"] in ("delivered", "failed", "superseded")]
    return found if len(final) >= count else None


# ------------------------------------------------------------------------------ level shift


def test_a_level_shift_fires_once_is_delivered_signed_retried_published_and_resolved(
    api: httpx.Client,
    stack: dict[str, Any],
    trained: dict[str, Any],
    receivers: tuple[Receiver, Receiver],
    cleanup: list[str],
) -> None:
    steady, flaky = receivers
    series: Series = trained["series"]
    hook = create_channel(api, cleanup, "steady", type="webhook", config={"url": steady.url})
    shaky = create_channel(api, cleanup, "flaky", type="webhook", config={"url": flaky.url})
    orion = create_channel(api, cleanup, "orion", type="orion")
    assert hook["secret"] and hook["config"]["url"] == steady.url
    threshold = max(series.values) + 50
    rule = create_rule(
        api, cleanup, name="demand above normal", type="observed_threshold", model_id=trained["model"]["id"],
        params={"threshold": threshold}, severity="high",
        channels=[hook["id"], shaky["id"], orion["id"]],
    )  # fmt: skip
    created = datetime.fromisoformat(rule["created_at"])
    at = [created + k * HOUR + timedelta(seconds=1) for k in range(5)]

    # The series as trained: nothing fires (this claims the current slot before the schedule can).
    evaluate_at(stack, at[0])
    assert alerts_of(api, rule["id"]) == []

    # A level shift of +100 on the last six readings (the sandbox's history replaced).
    shifted = series.values[:-6] + [v + 100 for v in series.values[-6:]]
    series.seed(shifted)
    tick = evaluate_at(stack, at[1])
    assert tick["firing"] >= 1 and tick["queued"] >= 3
    evaluate_at(stack, at[2])  # still shifted: the same alert, nothing sent again
    [alert] = alerts_of(api, rule["id"])
    assert alert["status"] == "firing" and alert["severity"] == "high"
    assert alert["value"] == pytest.approx(shifted[-1]) and alert["threshold"] == threshold
    assert datetime.fromisoformat(alert["started_at"]) == at[1]

    firing = poll(lambda: settled(api, alert["id"], "firing", 3))
    assert len(firing) == 3 and {d["status"] for d in firing} == {"delivered"}
    by_channel = {d["channel_id"]: d for d in firing}

    # The steady receiver got one notification, signed with its channel's secret.
    [call] = steady.received("firing")
    assert len(steady.calls) == 1
    headers = call["headers"]
    assert verify_webhook(
        hook["secret"], headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], call["body"], time.time()
    )
    assert not verify_webhook("not-the-secret", headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER],
                              call["body"], time.time())  # fmt: skip
    body = json.loads(call["body"])
    assert body["status"] == "firing" and body["alert"]["id"] == alert["id"]
    assert body["alert"]["rule_id"] == rule["id"] and body["alert"]["entity_id"] == series.entity_id
    assert by_channel[hook["id"]]["attempts"] == 1

    # The flaky receiver: two 503s, then the notification on the third attempt, all recorded.
    assert [c["status"] for c in flaky.calls] == [503, 503, 200]
    third = by_channel[shaky["id"]]
    assert third["attempts"] == 3 and third["status"] == "delivered"
    assert [(h["attempt"], h["ok"], h["status_code"]) for h in third["history"]] == [
        (1, False, 503), (2, False, 503), (3, True, 200),
    ]  # fmt: skip
    assert all(h["retry_in_seconds"] > 0 for h in third["history"][:2])
    assert json.loads(flaky.calls[2]["body"])["notification_id"] == third["id"]
    stats = api.get(f"/alert-channels/{shaky['id']}").json()["stats"]
    assert stats["times_sent"] == 3 and stats["delivered"] == 1 and stats["consecutive_failures"] == 0
    assert stats["last_failure_reason"] == "HTTP 503" and stats["last_success_code"] == 200

    # The Smart Data Models Alert entity in the model's tenant.
    entity_id = f"urn:ngsi-ld:Alert:chronos:{alert['id']}"
    entity = poll(lambda: orion_entity(stack, entity_id))
    assert entity["type"] == "Alert" and entity["severity"] == "high"
    assert entity["subCategory"] == "observedThreshold" and entity["alertSource"] == series.entity_id
    assert entity["data"]["status"] == "firing" and "validTo" not in entity

    # The series returns: the alert resolves, and the resolution is notified and published.
    series.seed(series.values)
    assert evaluate_at(stack, at[3])["resolved"] >= 1
    resolved = poll(lambda: settled(api, alert["id"], "resolved", 3))
    assert {d["status"] for d in resolved} == {"delivered"}
    assert len(steady.received("firing")) == 1 and len(steady.received("resolved")) == 1
    assert json.loads(steady.received("resolved")[0]["body"])["status"] == "resolved"
    [closed] = alerts_of(api, rule["id"])
    assert closed["status"] == "resolved" and datetime.fromisoformat(closed["resolved_at"]) == at[3]
    entity = poll(lambda: (e := orion_entity(stack, entity_id)) and "validTo" in e and e)
    assert entity["data"]["status"] == "resolved"

    events = api.get(f"/alert-rules/{rule['id']}/events").json()["items"]
    transitions = sorted((e["at"], e["from_state"], e["to_state"]) for e in events)
    assert [(f, t) for _, f, t in transitions] == [("ok", "firing"), ("firing", "ok")]
    assert api.get(f"/alert-rules/{rule['id']}").json()["stats"]["fired"] == 1


# ------------------------------------------------------------------------ predicted crossing


@pytest.fixture(scope="module")
def jobs_collection(stack: dict[str, Any]) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack["MongoDbUri"], tz_aware=True)
    yield client[stack["MongoDbDatabase"]]["training_jobs"]
    client.close()


def test_a_predicted_crossing_fires_before_the_crossing_and_is_materialized(
    api: httpx.Client,
    stack: dict[str, Any],
    trained: dict[str, Any],
    receivers: tuple[Receiver, Receiver],
    cleanup: list[str],
    jobs_collection: Any,
) -> None:
    steady, _ = receivers
    series: Series = trained["series"]
    model, job = trained["model"], trained["job"]
    series.seed(series.values)
    # Where the model says the trend goes (the recurring forecast reads the same history).
    predicted = api.post(f"{job_url(model['id'], job['id'])}/predict")
    assert predicted.status_code == 200, predicted.text
    forecast = predicted.json()["forecast"]
    last = series.values[-1]
    peak = max(p["value"] for p in forecast)
    assert peak > last + 3, f"the model does not forecast the trend: {predicted.json()['serving']} {forecast}"
    threshold = round(last + (peak - last) / 2, 3)

    hook = create_channel(api, cleanup, "steady", type="webhook", config={"url": steady.url})
    rule = create_rule(
        api, cleanup, name="demand will exceed", type="predicted_crossing", model_id=model["id"],
        params={"threshold": threshold, "probability": 0.5}, severity="critical", channels=[hook["id"]],
    )  # fmt: skip
    toggle = f"{job_url(model['id'], job['id'])}/prediction-toggle"
    assert api.post(toggle, json={"enabled": True, "interval_seconds": 3600}).status_code == 200
    try:
        # A recurring forecast (scheduler -> queue -> forecast Lambda): the listener evaluates it.
        slot = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
        jobs_collection.update_one({"id": job["id"]}, {"$set": {"next_prediction_at": slot}})
        scheduled = local_client("lambda", stack["LocalStackUrl"]).invoke(
            FunctionName=stack["ScheduleForecastsFunctionName"],
            Payload=json.dumps({**load_event("schedule_forecasts.json"), "id": str(uuid.uuid4())}).encode(),
        )
        assert "FunctionError" not in scheduled
        [alert] = poll(lambda: alerts_of(api, rule["id"]), timeout=180)
    finally:
        api.post(toggle, json={"enabled": False})
    assert alert["status"] == "firing" and alert["predicted"]["threshold"] == threshold
    assert alert["value"] >= 0.5 and alert["values"]["first_step"] >= 1
    crossing_at = datetime.fromisoformat(alert["values"]["crossing_at"])
    started = datetime.fromisoformat(alert["started_at"])
    assert crossing_at > started  # predicted ahead: the series has not crossed yet
    assert max(series.values) < threshold
    [call] = poll(lambda: steady.received("firing"))
    assert verify_webhook(
        hook["secret"], call["headers"][TIMESTAMP_HEADER], call["headers"][SIGNATURE_HEADER], call["body"],
        time.time(),
    )  # fmt: skip

    # The actual values arrive (the trend goes on) and cross: the alert is materialized.
    actuals = series.values + ramp(HORIZON, offset=POINTS)
    series.seed(actuals)
    crossed = next(i for i, v in enumerate(actuals) if v > threshold)
    created = datetime.fromisoformat(rule["created_at"])
    evaluate_at(stack, created + HOUR + timedelta(seconds=1))
    done = poll(lambda: (a := api.get(f"/alerts/{alert['id']}").json()["alert"])["outcome"] and a, timeout=30)
    assert done["outcome"] == "materialized"
    assert datetime.fromisoformat(done["outcome_at"]) == series.time_of(crossed)
    assert done["lead_time_seconds"] == pytest.approx((series.time_of(crossed) - started).total_seconds())
    assert done["lead_time_seconds"] > 0  # it fired before the crossing
    stats = api.get(f"/alert-rules/{rule['id']}").json()["stats"]
    assert stats["fired"] == 1 and stats["materialized"] == 1 and stats["precision"] == 1.0
    assert stats["median_lead_time_seconds"] == pytest.approx(done["lead_time_seconds"])
