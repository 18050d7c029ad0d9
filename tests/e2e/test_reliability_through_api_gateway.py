"""Faults and hostile input through the deployed stack (API Gateway -> Lambda in LocalStack):
concurrent toggles, a hanging STH-Comet, a body without a length, deletion racing a start, and
the edges of the API. (The lockout and the database outage have their own files, which run last.)
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.e2e.conftest import SandboxControl
from tests.e2e.helpers import (
    FINISHED,
    SERVICE,
    SERVICEPATH,
    create_model,
    job_url,
    seed_series,
    train_tiny,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_faults")]

TENANT = {"Fiware-Service": SERVICE, "Fiware-ServicePath": SERVICEPATH}


@pytest.fixture(scope="module")
def trained(api: httpx.Client, sandbox: SandboxControl) -> dict[str, Any]:
    from local.fiware_sandbox.seed import load_taylor

    sandbox.clear_faults()
    model, job, entity_id = train_tiny(api, sandbox, load_taylor(), "rel")
    return {"model": model, "job": job, "entity_id": entity_id}


def fresh_client(stack: dict[str, Any], api: httpx.Client) -> httpx.Client:
    return httpx.Client(base_url=str(api.base_url), headers=dict(api.headers), timeout=60)


def call(stack: dict[str, Any], api: httpx.Client, method: str, url: str) -> httpx.Response:
    """One request on its own connection (so that two of them really run at once)."""
    with fresh_client(stack, api) as client:
        return client.request(method, url, json={} if method == "POST" else None)


def subscriptions_of(stack: dict[str, Any], entity_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack['OrionUrl']}/v2/subscriptions", headers=TENANT, params={"limit": 1000}, timeout=10
    )
    response.raise_for_status()
    return [s for s in response.json() if any(e.get("id") == entity_id for e in s["subject"]["entities"])]


def toggle_all(
    stack: dict[str, Any], api: httpx.Client, url: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    def send(body: dict[str, Any]) -> httpx.Response:
        with fresh_client(stack, api) as client:
            return client.post(url, json=body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_concurrent_toggles_leave_one_subscription_per_job(
    api: httpx.Client, stack: dict[str, Any], trained: dict[str, Any]
) -> None:
    url = job_url(trained["model"]["id"], trained["job"]["id"]) + "/prediction-toggle"
    enables = toggle_all(stack, api, url, [{"enabled": True}] * 5)
    assert [r.status_code for r in enables] == [200] * 5, [r.text for r in enables]
    ids = {r.json()["subscription_id"] for r in enables}
    assert len(ids) == 1
    entity_id = enables[0].json()["entity_id"]
    assert [s["id"] for s in subscriptions_of(stack, entity_id)] == list(ids)

    mixed = toggle_all(stack, api, url, [{"enabled": True}, {"enabled": False}] * 2)
    assert all(r.status_code in (200, 409) for r in mixed), [r.text for r in mixed]
    stored = api.get(job_url(trained["model"]["id"], trained["job"]["id"])).json()["prediction_config"]
    live = subscriptions_of(stack, entity_id)
    if stored["enabled"]:  # whatever the order, what the job says is what Orion holds
        assert [s["id"] for s in live] == [stored["subscription_id"]]
    else:
        assert live == [] and stored["subscription_id"] is None
    assert api.post(url, json={"enabled": False}).status_code == 200
    assert subscriptions_of(stack, entity_id) == []


def test_a_hanging_sth_is_answered_503_within_the_deadline(
    api: httpx.Client, sandbox: SandboxControl, trained: dict[str, Any]
) -> None:
    model_id, job_id = trained["model"]["id"], trained["job"]["id"]
    sandbox.faults(sth_timeout_rate=1.0, sth_timeout_seconds=60)
    calls = {
        "predict": lambda: api.post(job_url(model_id, job_id) + "/predict"),
        "history": lambda: api.get(job_url(model_id, job_id) + "/predictions/history"),
        "admission": lambda: api.post(job_url(model_id), json={}),
    }
    for name, call in calls.items():
        started = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - started
        assert response.status_code == 503, f"{name}: {response.status_code} {response.text}"
        assert response.json()["error"] == "fiware_unavailable", name  # a 503 error code (README)
        assert int(response.headers["retry-after"]) > 0, name
        assert elapsed < 27, f"{name} took {elapsed:.1f} s (API Gateway gives up at 29 s)"
    sandbox.clear_faults()
    assert api.post(job_url(model_id, job_id) + "/predict").status_code == 200  # the container lived on


def test_a_body_over_the_limit_is_413_through_the_gateway(api: httpx.Client) -> None:
    padding = "x" * (2 * 1024 * 1024)
    response = api.post("/models/", json={"model_type": "gru", "description": padding})
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"] == "payload_too_large"


def test_deleting_a_model_while_its_training_starts_never_leaves_an_orphan_job(
    api: httpx.Client, stack: dict[str, Any], sandbox: SandboxControl
) -> None:
    entity_id = seed_series(sandbox, [float(i % 48) for i in range(600)], "race")
    with MongoClient(stack["MongoDbUri"], serverSelectionTimeoutMS=3000) as mongo:
        jobs = mongo[stack["MongoDbDatabase"]]["training_jobs"]
        for _ in range(5):
            model = create_model(api, entity_id)

            with ThreadPoolExecutor(max_workers=2) as pool:
                started = pool.submit(call, stack, api, "POST", job_url(model["id"]))
                deleted = pool.submit(call, stack, api, "DELETE", f"/models/{model['id']}")
            codes = (started.result().status_code, deleted.result().status_code)
            assert codes in {(202, 409), (404, 204), (409, 204)}, codes
            if codes[0] == 202:
                job = started.result().json()
                assert api.get(f"/models/{model['id']}").status_code == 200
                assert api.post(job_url(model["id"], job["id"]) + "/cancel").status_code in (200, 409)
                wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED)
                assert api.delete(f"/models/{model['id']}").status_code == 204
            else:
                assert jobs.count_documents({"model_id": model["id"]}) == 0  # no job without its model


def test_a_trailing_slash_is_404_not_a_redirect_out_of_the_stage(api: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    response = api.get(f"/models/{missing}/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers
    assert api.get("/docs").status_code == 404
    assert httpx.get(f"{api.base_url}/openapi.json", timeout=30).status_code == 200  # public, documented


def test_the_reconciler_fails_a_job_whose_execution_ended_without_recording_it(
    api: httpx.Client, stack: dict[str, Any], sandbox: SandboxControl
) -> None:
    """As after an outage longer than RecordFailure's retries: the execution has failed, the job
    still reads training and its model is claimed. The deployed reconciler settles it."""
    from chronos_core.adapters.mongo import MongoModelRepository, MongoTrainingJobRepository
    from chronos_core.domain.ids import ModelId
    from chronos_core.domain.training_job import ExecutionRef, Phase, TrainingJob, TrainingStatus
    from local.stack import local_client

    sfn = local_client("stepfunctions", stack["LocalStackUrl"])
    ghost = str(uuid.uuid4())  # no such job: Plan fails, RecordFailure finds nothing to record
    arn = sfn.start_execution(
        stateMachineArn=stack["TrainingStateMachineArn"], name=ghost, input=f'{{"job_id": "{ghost}"}}'
    )["executionArn"]
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert sfn.describe_execution(executionArn=arn)["error"] == "NotFoundError"  # the real error, kept

    model = create_model(api, seed_series(sandbox, [1.0] * 200, "ghost"))
    with MongoClient(stack["MongoDbUri"], serverSelectionTimeoutMS=3000, tz_aware=True) as mongo:
        db = mongo[stack["MongoDbDatabase"]]
        assert MongoModelRepository(db).claim_for_training(ModelId(model["id"]))
        stuck = TrainingJob(
            model_id=model["id"],
            fiware_service=SERVICE,
            status=TrainingStatus.TRAINING,
            phase=Phase.TRAIN,
            last_n=200,
            points_available=200,
            window_offset=0,
            execution=ExecutionRef(name=ghost, arn=arn),
        )
        MongoTrainingJobRepository(db).add(stuck)
    invoked = local_client("lambda", stack["LocalStackUrl"]).invoke(
        FunctionName=stack["ReconcileTrainingFunctionName"], Payload=b"{}"
    )
    assert "FunctionError" not in invoked, invoked["Payload"].read()
    job = wait_for(api, model["id"], stuck.id, lambda j: j["status"] in FINISHED, timeout=90)
    assert job["status"] == "failed" and job["error"]["error"] == "NotFoundError", job["error"]
    assert "the execution ended FAILED" in job["error"]["cause"] and job["error"]["phase"] == "train"
    assert api.get(f"/models/{model['id']}").json()["status"] == "draft"
