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
