"""The trainer entrypoint in-process: dataset file -> real CPU fit -> GridFS artifacts -> forecast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymongo.database import Database

from chronos_core import bootstrap
from chronos_core.adapters.artifact_store import GridFSArtifactStore
from chronos_core.adapters.mongo import MongoTrainingJobRepository
from chronos_core.config import Settings
from chronos_core.domain.artifacts import ArtifactRefs
from chronos_core.domain.ids import JobId
from chronos_core.ml import inference
from chronos_trainer import EXIT_CANCELLED, EXIT_OK, EXIT_REJECTED, app

from .conftest import MONGODB_URI

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]
import tensorflow  # noqa: E402,F401  (the suite requires requirements-ml.txt; a missing TensorFlow must fail)

CONFIG = {
    "model_type": "gru",
    "rnn_layers": [{"units": 12, "dropout": 0.0}],
    "lookback_window": 12,
    "forecast_horizon": 3,
    "epochs": 4,
    "learning_rate": 0.01,
}


def _use_db(db: Database[Any], monkeypatch: pytest.MonkeyPatch) -> bootstrap.Services:
    """Point the trainer's services at the test database (the URI comes from MONGODB_URI)."""
    services = bootstrap.bootstrap(Settings(mongodb_uri=MONGODB_URI, mongodb_database=db.name))
    monkeypatch.setattr(app, "services", lambda: services)
    return services


def _insert_job(db: Database[Any], job_id: str, status: str) -> dict[str, Any]:
    """A job document the repository can read (``TrainingJob``'s required fields), as inserted."""
    document = {
        "id": job_id,
        "model_id": "model-trainer",
        "fiware_service": "smart",
        "status": status,
        "last_n": 300,
        "points_available": 300,
        "window_offset": 0,
    }
    db["training_jobs"].insert_one(dict(document))
    return document


def _dataset(tmp_path: Path, n: int = 300) -> Path:
    k = np.arange(n)
    start = np.datetime64("2026-01-01T00:00:00")
    rows = [
        {
            "recvTime": str(start + np.timedelta64(int(i) * 10, "m")) + "Z",
            "attrValue": float(20 + np.sin(i / 6)),
        }
        for i in k
    ]
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"points": rows}))
    return path


def test_trainer_main_trains_writes_gridfs_artifacts_progress_and_result(
    ml_db: Database[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _use_db(ml_db, monkeypatch)
    inserted = _insert_job(ml_db, "job-trainer", "training")
    result = tmp_path / "outcome.json"
    code = app.main(
        [
            "--job-id",
            "job-trainer",
            "--model-id",
            "model-trainer",
            "--feature",
            "temperature",
            "--dataset",
            str(_dataset(tmp_path)),
            "--config",
            json.dumps(CONFIG),
            "--result",
            str(result),
        ]
    )
    assert code == EXIT_OK
    outcome = json.loads(result.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == outcome
    assert outcome["sampling_interval_seconds"] == 600.0
    assert outcome["parity_max_abs_diff"] <= 1e-4

    # The trainer never writes the job document: its live progress goes to training_progress.
    job = ml_db["training_jobs"].find_one({"id": "job-trainer"}, {"_id": 0})
    assert job == inserted
    assert "phase" not in (job.get("progress") or {}) and "epoch" not in (job.get("progress") or {})
    live = ml_db["training_progress"].find_one({"_id": "job-trainer"})
    assert live is not None and live["training_phase"] == "saving"
    assert live["epochs"] == 4 and live["loss"] is not None
    assert [entry["epoch"] for entry in live["history"]] == [1, 2, 3, 4]
    assert all(entry["loss"] is not None for entry in live["history"])
    read = MongoTrainingJobRepository(ml_db).get(JobId("job-trainer"))
    assert read is not None and read.progress.epochs == 4 and read.progress.epoch == 4
    assert read.progress.training_phase == "saving" and read.progress.loss is not None
    assert len(read.history) == 4

    store = GridFSArtifactStore(ml_db)
    forecaster = inference.load_forecaster(store, ArtifactRefs.model_validate(outcome["artifacts"]))
    assert forecaster.serving == outcome["serving"] == outcome["selection"]["serving"]
    assert forecaster.forecast(np.full(forecaster.context_length, 20.0)).shape == (3,)


def test_trainer_rejects_too_little_data_with_exit_code_2(
    ml_db: Database[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_db(ml_db, monkeypatch)
    code = app.main(
        [
            "--job-id",
            "job-short",
            "--model-id",
            "m",
            "--dataset",
            str(_dataset(tmp_path, n=20)),
            "--config",
            json.dumps(CONFIG),
            "--progress",
            "none",
        ]
    )
    assert code == EXIT_REJECTED
    assert GridFSArtifactStore(ml_db).delete_job("job-short") == 0


@pytest.mark.parametrize("status", ["cancelled", "failed"])
def test_trainer_stops_with_exit_code_3_once_the_job_is_not_running(
    ml_db: Database[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    _use_db(ml_db, monkeypatch)
    job_id = f"job-{status}"
    inserted = _insert_job(ml_db, job_id, status)
    code = app.main(
        [
            "--job-id",
            job_id,
            "--model-id",
            "m",
            "--dataset",
            str(_dataset(tmp_path)),
            "--config",
            json.dumps({**CONFIG, "epochs": 50}),
        ]
    )
    assert code == EXIT_CANCELLED
    assert GridFSArtifactStore(ml_db).delete_job(job_id) == 0
    assert ml_db["training_jobs"].find_one({"id": job_id}, {"_id": 0}) == inserted
    live = ml_db["training_progress"].find_one({"_id": job_id}) or {}
    assert not live.get("history")  # no epoch is recorded for a job that is not running
    read = MongoTrainingJobRepository(ml_db).get(JobId(job_id))
    assert read is not None and read.status.value == status and read.progress.epochs == 0


def test_a_standalone_run_without_a_job_document_trains_with_logged_progress(
    ml_db: Database[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_db(ml_db, monkeypatch)
    arguments = ["--job-id", "no-such-job", "--model-id", "m", "--dataset", str(_dataset(tmp_path))]
    assert app.main([*arguments, "--config", json.dumps({**CONFIG, "epochs": 2})]) == EXIT_OK
    assert ml_db["training_progress"].count_documents({"_id": "no-such-job"}) == 0  # no job, nothing written
    assert GridFSArtifactStore(ml_db).delete_job("no-such-job") == 5
