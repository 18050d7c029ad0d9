"""The training-step handlers invoked in-process with the sample events in events/, as Step
Functions would call them: against the real MongoDB-compatible server, a FIWARE sandbox seeded
with a series, and moto's S3.

The Train event is what both Train states pass on: AWS Batch hands it to the trainer image's
command, and the local stack's ``functions/trainer/local_batch.py`` runs that same command in a
subprocess (tested in tests/unit/test_local_batch.py and end to end). Here the command's entry
point runs in-process, so that it shares moto's S3 with the other steps."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pymongo.database import Database

from chronos_core import bootstrap
from chronos_core.adapters.mongo import Document, MongoModelRepository, MongoTrainingJobRepository
from chronos_core.domain.ids import JobId
from chronos_core.domain.model import ModelDraft, build_model
from chronos_core.domain.training_job import TrainingJob
from local.fiware_sandbox.testing import Sandbox, sandbox_from_env, start_sandbox
from tests.support.lambda_runtime import FakeLambdaContext, load_event, load_handler_module

pytestmark = pytest.mark.integration

#: The sample events these tests cover (tests/integration/test_sample_events.py checks that every
#: file in events/ is covered by one of the two modules).
PIPELINE_EVENTS = {
    "plan_training.json": "plan_training",
    "collect_chunk.json": "collect_chunk",
    "prepare_dataset.json": "prepare_dataset",
    "train_model.json": "trainer",
    "finalize_training.json": "finalize_training",
    "record_training_failure.json": "record_training_failure",
}
JOB_ID = JobId(load_event("plan_training.json")["job_id"])
POINTS = 1200
BUCKET = "chronos-test-data"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    existing = sandbox_from_env()
    if existing is not None:
        yield existing
        return
    started = start_sandbox(os.environ.get("MONGODB_URI"))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def pipeline_env(
    mongo_db: Database[Document], sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database[Document]]:
    """Settings for the handlers; a model and the sample events' job; a seeded series."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    sandbox.seed_sth(
        service="pipeline",
        servicepath="/",
        entity_id="urn:ngsi-ld:Sensor:pipeline",
        entity_type="Sensor",
        attr_name="level",
        attr_type="Number",
        points=[
            {
                "recvTime": (start + timedelta(minutes=10 * i, milliseconds=50))
                .isoformat()
                .replace("+00:00", "Z"),
                "attrValue": str(round(10 + 3 * math.sin(2 * math.pi * i / 144), 3)),
            }
            for i in range(POINTS)
        ],
        replace=True,
    )
    for name, value in {
        "CHRONOS_MONGODB_DATABASE": mongo_db.name,
        "CHRONOS_DATA_BUCKET": BUCKET,
        "CHRONOS_STH_URL": sandbox.sth_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "CHRONOS_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    model = build_model(
        ModelDraft.model_validate(
            {
                "model_type": "gru",
                "rnn_layers": [{"units": 4, "dropout": 0.0}],
                "lookback_window": 24,
                "forecast_horizon": 6,
                "epochs": 1,
                "feature": "level",
                "entity_type": "Sensor",
                "entity_id": "urn:ngsi-ld:Sensor:pipeline",
                "fiware_service": "pipeline",
            }
        )
    )
    MongoModelRepository(mongo_db).add(model)
    MongoModelRepository(mongo_db).claim_for_training(model.id)
    MongoTrainingJobRepository(mongo_db).add(
        TrainingJob(
            id=JOB_ID,
            model_id=model.id,
            fiware_service="pipeline",
            last_n=POINTS,
            points_available=POINTS,
            window_offset=0,
        )
    )
    _clear_caches()
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield mongo_db
    _clear_caches()


def _clear_caches() -> None:
    bootstrap.reset()


def invoke(event_name: str, **overrides: Any) -> Any:
    event = {**load_event(event_name), **overrides}
    if PIPELINE_EVENTS[event_name] == "trainer":
        return run_trainer(event)
    module = load_handler_module(PIPELINE_EVENTS[event_name])
    return module.handler(event, FakeLambdaContext())


def run_trainer(event: dict[str, Any]) -> int:
    """The Batch job definition's command for ``event`` (its job parameters), in-process."""
    from chronos_trainer import BATCH_COMMAND
    from chronos_trainer.app import main

    argv = [
        str(event[arg.removeprefix("Ref::")]) if arg.startswith("Ref::") else arg for arg in BATCH_COMMAND
    ]
    assert argv[:3] == ["python", "-m", "chronos_trainer"]
    return main(argv[3:])


