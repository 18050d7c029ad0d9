"""Retraining through the deployed stack in LocalStack: a policy fires when the retraining
scheduler Lambda is invoked at a chosen time; too little new data skips; on data that grew in
the sandbox the retrained challenger beats the champion on the same holdout and is promoted,
while the recurring forecasts continue on the same Orion entity and slot grid (no slot missed
or published twice, ``forecastSeries`` naming the job and model version); a manual trigger
during that run joins it as a second reason; a challenger trained on a corrupted window is not
promoted; with a concurrency limit of 1 a second model's training waits ``queued`` with its
position and starts after the first.

One module, one story (each step needs the previous one's champion). The network is tiny (two
epochs, 8 units) and the series short, to keep the whole under a few minutes. The forecast
scheduler is ticked by the test every few seconds (as the stack's every-minute rule would) while
the challenger trains.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from pymongo import MongoClient

from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import FINISHED, SERVICE, SERVICEPATH, create_model, job_url, start, wait_for
from tests.support.lambda_runtime import load_event

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

PERIOD = 48
NOISE_POINTS = 1000  # what the champion trains on: noise, nothing to learn
CLEAN_POINTS = 700  # what grows afterwards: a clean daily cycle
WINDOW = 600  # the policy's window: the most recent points


def noise(n: int, seed: int) -> list[float]:
    return [float(v) for v in np.random.default_rng(seed).normal(50.0, 20.0, n)]


def cycle(n: int, start: int = 0) -> list[float]:
    rng = np.random.default_rng(start)
    return [
        50.0 + 30.0 * math.sin(2 * math.pi * (start + i) / PERIOD) + float(rng.normal(0, 0.3))
        for i in range(n)
    ]


def aws(stack: dict[str, Any], service: str) -> Any:
    return local_client(service, stack["LocalStackUrl"])


def invoke(stack: dict[str, Any], function: str, event: dict[str, Any]) -> dict[str, Any]:
    response = aws(stack, "lambda").invoke(FunctionName=stack[function], Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def retraining_tick(stack: dict[str, Any], now: datetime) -> dict[str, Any]:
    event = {**load_event("schedule_retraining.json"), "id": str(uuid.uuid4()), "now": now.isoformat()}
    return invoke(stack, "ScheduleRetrainingFunctionName", event)


def poll[T](probe: Callable[[], T | None], timeout: float = 240, every: float = 1.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def seed(sandbox: SandboxControl, entity_id: str, values: list[float]) -> None:
    sandbox.seed(
        service=SERVICE,
        servicepath=SERVICEPATH,
        entity_type="ElectricityMeter",
        entity_id=entity_id,
        attr="demand",
        values=values,
    )


def orion_entity(stack: dict[str, Any], entity_id: str) -> dict[str, Any] | None:
    headers = {"Fiware-Service": SERVICE, "Fiware-ServicePath": SERVICEPATH}
    response = httpx.get(f"{stack['OrionUrl']}/v2/entities/{entity_id}", headers=headers, timeout=10)
    return dict(response.json()) if response.status_code == 200 else None


@pytest.fixture(scope="module")
def database(stack: dict[str, Any]) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack["MongoDbUri"], tz_aware=True)
    yield client[stack["MongoDbDatabase"]]
    client.close()


class ForecastTicker:
    """Invokes the forecast scheduler every few seconds in a thread (the every-minute rule)."""

    def __init__(self, stack: dict[str, Any]) -> None:
        self._stack = stack
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            event = {**load_event("schedule_forecasts.json"), "id": str(uuid.uuid4())}
            with contextlib.suppress(Exception):  # a failed tick is made up for by the next one
                invoke(self._stack, "ScheduleForecastsFunctionName", event)
            self._stop.wait(8)

    def __enter__(self) -> ForecastTicker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


class Concurrency:
    """Sets CHRONOS_TRAINING_MAX_CONCURRENT on the functions that admit queued trainings (the
    API, the reconciler, the retraining scheduler) and restores it."""

    FUNCTIONS = ("ApiFunctionName", "ReconcileTrainingFunctionName", "ScheduleRetrainingFunctionName")

    def __init__(self, stack: dict[str, Any], limit: int) -> None:
        self._lambda = aws(stack, "lambda")
        self._names = [stack[f] for f in self.FUNCTIONS]
        self._limit = limit
        self._saved: dict[str, dict[str, str]] = {}

    def _set(self, name: str, variables: dict[str, str]) -> None:
        self._lambda.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        poll(
            lambda: (
                self._lambda.get_function_configuration(FunctionName=name).get("LastUpdateStatus")
                in (None, "Successful")
            ),
            timeout=60,
        )

    def __enter__(self) -> Concurrency:
        for name in self._names:
            variables = self._lambda.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
            self._saved[name] = dict(variables)
            self._set(name, {**variables, "CHRONOS_TRAINING_MAX_CONCURRENT": str(self._limit)})
        return self

    def __exit__(self, *exc: object) -> None:
        for name, variables in self._saved.items():
            self._set(name, variables)


def finished(api: httpx.Client, model_id: str, job_id: str) -> dict[str, Any]:
    job = wait_for(api, model_id, job_id, lambda j: j["status"] in FINISHED, timeout=400)
    assert job["status"] == "completed", job["error"]
    return job


def test_retraining_end_to_end(
    api: httpx.Client, stack: dict[str, Any], sandbox: SandboxControl, database: Any
) -> None:
    # ---- the champion: trained on noise; recurring forecasts every minute on its entity
    entity_id = f"urn:ngsi-ld:ElectricityMeter:rt{uuid.uuid4().hex[:8]}"
    history = noise(NOISE_POINTS, 1)
    seed(sandbox, entity_id, history)
    model = create_model(api, entity_id)
    model_id = model["id"]
    champion = finished(api, model_id, start(api, model_id)["id"])
    assert api.get(f"/models/{model_id}").json()["serving"]["training_job_id"] == champion["id"]
    toggle = api.post(
        f"{job_url(model_id, champion['id'])}/prediction-toggle",
        json={"enabled": True, "interval_seconds": 60},
    )
    assert toggle.status_code == 200, toggle.text
    forecast_entity = toggle.json()["entity_id"]

    # ---- the policy: 5 fire times previewed; it fires only when invoked at a chosen time
    policy = {
        # 03:07, a minute no other policy of the shared database is likely to fire at (the
        # scheduler's tick is global: its counts include every policy due at that time)
        "schedule": {"cron": "7 3 * * *", "timezone": "Europe/Madrid"},
        "window": {"last_n": WINDOW},
        "min_new_points": 300,
        "cooldown": "PT1H",
        "max_per_day": 3,
        "promotion_margin": 0.05,
    }
    put = api.put(f"/models/{model_id}/retraining-policy", json=policy)
    assert put.status_code == 200, put.text
    fires = [datetime.fromisoformat(f["utc"].replace("Z", "+00:00")) for f in put.json()["next_fire_times"]]
    assert len(fires) == 5 and all(f.astimezone(UTC).hour in (1, 2) for f in fires)  # 03:00 Madrid
    bad = api.put(f"/models/{model_id}/retraining-policy", json={**policy, "cooldown": "later"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "cooldown"

    # first fire time: nothing new in STH -> recorded skipped, no training
    skipped = retraining_tick(stack, fires[0] + timedelta(seconds=20))
    assert skipped["outcomes"].get("skipped", 0) >= 1, skipped
    [run] = api.get(f"/models/{model_id}/retraining-runs").json()["items"]
    assert run["outcome"] == "skipped" and "not enough new data" in run["outcome_reason"]

    # ---- the data grows (a clean daily cycle); the second fire time retrains
    history += cycle(CLEAN_POINTS)
    seed(sandbox, entity_id, history)
    with ForecastTicker(stack):
        fired = retraining_tick(stack, fires[1] + timedelta(seconds=20))
        assert fired["claimed"] >= 1 and fired["outcomes"].get("started", 0) >= 1, fired
        assert retraining_tick(stack, fires[1] + timedelta(seconds=40))["due"] == 0  # once per fire time
        runs = api.get(f"/models/{model_id}/retraining-runs").json()["items"]
        assert [r["outcome"] for r in runs] == ["started", "skipped"], runs  # this model's own runs
        challenger_id = runs[0]["job_id"]
        # a manual trigger while it runs joins it as a second reason
        manual = api.post(f"/models/{model_id}/retrain", json={"reason": "operator check"})
        assert manual.status_code == 202 and manual.json()["outcome"] == "attached", manual.text
        assert manual.json()["job_id"] == challenger_id
        challenger = finished(api, model_id, challenger_id)
        assert [t["kind"] for t in challenger["triggers"]] == ["cron", "manual"]
        assert challenger["last_n"] == WINDOW
        comparison, promotion = challenger["comparison"], challenger["promotion"]
        assert comparison["champion_job_id"] == champion["id"] and comparison["windows"] > 0
        assert comparison["challenger_mae"] < 0.95 * comparison["champion_mae"], comparison
        assert promotion["promoted"] is True, promotion
        assert challenger["model_version"] == 2
        assert api.get(f"/models/{model_id}").json()["serving"]["training_job_id"] == challenger_id

        def published_by_challenger() -> dict[str, Any] | None:
            entity = orion_entity(stack, forecast_entity)
            value = (entity or {}).get("forecastSeries", {}).get("value", {})
            return value if value.get("trainingJobId") == challenger_id else None

        series = poll(published_by_challenger, timeout=180)
        assert series["modelVersion"] == 2
    # the recurring forecasts stayed on the champion's job, entity and slot grid: every slot once
    runs = sorted(database["forecast_runs"].find({"job_id": champion["id"]}), key=lambda r: r["slot"])
    slots = [r["slot"] for r in runs if r["status"] == "succeeded"]
    assert len(slots) >= 2
    assert all(b - a == timedelta(seconds=60) for a, b in zip(slots, slots[1:], strict=False)), slots
    assert len(set(slots)) == len(slots)
    assert (
        api.post(
            f"{job_url(model_id, champion['id'])}/prediction-toggle", json={"enabled": False}
        ).status_code
        == 200
    )
    predicted = api.post(f"/models/{model_id}/predict")
    assert predicted.status_code == 200 and predicted.json()["training_job_id"] == challenger_id
    events = [e["kind"] for e in api.get(f"/models/{model_id}/events").json()["items"]]
    assert events[0] == "promoted"

    # ---- a corrupted window; a limit of 1: a second model's training waits, then starts
    corrupted = history + [0.0] * 400 + cycle(200, start=len(history))
    seed(sandbox, entity_id, corrupted)
    other_entity = f"urn:ngsi-ld:ElectricityMeter:rq{uuid.uuid4().hex[:8]}"
    seed(sandbox, other_entity, cycle(700))
    other = create_model(api, other_entity)
    with Concurrency(stack, 1):
        worse = api.post(f"/models/{model_id}/retrain", json={"reason": "corrupted window"}).json()
        assert worse["outcome"] == "started", worse
        second = api.post(f"/models/{other['id']}/retrain").json()
        assert second["outcome"] == "queued", second
        queue = api.get("/training-queue").json()
        assert queue["global_limit"] == 1
        [waiting] = [w for w in queue["waiting"] if w["training_job_id"] == second["job_id"]]
        assert waiting["position"] >= 1 and waiting["estimated_wait_seconds"] is not None
        queued = api.get(job_url(other["id"], second["job_id"])).json()
        assert queued["status"] == "queued" and queued["queue"]["position"] == waiting["position"]

        kept = finished(api, model_id, worse["job_id"])
        assert kept["promotion"]["promoted"] is False and kept["promotion"]["reason"], kept["promotion"]
        assert api.get(f"/models/{model_id}").json()["serving"]["training_job_id"] == challenger_id
        assert api.get(f"/models/{model_id}/events").json()["items"][0]["kind"] == "challenger_kept"

        # the reconciler (every minute, and on every ended execution) sees the freed slot
        def admitted() -> dict[str, Any] | None:
            invoke(
                stack,
                "ReconcileTrainingFunctionName",
                {**load_event("reconcile_training.json"), "id": str(uuid.uuid4())},
            )
            job = api.get(job_url(other["id"], second["job_id"])).json()
            return job if job["status"] != "queued" or job["phase"] else None

        started = poll(admitted, timeout=90, every=3)
        assert started["status"] in ("pending", "collecting_data", "preprocessing", "queued", "training"), (
            started
        )
        api.post(f"{job_url(other['id'], second['job_id'])}/cancel")
