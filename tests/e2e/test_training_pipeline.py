"""The training pipeline through the deployed state machine in LocalStack, against the sandbox
seeded with the half-hourly electricity demand series."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from pymongo import MongoClient

from local.fiware_sandbox.seed import load_taylor
from local.stack import local_client
from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import FINISHED, create_model, iso, job_url, seed_series, start, wait_for

TAYLOR_POINTS = 4032

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]


@pytest.fixture(scope="module")
def taylor() -> list[float]:
    return load_taylor()


@pytest.fixture
def series(sandbox: SandboxControl, taylor: list[float]) -> str:
    """A fresh entity holding the 4032-point series; returns its id."""
    return seed_series(sandbox, taylor)


def sfn_client(stack: dict[str, Any]) -> Any:
    return local_client("stepfunctions", stack["LocalStackUrl"])


def train_step_logs(stack: dict[str, Any], job_id: str) -> str:
    """Everything the local Train step (functions/trainer/local_batch.py) logged for ``job_id``:
    its own lines and the trainer process's, forwarded."""
    functions = local_client("lambda", stack["LocalStackUrl"]).list_functions()["Functions"]
    [name] = [f["FunctionName"] for f in functions if "TrainModelFunction" in f["FunctionName"]]
    logs = local_client("logs", stack["LocalStackUrl"])
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern=f'"{job_id}"')["events"]
    return "\n".join(e["message"] for e in events)


def test_training_goes_through_every_phase(api: httpx.Client, stack: dict[str, Any], series: str) -> None:
    model = create_model(api, series)
    job = start(api, model["id"])
    assert job["status"] == "pending" and job["last_n"] == 4032

    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    assert set(done["phases"]) == {"collect", "prepare", "train", "finalize"}
    assert all(p["seconds"] is not None and p["seconds"] >= 0 for p in done["phases"].values())
    progress = done["progress"]
    assert progress["chunks_done"] == progress["chunks_total"] >= 2
    assert progress["points_collected"] == 4032
    assert progress["epoch"] == progress["epochs"] == 2
    assert len(done["history"]) == 2
    assert done["data_quality"]["raw_points"] == 4032
    assert done["sampling_interval_seconds"] == pytest.approx(1800, rel=0.01)
    assert {"mae", "rmse", "mase"} <= set(done["metrics"]["test"])
    assert set(done["artifacts"]) >= {"model", "inference", "x_scaler", "y_scaler", "metadata"}
    trained = api.get(f"/models/{model['id']}").json()
    assert trained["status"] == "trained"
    assert (
        trained["serving"]["serving"]
        == done["serving"]
        in ("network", "seasonal_naive", "last_value", "blend")
    )
    scored = set(trained["serving"]["validation_scores"])
    assert (
        {"network", "seasonal_naive", "last_value"}
        <= scored
        <= {"network", "seasonal_naive", "last_value", "blend"}
    )
    assert done["selection"]["evidence"] and done["selection"]["evidence"][0]["test"]["windows"] > 0
    assert done["metrics"]["baselines"]["season_evidence"]["chosen"] == done["selection"]["season_length"]
    assert done["metrics"]["test_coverage"]["95"] is not None
    # Trained by the Batch container's command, run as a process by the local Train step.
    batch_job_id = done["execution"]["batch_job_id"]
    assert batch_job_id.startswith("local-")
    logs = train_step_logs(stack, job["id"])
    assert "Starting the trainer" in logs and "chronos_trainer" in logs
    assert "training job finished" in logs  # the trainer process's own log line, forwarded

    sfn = sfn_client(stack)
    arn = done["execution"]["arn"]
    deadline = time.monotonic() + 30  # the finalize step returns just after it marks the job completed
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    history = sfn.get_execution_history(executionArn=arn)["events"]
    types = [e["type"] for e in history]
    assert types[-1] == "ExecutionSucceeded"
    assert "MapStateEntered" in types


def test_transient_sth_failures_are_retried(api: httpx.Client, sandbox: SandboxControl, series: str) -> None:
    model = create_model(api, series)
    sandbox.clear_requests()
    sandbox.faults(sth_fail_first=2)
    job = start(api, model["id"])
    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    statuses = [r["status"] for r in sandbox.requests()]
    assert 500 in statuses and 200 in statuses


