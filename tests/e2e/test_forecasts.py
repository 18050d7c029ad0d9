"""Forecasts through the deployed stack in LocalStack: on-demand predict through API Gateway,
recurring forecasts (toggle -> scheduler Lambda -> SQS -> forecast Lambda -> Orion -> STH),
an Orion outage ending in the dead-letter queue, and disable.

One job is trained once for the module (the tiny configuration of test_training_pipeline). The
scheduler is invoked directly with the sample EventBridge event to keep the tests short; the
stack's own every-minute rule may fire too, which changes nothing (claims are atomic).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import (
    FINISHED,
    SERVICE,
    SERVICEPATH,
    create_model,
    job_url,
    start,
    train_tiny,
    wait_for,
)
from tests.support.lambda_runtime import load_event

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

HORIZON = 12
LOOKBACK = 48


def aws(stack: dict[str, Any], service: str) -> Any:
    return local_client(service, stack["LocalStackUrl"])


@pytest.fixture(scope="module")
def jobs_collection(stack: dict[str, Any]) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack["MongoDbUri"], tz_aware=True)
    yield client[stack["MongoDbDatabase"]]["training_jobs"]
    client.close()


@pytest.fixture(scope="module")
def trained(api: httpx.Client, sandbox: SandboxControl) -> dict[str, Any]:
    """A model trained on the Taylor series (tiny network): ``{model, job, entity_id}``."""
    from local.fiware_sandbox.seed import load_taylor

    sandbox.clear_faults()
    model, done, entity_id = train_tiny(
        api, sandbox, load_taylor(), "fc", lookback_window=LOOKBACK, forecast_horizon=HORIZON
    )
    return {"model": model, "job": done, "entity_id": entity_id}


def predict_url(model_id: str, job_id: str, suffix: str = "predict") -> str:
    return f"{job_url(model_id, job_id)}/{suffix}"


def tenant_headers() -> dict[str, str]:
    return {"Fiware-Service": SERVICE, "Fiware-ServicePath": SERVICEPATH}


def orion_entity(stack: dict[str, Any], entity_id: str) -> dict[str, Any] | None:
    response = httpx.get(f"{stack['OrionUrl']}/v2/entities/{entity_id}", headers=tenant_headers(), timeout=10)
    return dict(response.json()) if response.status_code == 200 else None


def invoke_scheduler(stack: dict[str, Any]) -> dict[str, Any]:
    event = load_event("schedule_forecasts.json")
    event["id"] = str(uuid.uuid4())
    response = aws(stack, "lambda").invoke(
        FunctionName=stack["ScheduleForecastsFunctionName"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def backdate(jobs: Any, job_id: str, seconds: float = 5) -> datetime:
    """Make the job due now (as if its slot had passed)."""
    slot = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds)
    jobs.update_one({"id": job_id}, {"$set": {"next_prediction_at": slot}})
    return slot


def poll[T](probe: Callable[[], T | None], timeout: float = 90, every: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


# --------------------------------------------------------------------------------- on demand


def test_predict_through_api_gateway(api: httpx.Client, trained: dict[str, Any]) -> None:
    model, job = trained["model"], trained["job"]
    response = api.post(predict_url(model["id"], job["id"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == model["id"] and body["training_job_id"] == job["id"]
    assert body["forecast_horizon"] == HORIZON and len(body["forecast"]) == HORIZON
    assert body["lookback_window"] == LOOKBACK and len(body["context"]) >= LOOKBACK
    assert body["interval_seconds"] == pytest.approx(1800, rel=0.01)
    last = datetime.fromisoformat(body["last_observation"])
    for point in body["forecast"]:
        target = datetime.fromisoformat(point["target_timestamp"])
        assert target == last + timedelta(seconds=point["step"] * body["interval_seconds"])
        assert isinstance(point["value"], float)
        # split-conformal intervals around every point, the 95 % band containing the 80 % one
        assert point["lower"]["95"] <= point["lower"]["80"] <= point["value"] <= point["upper"]["80"]
        assert point["upper"]["80"] <= point["upper"]["95"]
    assert body["serving"] in ("network", "seasonal_naive", "last_value", "blend")
    assert body["generated_at"].endswith("Z")
    assert body["metadata"]["artifacts"]["inference"] == job["artifacts"]["inference"]


def test_predict_without_trained_model_is_409(api: httpx.Client, trained: dict[str, Any]) -> None:
    model = create_model(api, trained["entity_id"])
    job = start(api, model["id"])
    api.post(f"{job_url(model['id'], job['id'])}/cancel")
    response = api.post(predict_url(model["id"], job["id"]))
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "conflict"
    toggle = api.post(predict_url(model["id"], job["id"], "prediction-toggle"), json={"enabled": True})
    assert toggle.status_code == 409, toggle.text


def test_predict_when_sth_fails_is_502(
    api: httpx.Client, sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    sandbox.faults(sth_error_rate=1.0)
    response = api.post(predict_url(trained["model"]["id"], trained["job"]["id"]))
    assert response.status_code == 502, response.text
    body = response.json()
    assert "STH-Comet" in body["message"]


# --------------------------------------------------------------------------------- recurring


def test_recurring_forecasts_end_to_end(
    api: httpx.Client,
    stack: dict[str, Any],
    sandbox: SandboxControl,
    trained: dict[str, Any],
    jobs_collection: Any,
) -> None:
    model, job = trained["model"], trained["job"]
    toggle_url = predict_url(model["id"], job["id"], "prediction-toggle")
    enabled = api.post(toggle_url, json={"enabled": True, "interval_seconds": 60})
    assert enabled.status_code == 200, enabled.text
    config = enabled.json()
    entity_id = config["entity_id"]
    assert entity_id.startswith("urn:ngsi-ld:Chronos:Prediction:") and config["enabled"] is True
    assert config["subscription_id"] and config["next_prediction_at"]
    assert config["interval_seconds"] == 60

    # Enabling again is idempotent: same subscription, same schedule.
    again = api.post(toggle_url, json={"enabled": True, "interval_seconds": 60}).json()
    assert again["subscription_id"] == config["subscription_id"]
    assert again["next_prediction_at"] == config["next_prediction_at"]

    # FIWARE resources: service group with a random key, device, entity, subscription to STH.
    iota = httpx.get(f"{stack['IotAgentUrl']}/iot/groups", headers=tenant_headers(), timeout=10).json()
    group = next(g for g in iota["groups"] if g["resource"] == "/chronos/forecast")
    assert group["apikey"] not in ("CHRONOS_FORECAST", "") and len(group["apikey"]) == 32
    stored = jobs_collection.find_one({"id": job["id"]})
    device = httpx.get(
        f"{stack['IotAgentUrl']}/iot/devices/{stored['prediction_config']['device_id']}",
        headers=tenant_headers(),
        timeout=10,
    )
    assert device.status_code == 200 and device.json()["entity_name"] == entity_id
    subscription = httpx.get(
        f"{stack['OrionUrl']}/v2/subscriptions/{config['subscription_id']}",
        headers=tenant_headers(),
        timeout=10,
    ).json()
    assert subscription["notification"]["http"]["url"].endswith("/notify")
    assert subscription["notification"]["attrsFormat"] == "legacy"
    assert isinstance(stored["next_prediction_at"], datetime)  # a BSON date, not a string

    # Scheduler (invoked directly) -> SQS -> forecast Lambda -> Orion.
    tick = invoke_scheduler(stack)
    assert set(tick) >= {"due", "claimed", "enqueued"}

    def published() -> dict[str, Any] | None:
        entity = orion_entity(stack, entity_id)
        return entity if entity and "forecastSeries" in entity else None

    entity = poll(published)
    series = entity["forecastSeries"]
    assert series["type"] == "StructuredValue"
    assert series["metadata"]["TimeInstant"]["type"] == "DateTime"
    value = series["value"]
    assert value["horizon"] == HORIZON and len(value["points"]) == HORIZON
    assert [p["step"] for p in value["points"]] == list(range(1, HORIZON + 1))
    assert all(p["lower"]["95"] <= p["value"] <= p["upper"]["95"] for p in value["points"])
    assert value["serving"] in ("network", "seasonal_naive", "last_value", "blend")
    assert entity["sourceEntity"] == {"type": "Relationship", "value": trained["entity_id"], "metadata": {}}
    assert entity["feature"]["value"] == "demand"

    after = poll(
        lambda: (
            (j := jobs_collection.find_one({"id": job["id"]}))["last_forecast"]["status"] == "succeeded" and j
        )
    )
    last = after["last_forecast"]
    assert last["points"] == HORIZON and last["error"] is None and last["finished_at"] >= last["started_at"]
    slot = last["slot"]
    interval = timedelta(seconds=60)
    assert after["next_prediction_at"] > datetime.now(UTC) - timedelta(seconds=5)
    assert (after["next_prediction_at"] - slot) % interval == timedelta(0)  # on the grid, no drift

    # The subscription fed STH: the history lists the forecast, newest first.
    httpx.post(f"{stack['SthUrl']}/_sandbox/drain", params={"timeout": 5}, timeout=10)
    history = poll(
        lambda: (
            (r := api.get(predict_url(model["id"], job["id"], "predictions/history"))).json()["items"] and r
        )
    ).json()
    assert history["entity_id"] == entity_id and history["total"] >= 1
    newest = history["items"][0]
    assert newest["horizon"] == HORIZON and len(newest["points"]) == HORIZON
    stamps = [item["generated_at"] for item in history["items"]]
    assert stamps == sorted(stamps, reverse=True)

    # Disable: the subscription is removed and the scheduler no longer claims the job.
    disabled = api.post(toggle_url, json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    gone = httpx.get(
        f"{stack['OrionUrl']}/v2/subscriptions/{config['subscription_id']}",
        headers=tenant_headers(),
        timeout=10,
    )
    assert gone.status_code == 404
    generated = published()["forecastSeries"]["value"]["generatedAt"]  # type: ignore[index]
    jobs_collection.update_one({"id": job["id"]}, {"$set": {"next_prediction_at": datetime.now(UTC)}})
    invoke_scheduler(stack)
    time.sleep(5)
    assert published()["forecastSeries"]["value"]["generatedAt"] == generated  # type: ignore[index]
    assert jobs_collection.find_one({"id": job["id"]})["last_forecast"]["slot"] == slot


def test_orion_outage_ends_in_the_dead_letter_queue(
    api: httpx.Client,
    stack: dict[str, Any],
    sandbox: SandboxControl,
    trained: dict[str, Any],
    jobs_collection: Any,
) -> None:
    model, job = trained["model"], trained["job"]
    toggle_url = predict_url(model["id"], job["id"], "prediction-toggle")
    assert api.post(toggle_url, json={"enabled": True, "interval_seconds": 60}).status_code == 200
    sandbox.faults(orion_down=True)
    slot = backdate(jobs_collection, job["id"])
    invoke_scheduler(stack)

    sqs = aws(stack, "sqs")

    def dead_lettered() -> dict[str, Any] | None:
        messages = sqs.receive_message(
            QueueUrl=stack["ForecastDeadLetterQueueUrl"],
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        ).get("Messages", [])
        for message in messages:
            sqs.delete_message(
                QueueUrl=stack["ForecastDeadLetterQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
            )
            body = json.loads(message["Body"])
            if body["job_id"] == job["id"]:
                return dict(body)
        return None

    body = poll(dead_lettered, timeout=120)
    assert datetime.fromisoformat(body["slot"]) >= slot
    failed = jobs_collection.find_one({"id": job["id"]})["last_forecast"]
    assert failed["status"] == "failed" and failed["final"] is True
    assert failed["attempt"] >= 2 and "Orion" in failed["error"]
    assert failed["finished_at"] is not None
    sandbox.clear_faults()
    api.post(toggle_url, json={"enabled": False})


def test_deleting_the_job_removes_forecast_resources(
    api: httpx.Client, stack: dict[str, Any], trained: dict[str, Any], jobs_collection: Any
) -> None:
    model = create_model(api, trained["entity_id"])
    job = start(api, model["id"])
    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    config = api.post(predict_url(model["id"], job["id"], "prediction-toggle"), json={"enabled": True}).json()
    assert orion_entity(stack, config["entity_id"]) is not None
    assert api.delete(job_url(model["id"], job["id"])).status_code == 204
    assert orion_entity(stack, config["entity_id"]) is None
    subscription = httpx.get(
        f"{stack['OrionUrl']}/v2/subscriptions/{config['subscription_id']}",
        headers=tenant_headers(),
        timeout=10,
    )
    assert subscription.status_code == 404
