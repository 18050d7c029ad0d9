"""Forecasts after the sensor dropped readings, through the deployed stack in LocalStack (issue 13).

One tiny model is trained on the complete Taylor series (as in test_forecasts). Each test then
replaces the series in the sandbox STH with the same readings minus a few recent ones, and asks
for a forecast: a gap within the model's interpolation limit is filled as in training
(``interpolated``), a longer one is bridged (``degraded``), and two readings after a long outage
still get a forecast from the last value (``degraded``). The recurring path publishes the quality
to Orion (``forecastQuality``) and keeps it in the job's ``last_forecast``.

What is served depends on the promotion gate (network, seasonal naive or last value); the
expected quality follows from the served forecaster's context, which is at least the lookback
(48) for the network and one season for seasonal naive, and 1 for the last value.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

import httpx
import pytest

from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import SERVICE, SERVICEPATH, job_url, train_tiny
from tests.support.lambda_runtime import load_event

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

HORIZON = 12
LOOKBACK = 48
#: Readings dropped in the outage test: more than any served context (48 + a weekly season of 336).
OUTAGE = 1000


@pytest.fixture(scope="module")
def trained(api: httpx.Client, sandbox: SandboxControl) -> dict[str, Any]:
    """A model trained on the complete Taylor series (tiny network): ``{model, job, entity_id,
    values}``."""
    from local.fiware_sandbox.seed import load_taylor

    sandbox.clear_faults()
    values = load_taylor()
    model, done, entity_id = train_tiny(
        api, sandbox, values, "gap", lookback_window=LOOKBACK, forecast_horizon=HORIZON
    )
    assert done["serving"] in ("network", "seasonal_naive", "last_value")
    return {"model": model, "job": done, "entity_id": entity_id, "values": list(values)}


def drop_readings(sandbox: SandboxControl, trained: dict[str, Any], dropped: Collection[int]) -> None:
    """Replace the series in STH by the training readings without those at ``dropped``."""
    sandbox.seed(
        service=SERVICE,
        servicepath=SERVICEPATH,
        entity_type="ElectricityMeter",
        entity_id=trained["entity_id"],
        attr="demand",
        values=trained["values"],
        skip=dropped,
    )


def predict(api: httpx.Client, trained: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"{job_url(trained['model']['id'], trained['job']['id'])}/predict")
    assert response.status_code == 200, response.text
    body = dict(response.json())
    assert len(body["forecast"]) == HORIZON
    return body


def limit_of(trained: dict[str, Any]) -> int:
    """The model's interpolation limit, as the job's data quality records it (3 by default)."""
    return int(trained["job"]["data_quality"]["max_interpolated_gap"])


# --------------------------------------------------------------------------------- on demand


def test_a_short_gap_within_the_limit_is_interpolated(
    api: httpx.Client, sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    n = len(trained["values"])
    missing = min(2, limit_of(trained))
    drop_readings(sandbox, trained, range(n - 2 - missing, n - 2))
    body = predict(api, trained)
    served = trained["job"]["serving"]
    assert body["serving"] == served  # no fallback for a gap within the limit
    if served == "last_value":  # its context is the last reading alone, which is observed
        assert body["quality"] == {"status": "ok", "interpolated_points": 0, "reason": None}
    else:
        assert body["quality"] == {"status": "interpolated", "interpolated_points": missing, "reason": None}


def test_a_gap_over_the_limit_still_gets_a_forecast_marked_degraded(
    api: httpx.Client, sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    n = len(trained["values"])
    missing = limit_of(trained) + 5
    drop_readings(sandbox, trained, range(n - 4 - missing, n - 4))  # 4 readings after the gap
    body = predict(api, trained)
    served = trained["job"]["serving"]
    quality = body["quality"]
    if served == "last_value":
        assert body["serving"] == "last_value" and quality["status"] == "ok"
        return
    # The served context (>= 48 values) holds the whole gap and keeps most values observed: the
    # gap is bridged and the served forecaster still runs.
    assert body["serving"] == served
    assert quality["status"] == "degraded" and quality["interpolated_points"] == missing
    assert f"gap of {missing} missing points" in quality["reason"]
    assert "bridged by linear interpolation" in quality["reason"]


def test_two_readings_after_a_long_outage_fall_back_to_the_last_value(
    api: httpx.Client, sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    values = trained["values"]
    n = len(values)
    drop_readings(sandbox, trained, range(n - 2 - OUTAGE, n - 2))
    body = predict(api, trained)
    assert body["serving"] == "last_value"
    assert [p["value"] for p in body["forecast"]] == pytest.approx([values[-1]] * HORIZON)
    quality = body["quality"]
    if trained["job"]["serving"] == "last_value":
        assert quality["status"] == "ok"
    else:
        assert quality["status"] == "degraded" and quality["interpolated_points"] == 0
        assert quality["reason"].startswith(f"The latest 2 points follow a gap of {OUTAGE} missing points")
        assert quality["reason"].endswith("Served the last value instead.")


def test_no_reading_at_all_is_refused_naming_the_series(
    api: httpx.Client, sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    drop_readings(sandbox, trained, range(len(trained["values"])))
    response = api.post(f"{job_url(trained['model']['id'], trained['job']['id'])}/predict")
    assert response.status_code == 502, response.text
    assert f"holds no point of {trained['entity_id']}/demand" in response.json()["message"]


# --------------------------------------------------------------------------------- recurring


def invoke_scheduler(stack: dict[str, Any]) -> None:
    event = load_event("schedule_forecasts.json")
    event["id"] = str(uuid.uuid4())
    response = local_client("lambda", stack["LocalStackUrl"]).invoke(
        FunctionName=stack["ScheduleForecastsFunctionName"], Payload=json.dumps(event).encode()
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload


def poll[T](probe: Callable[[], T | None], timeout: float = 90, every: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def test_a_recurring_forecast_publishes_its_quality_and_keeps_it_in_the_job(
    api: httpx.Client, stack: dict[str, Any], sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    values = trained["values"]
    n = len(values)
    drop_readings(sandbox, trained, range(n - 2 - OUTAGE, n - 2))  # the outage above
    expected = predict(api, trained)["quality"]
    model_id, job_id = trained["model"]["id"], trained["job"]["id"]
    toggle = f"{job_url(model_id, job_id)}/prediction-toggle"
    enabled = api.post(toggle, json={"enabled": True, "interval_seconds": 60})
    assert enabled.status_code == 200, enabled.text
    entity_id = enabled.json()["entity_id"]
    headers = {"Fiware-Service": SERVICE, "Fiware-ServicePath": SERVICEPATH}
    try:
        invoke_scheduler(stack)

        def published() -> dict[str, Any] | None:
            response = httpx.get(f"{stack['OrionUrl']}/v2/entities/{entity_id}", headers=headers, timeout=10)
            entity = response.json() if response.status_code == 200 else None
            return entity if entity and "forecastQuality" in entity else None

        entity = poll(published)
        attribute = entity["forecastQuality"]
        assert attribute["type"] == "StructuredValue"
        assert attribute["metadata"]["TimeInstant"]["type"] == "DateTime"
        assert attribute["value"]["status"] == expected["status"]
        assert attribute["value"]["interpolatedPoints"] == expected["interpolated_points"]
        assert attribute["value"].get("reason") == expected["reason"]  # plain text, nothing to strip
        assert entity["forecastSeries"]["value"]["serving"] == "last_value"
        assert len(entity["forecastSeries"]["value"]["points"]) == HORIZON

        def succeeded() -> dict[str, Any] | None:
            last = api.get(job_url(model_id, job_id)).json().get("last_forecast")
            return last if last and last["status"] == "succeeded" else None

        last = poll(succeeded)
        assert last["quality"] == expected and last["points"] == HORIZON
    finally:
        api.post(toggle, json={"enabled": False})
