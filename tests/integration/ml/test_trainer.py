"""The trainer entrypoint in-process: dataset file -> real CPU fit -> GridFS artifacts -> forecast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pymongo.database import Database

from chronos_core.adapters.artifact_store import GridFSArtifactStore
from chronos_core.config import Settings
from chronos_core.ml import inference
from chronos_core.ml.artifacts import ArtifactRefs

from .conftest import MONGODB_URI

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]
import tensorflow  # noqa: E402,F401  (the suite requires requirements-ml.txt; a missing TensorFlow must fail)

from chronos_trainer import app  # noqa: E402
from chronos_trainer.progress import MongoProgressReporter  # noqa: E402

CONFIG = {
    "model_type": "gru",
    "rnn_layers": [{"units": 12, "dropout": 0.0}],
    "lookback_window": 12,
    "forecast_horizon": 3,
    "epochs": 4,
    "learning_rate": 0.01,
}


def _use_db(db: Database[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the trainer's settings at the test database (the URI comes from MONGODB_URI)."""
    monkeypatch.setenv("MONGODB_URI", MONGODB_URI)
    monkeypatch.setenv("CHRONOS_MONGODB_DATABASE", db.name)
    settings = Settings()
    monkeypatch.setattr(app, "get_settings", lambda: settings)


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
    ml_db["training_jobs"].insert_one({"id": "job-trainer", "status": "training"})
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
    assert code == app.EXIT_OK
    outcome = json.loads(result.read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == outcome
    assert outcome["sampling_interval_seconds"] == 600.0
    assert outcome["parity_max_abs_diff"] <= 1e-4

    job = ml_db["training_jobs"].find_one({"id": "job-trainer"})
    assert job is not None and job["progress"]["phase"] == "saving"
    assert job["progress"]["epochs"] == 4 and job["progress"]["loss"] is not None

    store = GridFSArtifactStore(ml_db)
    inference.clear_cache()
    forecaster = inference.load_forecaster(store, ArtifactRefs.model_validate(outcome["artifacts"]))
    assert forecaster.serving == outcome["serving"] == outcome["selection"]["serving"]
    assert forecaster.forecast(np.full(forecaster.context_length, 20.0)).shape == (3,)
    inference.clear_cache()


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
    assert code == app.EXIT_REJECTED
    assert GridFSArtifactStore(ml_db).delete_job("job-short") == 0


def test_trainer_cancellation_exit_code_3(
    ml_db: Database[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use_db(ml_db, monkeypatch)
    ml_db["training_jobs"].insert_one({"id": "job-cancel", "status": "cancel_requested"})
    monkeypatch.setattr(MongoProgressReporter, "__init__", _eager_reporter_init)
    code = app.main(
        [
            "--job-id",
            "job-cancel",
            "--model-id",
            "m",
            "--dataset",
            str(_dataset(tmp_path)),
            "--config",
            json.dumps({**CONFIG, "epochs": 50}),
        ]
    )
    assert code == app.EXIT_CANCELLED
    assert GridFSArtifactStore(ml_db).delete_job("job-cancel") == 0


_original_init = MongoProgressReporter.__init__


def _eager_reporter_init(self: Any, collection: Any, training_job_id: str, **_: Any) -> None:
    _original_init(self, collection, training_job_id, min_interval=0.0, cancel_check_interval=0.0)