def test_permanent_failure_then_retry_skips_collected_chunks(
    api: httpx.Client, sandbox: SandboxControl, series: str
) -> None:
    model = create_model(api, series)
    # Collection pages by time: every page reading from point 3000 on fails, for good.
    sandbox.faults(sth_fail_from_time=iso(sandbox.seeded_time(3000)))
    job = start(api, model["id"])
    failed = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert failed["status"] == "failed"
    assert failed["error"]["phase"] == "collect"
    assert failed["error"]["cause"]
    assert api.get(f"/models/{model['id']}").json()["status"] == "draft"
    collected_before = failed["progress"]["chunks_done"]
    assert collected_before >= 1

    sandbox.clear_faults()
    sandbox.clear_requests()
    retried = api.post(job_url(model["id"], job["id"]) + "/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["execution"]["attempt"] == 2
    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    starts = [
        datetime.fromisoformat(unquote(part.split("=", 1)[1]).replace("Z", "+00:00"))
        for r in sandbox.requests()
        for part in r["query"].split("&")
        if part.startswith("dateFrom=")
    ]
    assert starts, "the retry fetched nothing"
    # The job's window is the whole series, sliced into equal spans of time (slice_by_time).
    first, last = sandbox.seeded_time(0), sandbox.seeded_time(TAYLOR_POINTS - 1)
    span_ms = (last - first) // timedelta(milliseconds=1) + 1
    total = done["progress"]["chunks_total"]
    uncollected_from = first + timedelta(milliseconds=collected_before * span_ms // total)
    assert min(starts) >= uncollected_from, (
        f"chunks collected before the failure were fetched again: {min(starts)} < {uncollected_from}"
    )


def test_cancel_during_collection(api: httpx.Client, sandbox: SandboxControl, series: str) -> None:
    model = create_model(api, series)
    # Admission and planning (no dateFrom) work; collection stalls in retries.
    sandbox.faults(sth_fail_from_time=iso(sandbox.seeded_time(1)))
    job = start(api, model["id"])
    wait_for(api, model["id"], job["id"], lambda j: j["status"] == "collecting_data", timeout=60)
    cancelled = api.post(job_url(model["id"], job["id"]) + "/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert api.get(f"/models/{model['id']}").json()["status"] == "draft"
    again = api.post(job_url(model["id"], job["id"]) + "/cancel")
    assert again.status_code == 409


def test_cancel_during_training_and_conflicts(api: httpx.Client, stack: dict[str, Any], series: str) -> None:
    model = create_model(api, series, epochs=300, early_stopping_patience=300, rnn_layers=[{"units": 32}])
    job = start(api, model["id"])
    assert api.post(job_url(model["id"]), json={}).status_code == 409  # one at a time
    wait_for(api, model["id"], job["id"], lambda j: j["status"] == "training" and j["progress"]["epoch"] >= 1)
    assert api.delete(f"/models/{model['id']}").status_code == 409  # a job is running
    assert api.delete(job_url(model["id"], job["id"])).status_code == 409
    cancelled = api.post(job_url(model["id"], job["id"]) + "/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    epoch_at_cancel = cancelled.json()["progress"]["epoch"]

    time.sleep(8)  # the trainer stops at the end of its current epoch and writes nothing
    after = api.get(job_url(model["id"], job["id"])).json()
    assert after["status"] == "cancelled"
    assert after["artifacts"] is None
    assert after["progress"]["epoch"] <= epoch_at_cancel + 1
    assert api.get(f"/models/{model['id']}").json()["status"] == "draft"
    execution = sfn_client(stack).describe_execution(executionArn=after["execution"]["arn"])
    assert execution["status"] == "ABORTED"
    assert after["execution"]["batch_job_id"].startswith("local-")
    deadline = time.monotonic() + 60  # the trainer process stops at its next epoch and exits (code 3)
    while "the job was cancelled" not in (logs := train_step_logs(stack, job["id"])):
        assert time.monotonic() < deadline, f"the trainer process did not stop on the cancel: {logs[-2000:]}"
        time.sleep(2)
    assert "The trainer stopped: its job is no longer running" in logs


def test_delete_job_removes_artifacts_and_checkpoints(
    api: httpx.Client, stack: dict[str, Any], series: str
) -> None:
    model = create_model(api, series)
    job = start(api, model["id"])
    done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
    assert done["status"] == "completed", done["error"]
    s3 = local_client("s3", stack["LocalStackUrl"])
    prefix = f"jobs/{job['id']}/"
    assert s3.list_objects_v2(Bucket=stack["DataBucketName"], Prefix=prefix).get("KeyCount", 0) > 0

    assert api.delete(job_url(model["id"], job["id"])).status_code == 204
    assert api.get(job_url(model["id"], job["id"])).status_code == 404
    assert s3.list_objects_v2(Bucket=stack["DataBucketName"], Prefix=prefix).get("KeyCount", 0) == 0
    with MongoClient(stack["MongoDbUri"], serverSelectionTimeoutMS=3000) as client:
        files = client[stack["MongoDbDatabase"]]["model_artifacts.files"]
        assert files.count_documents({"metadata.training_job_id": job["id"]}) == 0
    assert api.get(f"/models/{model['id']}").json()["status"] == "draft"


def test_admission_checks(api: httpx.Client, series: str) -> None:
    model = create_model(api, series)
    too_many = api.post(job_url(model["id"]), json={"last_n": 5000})
    assert too_many.status_code == 422 and too_many.json()["details"][0]["field"] == "last_n"
    too_few = api.post(job_url(model["id"]), json={"last_n": 50})
    assert too_few.status_code == 422 and too_few.json()["details"][0]["field"] == "last_n"
    empty = create_model(api, "urn:ngsi-ld:ElectricityMeter:nothing-here")
    assert api.post(job_url(empty["id"]), json={}).status_code == 422
    assert api.post(job_url(str(uuid.uuid4())), json={}).status_code == 404