def test_the_steps_run_the_pipeline_from_the_sample_events(pipeline_env: Database[Document]) -> None:
    plan = invoke("plan_training.json")
    assert plan["running"] is True
    chunks = plan["chunks"]
    assert sum(c["count"] for c in chunks) == POINTS

    collected = 0
    for chunk in chunks:  # each Map item as the state machine builds it: a slice of the window in time
        assert chunk["date_from"] and chunk["date_to"]
        result = invoke("collect_chunk.json", **chunk, pages_in_flight=plan["pages_in_flight"])
        assert {k: result[k] for k in ("job_id", "offset", "skipped", "complete")} == {
            "job_id": JOB_ID,
            "offset": chunk["offset"],
            "skipped": False,
            "complete": True,
        }
        collected += result["points"]
    assert collected == POINTS  # the slices hold every point of the window once
    again = invoke("collect_chunk.json", **chunks[0], pages_in_flight=plan["pages_in_flight"])
    assert again["skipped"] is True  # idempotent: the checkpoint exists

    prepared = invoke("prepare_dataset.json")
    assert prepared["points"] == POINTS
    job = pipeline_env.training_jobs.find_one({"id": JOB_ID})
    assert job is not None and job["status"] == "queued"

    assert invoke("train_model.json", dataset_key=prepared["dataset_key"]) == 0  # the trainer's exit code
    trained = MongoTrainingJobRepository(pipeline_env).get(JOB_ID)
    assert trained is not None and trained.artifacts is not None and trained.status.value == "training"
    assert trained.progress.epochs == trained.progress.epoch == 1 and len(trained.history) == 1

    final = invoke("finalize_training.json")
    assert final == {"job_id": JOB_ID, "status": "completed"}
    model = pipeline_env.models.find_one({"id": job["model_id"]})
    assert model is not None and model["status"] == "trained" and model["has_successful_training"]
    # The promotion gate's decision is on the job and the model.
    job = pipeline_env.training_jobs.find_one({"id": JOB_ID})
    assert job is not None
    assert job["serving"] in ("network", "seasonal_naive", "last_value", "blend")
    base = {"network", "seasonal_naive", "last_value"}
    assert base <= set(job["selection"]["validation_scores"]) <= base | {"blend"}
    assert model["serving"]["serving"] == job["serving"]
    assert model["serving"]["training_job_id"] == JOB_ID
    # ... with its evidence: the significance test, the interval calibration, the season's candidates.
    evidence = job["selection"]["evidence"]
    assert evidence and evidence[0]["candidate"] == "network" and evidence[0]["test"]["windows"] > 0
    assert job["selection"]["significance_level"] == 0.05
    assert set(job["selection"]["calibration"]["saturated"]) == {"80", "95"}
    season = job["metrics"]["baselines"]["season_evidence"]
    assert season["chosen"] == job["selection"]["season_length"] and season["candidates"]
    read = MongoTrainingJobRepository(pipeline_env).get(JOB_ID)
    assert read is not None and read.selection is not None and read.metrics is not None
    assert read.selection.evidence[0].test.lag >= 0
    assert read.metrics.baselines.season_evidence is not None


def test_failure_is_recorded_and_the_model_restored(pipeline_env: Database[Document]) -> None:
    invoke("plan_training.json")
    recorded = invoke("record_training_failure.json")
    assert recorded == {"job_id": JOB_ID, "recorded": True}
    job = pipeline_env.training_jobs.find_one({"id": JOB_ID})
    assert job is not None and job["status"] == "failed"
    assert job["error"] == {
        "phase": "collect",
        "error": "FiwareServerError",
        "cause": "STH-Comet answered HTTP 500 to raw page (InternalServerError)",
    }
    model = pipeline_env.models.find_one({"id": job["model_id"]})
    assert model is not None and model["status"] == "draft"
    assert invoke("record_training_failure.json") == {"job_id": JOB_ID, "recorded": False}  # idempotent


def test_malformed_events_are_rejected() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        load_handler_module("collect_chunk").handler({"job_id": JOB_ID, "offset": -1}, FakeLambdaContext())
