"""The database stops under the deployed API: bounded retries, then 503 with Retry-After; the API
recovers once it is back. Runs last (file name) because it stops the shared server."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "local"))

import procs  # noqa: E402
import stack as local_stack  # noqa: E402

pytestmark = pytest.mark.e2e
PID_FILE = ROOT / ".local" / "run" / "ferretdb.pid"


def test_database_outage_is_503_then_recovers(
    api: httpx.Client, stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    if procs.running(PID_FILE) is None:
        pytest.skip("FerretDB is not managed by this stack (MONGODB_URI points elsewhere)")
    model_id = api.post(
        "/models/",
        json={
            "model_type": "lstm",
            "rnn_layers": [{"units": 4}],
            "feature": "level",
            "entity_type": "Tank",
            "entity_id": "urn:ngsi-ld:Tank:outage",
            "fiware_service": "e2e",
        },
    ).json()["id"]
    assert procs.stop(PID_FILE)
    try:
        started = time.perf_counter()
        response = api.get(f"/models/{model_id}")
        elapsed = time.perf_counter() - started
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "dependency_unavailable"
        assert int(response.headers["retry-after"]) > 0
        assert elapsed < 29, f"the API hung for {elapsed:.1f} s"
        health = api.get("/health")
        assert health.status_code in (200, 503)  # cached up to 5 s, then 503
    finally:
        monkeypatch.delenv("MONGODB_URI", raising=False)  # the stack's own server: restart it
        local_stack.start_ferretdb(local_stack.Endpoints.from_env())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api.get(f"/models/{model_id}").status_code == 200:
            break
        time.sleep(1)
    assert api.get(f"/models/{model_id}").status_code == 200
    assert api.delete(f"/models/{model_id}").status_code == 204


OUTAGE_SECONDS = 150


def test_an_outage_during_collection_and_training_leaves_every_job_terminal_truthful_and_retryable(
    api: httpx.Client, stack: dict[str, Any], sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MongoDB stops for minutes while one job trains and two collect: no job stays running,
    every failure says what happened, and every failed job can be retried to completion."""
    from local.fiware_sandbox.seed import load_taylor
    from tests.e2e.helpers import FINISHED, create_model, iso, job_url, seed_series, start, wait_for

    if procs.running(PID_FILE) is None:
        pytest.skip("FerretDB is not managed by this stack (MONGODB_URI points elsewhere)")
    taylor = load_taylor()
    sandbox.clear_faults()
    trains = create_model(
        api,
        seed_series(sandbox, taylor, "outage-t"),
        epochs=300,
        early_stopping_patience=300,
        rnn_layers=[{"units": 32}],
    )
    training = start(api, trains["id"])
    wait_for(
        api, trains["id"], training["id"], lambda j: j["status"] == "training" and j["progress"]["epoch"] >= 1
    )
    stalls = create_model(api, seed_series(sandbox, taylor, "outage-c"))
    stall = iso(sandbox.seeded_time(1))
    sandbox.faults(sth_fail_from_time=stall)  # admission and planning work; collection stalls in retries
    collecting = start(api, stalls["id"])
    wait_for(api, stalls["id"], collecting["id"], lambda j: j["status"] == "collecting_data", timeout=60)
    sandbox.clear_faults()
    starting = create_model(api, seed_series(sandbox, taylor, "outage-p"))
    planned = start(api, starting["id"])  # the outage meets it in planning, collection or preparation
    jobs = [(trains, training), (stalls, collecting), (starting, planned)]
    before = [api.get(job_url(m["id"], j["id"])).json()["status"] for m, j in jobs]
    assert not set(before) & set(FINISHED), before  # the outage meets three running jobs

    assert procs.stop(PID_FILE)
    try:
        sandbox.faults(sth_fail_from_time=stall)  # the stalled collection keeps failing too
        time.sleep(OUTAGE_SECONDS)
    finally:
        sandbox.clear_faults()
        monkeypatch.delenv("MONGODB_URI", raising=False)
        local_stack.start_ferretdb(local_stack.Endpoints.from_env())

    ended = [wait_for(api, m["id"], j["id"], lambda d: d["status"] in FINISHED, timeout=480) for m, j in jobs]
    for (model, _), job in zip(jobs, ended, strict=True):
        assert api.get(f"/models/{model['id']}").json()["status"] != "training", job
        if job["status"] == "failed":
            error = job["error"]
            assert error["cause"] and error["error"] not in ("TrainingFailed", "States.ALL"), error
            assert "its error is recorded on the job" not in error["cause"], error
    for (model, _), job in zip(jobs, ended, strict=True):
        if job["status"] == "failed":
            retried = api.post(job_url(model["id"], job["id"]) + "/retry")
            assert retried.status_code == 202, retried.text
    for (model, _), job in zip(jobs, ended, strict=True):
        if job["status"] == "failed":  # whether a job rode the outage out in retries depends on timing
            done = wait_for(api, model["id"], job["id"], lambda d: d["status"] in FINISHED, timeout=480)
            assert done["status"] == "completed", done["error"]
        else:
            assert job["status"] == "completed", job
