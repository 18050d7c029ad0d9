"""Helpers the end-to-end tests (and bench/bench_forecasts.py) share: the tenant, a tiny model
configuration, starting and waiting for training jobs, seeding series into the sandbox."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import httpx

from tests.e2e.conftest import SandboxControl

SERVICE = "energy"
SERVICEPATH = "/e2e"
FINISHED = {"completed", "failed", "cancelled"}


def seed_series(sandbox: SandboxControl, values: Sequence[float], prefix: str = "") -> str:
    """A fresh ElectricityMeter entity whose ``demand`` history is ``values``; returns its id."""
    entity_id = f"urn:ngsi-ld:ElectricityMeter:{prefix}{uuid.uuid4().hex[:8]}"
    sandbox.seed(
        service=SERVICE,
        servicepath=SERVICEPATH,
        entity_type="ElectricityMeter",
        entity_id=entity_id,
        attr="demand",
        values=list(values),
    )
    return entity_id


def create_model(api: httpx.Client, entity_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "model_type": "gru",
        "rnn_layers": [{"units": 8, "dropout": 0.0}],
        "lookback_window": 48,
        "forecast_horizon": 12,
        "epochs": 2,
        "batch_size": 64,
        "feature": "demand",
        "entity_type": "ElectricityMeter",
        "entity_id": entity_id,
        "fiware_service": SERVICE,
        "fiware_servicepath": SERVICEPATH,
        **overrides,
    }
    response = api.post("/models/", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def iso(value: datetime) -> str:
    """``value`` as the sandbox's control API and FIWARE take it (ISO 8601, ``Z``)."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_url(model_id: str, job_id: str = "") -> str:
    return f"/models/{model_id}/training-jobs" + (f"/{job_id}" if job_id else "")


def wait_for(
    api: httpx.Client,
    model_id: str,
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 300,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = api.get(job_url(model_id, job_id)).json()
        if done(job):
            return job
        time.sleep(1)
    raise AssertionError(f"job did not reach the expected state in {timeout} s: {job.get('status')} {job}")


def start(api: httpx.Client, model_id: str, **body: Any) -> dict[str, Any]:
    response = api.post(job_url(model_id), json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"].endswith(response.json()["id"])
    return dict(response.json())


def train_tiny(
    api: httpx.Client, sandbox: SandboxControl, values: Sequence[float], prefix: str = "", **overrides: Any
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Seed a series, train the tiny model on it to completion: ``(model, finished job, entity id)``."""
    entity_id = seed_series(sandbox, values, prefix)
    model = create_model(api, entity_id, **overrides)
    job = start(api, model["id"])
    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    return model, done, entity_id
