"""Anomaly scans through the deployed stack (API Gateway → the anomaly-scan state machine in
LocalStack → the FIWARE sandbox): a model is trained once on a clean series, then the series is
re-seeded with known anomalies (spikes, a level shift, a stuck sensor) and scanned.

* a scan finds the injected anomalies, reports the stuck sensor as a data-quality issue, and
  upserts its events into Orion as Smart Data Models ``Anomaly`` entities in the model's tenant;
* a scan under transient STH faults retries and completes with every chunk scored;
* a scan stuck on a hanging STH is cancelled: its execution is stopped;
* a scan whose last chunk fails for good is failed, and its retry scores only that chunk.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import SERVICE, SERVICEPATH, iso, train_tiny

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

N = 3000
SPIKES = (800, 1700, 2600)
SHIFT = range(2100, 2124)
STUCK = range(1200, 1236)
DONE = {"completed", "completed_with_failures", "failed", "cancelled"}


def clean_series(seed: int = 3) -> list[float]:
    rng = np.random.default_rng(seed)
    i = np.arange(N)
    return [round(float(v), 3) for v in 10 + 3 * np.sin(2 * math.pi * i / 48) + 0.15 * rng.standard_normal(N)]


def with_anomalies(values: list[float]) -> list[float]:
    out = list(values)
    for i in SPIKES:
        out[i] += 15.0
    for i in SHIFT:
        out[i] -= 9.0
    for i in STUCK:
        out[i] = 10.0
    return out


@pytest.fixture(scope="module")
def scanned(api: httpx.Client, sandbox: SandboxControl) -> dict[str, Any]:
    """A model trained on the clean series, whose entity then holds the series with anomalies."""
    sandbox.clear_faults()
    values = clean_series()
    model, job, entity_id = train_tiny(api, sandbox, values, "scan", lookback_window=48, forecast_horizon=6)
    sandbox.seed(
        service=SERVICE,
        servicepath=SERVICEPATH,
        entity_type="ElectricityMeter",
        entity_id=entity_id,
        attr="demand",
        values=with_anomalies(values),
    )
    return {"model": model, "job": job, "entity_id": entity_id}


def scans_url(model_id: str, scan_id: str = "") -> str:
    return f"/models/{model_id}/anomaly-scans" + (f"/{scan_id}" if scan_id else "")


def start_scan(api: httpx.Client, model_id: str, **body: Any) -> dict[str, Any]:
    response = api.post(scans_url(model_id), json={"last_n": N, **body})
    assert response.status_code == 202, response.text
    assert response.headers["location"].endswith(response.json()["id"])
    return dict(response.json())


def wait_scan(
    api: httpx.Client,
    model_id: str,
    scan_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 240,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    scan: dict[str, Any] = {}
    while time.monotonic() < deadline:
        scan = api.get(scans_url(model_id, scan_id)).json()
        if done(scan):
            return scan
        time.sleep(1)
    raise AssertionError(f"scan did not reach the expected state in {timeout} s: {scan}")


def finished(scan: dict[str, Any]) -> bool:
    return scan["status"] in DONE


def test_a_scan_finds_the_injected_anomalies_and_publishes_them_to_orion(
    api: httpx.Client, sandbox: SandboxControl, scanned: dict[str, Any], stack: dict[str, Any]
) -> None:
    model_id = scanned["model"]["id"]
    scan = start_scan(api, model_id, sensitivity="medium", merge_gap=3)
    assert scan["status"] in {"pending", "queued", "running"} and scan["job_id"] == scanned["job"]["id"]
    done = wait_scan(api, model_id, scan["id"], finished)
    assert done["status"] == "completed", done["error"]
    progress = done["progress"]
    assert progress["chunks_total"] >= 2 and progress["chunks_done"] == progress["chunks_total"]
    assert progress["points_scored"] >= N * 0.9 and progress["percent"] == 100.0
    assert {"score", "combine", "publish"} <= set(done["phases"]) and done["duration_seconds"] is not None

    events = api.get(f"{scans_url(model_id, scan['id'])}/events", params={"limit": 1000}).json()
    assert events["total"] == len(events["items"]) == done["summary"]["events"]

    def covered(index: int) -> bool:
        at = iso(SandboxControl.seeded_time(index))
        return any(e["start"] <= at <= e["end"] for e in events["items"])

    assert all(covered(i) for i in SPIKES), events["items"]
    assert any(covered(i) for i in SHIFT), events["items"]
    spike = next(
        e for e in events["items"] if e["start"] <= iso(SandboxControl.seeded_time(SPIKES[0])) <= e["end"]
    )
    assert spike["peak_value"] > spike["expected"] + 5 and spike["breaches"][0]["threshold_type"] == "UPPER"
    assert 0 <= spike["severity"] <= 100 and spike["level"] in {"low", "medium", "high", "critical"}

    issues = api.get(f"{scans_url(model_id, scan['id'])}/data-quality").json()["items"]
    flat = [i for i in issues if i["kind"] == "flat_line"]
    assert flat and flat[0]["start"] == iso(SandboxControl.seeded_time(STUCK[0]))

    # Orion: one Anomaly entity per event, in the model's tenant
    response = httpx.get(
        f"{stack['OrionUrl']}/v2/entities",
        params={"type": "Anomaly", "limit": 1000, "options": "keyValues"},
        headers={"Fiware-Service": SERVICE, "Fiware-ServicePath": SERVICEPATH},
        timeout=10,
    )
    response.raise_for_status()
    mine = [
        e
        for e in response.json()
        if e["id"].startswith(f"urn:ngsi-ld:Anomaly:{uuid.UUID(scan['id']).hex[:12]}")
    ]
    assert len(mine) == events["total"] == done["summary"]["published"]
    entity = next(e for e in mine if e["dateDetected"] == spike["start"])
    assert entity["anomalousProperty"] == "demand" and entity["refSourceEntity"] == scanned["entity_id"]
    assert scan["id"] in entity["detectedBy"]
    assert entity["thresholdBreach"][0]["thresholdType"] == "UPPER"
    assert entity["thresholdBreach"][0]["measuredValue"] == pytest.approx(spike["peak_value"])


def test_a_scan_under_transient_sth_faults_retries_and_loses_no_chunk(
    api: httpx.Client, sandbox: SandboxControl, scanned: dict[str, Any]
) -> None:
    model_id = scanned["model"]["id"]
    sandbox.clear_requests()
    sandbox.faults(sth_fail_first=2)
    scan = start_scan(api, model_id, publish=False)
    done = wait_scan(api, model_id, scan["id"], finished)
    assert done["status"] == "completed", done["error"]
    assert done["progress"]["chunks_failed"] == 0 and done["failed_chunks"] == []
    assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"]
    statuses = [r["status"] for r in sandbox.requests()]
    assert 500 in statuses and 200 in statuses


def test_a_cancelled_scan_stops_its_execution(
    api: httpx.Client, sandbox: SandboxControl, scanned: dict[str, Any], stack: dict[str, Any]
) -> None:
    model_id = scanned["model"]["id"]
    scan = start_scan(api, model_id, publish=False)
    # from now on STH hangs: the execution is stuck in its Plan or ScoreChunk step
    sandbox.faults(sth_timeout_rate=1.0, sth_timeout_seconds=120)
    time.sleep(3)
    assert api.get(scans_url(model_id, scan["id"])).json()["status"] in {"queued", "running"}
    cancelled = api.post(f"{scans_url(model_id, scan['id'])}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    sandbox.clear_faults()
    sfn = local_client("stepfunctions", stack["LocalStackUrl"])
    arn = cancelled.json()["execution"]["arn"]
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert api.get(scans_url(model_id, scan["id"])).json()["status"] == "cancelled"
    assert api.post(f"{scans_url(model_id, scan['id'])}/retry").status_code == 409


def test_a_failed_scan_is_resumed_by_retry_without_rescoring_finished_chunks(
    api: httpx.Client, sandbox: SandboxControl, scanned: dict[str, Any]
) -> None:
    model_id = scanned["model"]["id"]
    # every STH page read from point 2500 on fails for good: the last chunk cannot be scored
    sandbox.faults(sth_fail_from_time=iso(sandbox.seeded_time(2500)))
    scan = start_scan(api, model_id, publish=False)
    failed = wait_scan(api, model_id, scan["id"], finished, timeout=300)
    assert failed["status"] == "failed"
    assert failed["error"]["error"] in {"TooManyFailedChunksError", "FiwareServerError"}
    assert len(failed["failed_chunks"]) == 1 and failed["failed_chunks"][0]["offset"] > 0
    assert failed["failed_chunks"][0]["cause"]
    scored_before = failed["progress"]["chunks_done"]
    assert scored_before == failed["progress"]["chunks_total"] - 1

    sandbox.clear_faults()
    sandbox.clear_requests()
    retried = api.post(f"{scans_url(model_id, scan['id'])}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["execution"]["attempt"] == 2
    done = wait_scan(api, model_id, scan["id"], finished)
    assert done["status"] == "completed", done["error"]
    assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"]
    # only the failed (last) chunk was read again, with its context: rescoring the second chunk
    # would read from its context, before point 1000, and the first from point 0
    window_start = iso(sandbox.seeded_time(1000))
    reads = [r for r in sth_reads(sandbox) if "dateFrom=" in r["query"]]
    assert reads and all(_date_from(r["query"]) >= window_start for r in reads)


def sth_reads(sandbox: SandboxControl) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["method"] == "GET" and "/STH/" in r["path"]]


def _date_from(query: str) -> str:
    from urllib.parse import parse_qs

    return parse_qs(query)["dateFrom"][0]
