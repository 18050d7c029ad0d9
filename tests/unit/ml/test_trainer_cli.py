"""The trainer's command line: pipeline mode (Batch) dispatch, exit codes, dataset formats."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from chronos_core.ml.errors import InsufficientDataError

TRAINER_DIR = Path(__file__).resolve().parents[3] / "functions" / "trainer"
if str(TRAINER_DIR) not in sys.path:
    sys.path.insert(0, str(TRAINER_DIR))

from chronos_trainer import app  # noqa: E402
from chronos_trainer.dataset import parse_points, split_s3_uri  # noqa: E402


@pytest.mark.parametrize(
    ("result", "code"),
    [({"job_id": "j", "trained": True}, 0), ({"job_id": "j", "trained": False, "reason": "cancelled"}, 3)],
)
def test_batch_command_runs_the_pipeline_step(
    monkeypatch: pytest.MonkeyPatch, result: dict[str, Any], code: int
) -> None:
    calls: list[tuple[str, str]] = []

    def fake(job_id: str, dataset_key: str) -> dict[str, Any]:
        calls.append((job_id, dataset_key))
        return result

    monkeypatch.setattr(app, "run_pipeline_step", fake)
    assert app.main(["--job-id", "j", "--dataset-key", "jobs/j/dataset.json"]) == code
    assert calls == [("j", "jobs/j/dataset.json")]


def test_rejected_input_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(job_id: str, dataset_key: str) -> dict[str, Any]:
        raise InsufficientDataError("too little")

    monkeypatch.setattr(app, "run_pipeline_step", fake)
    assert app.main(["--job-id", "j", "--dataset-key", "k"]) == app.EXIT_REJECTED
    assert app.main(["--dataset-key", "k"]) == app.EXIT_REJECTED  # no job id
    assert app.main(["--job-id", "j", "--model-id", "m"]) == app.EXIT_REJECTED  # no dataset


def test_dataset_formats() -> None:
    pairs = [["2026-01-01T00:00:00Z", 1.0], ["2026-01-01T00:10:00Z", 2.0]]
    objects = [{"recvTime": t, "attrValue": v} for t, v in pairs]
    expected = [("2026-01-01T00:00:00Z", 1.0), ("2026-01-01T00:10:00Z", 2.0)]
    assert parse_points(json.dumps(pairs).encode(), "d.json") == expected
    assert parse_points(json.dumps({"points": objects}).encode(), "d.json") == expected
    jsonl = "\n".join(json.dumps(o) for o in objects).encode()
    assert parse_points(gzip.compress(jsonl), "d.jsonl.gz") == expected
    csv_text = b"timestamp,value\n2026-01-01T00:00:00Z,1.0\n2026-01-01T00:10:00Z,2.0\n"
    assert parse_points(csv_text, "d.csv") == [(t, str(v)) for t, v in expected]
    assert split_s3_uri("s3://bucket/jobs/1/dataset.json") == ("bucket", "jobs/1/dataset.json")
    with pytest.raises(ValueError):
        split_s3_uri("s3://bucket")
