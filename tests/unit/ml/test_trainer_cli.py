"""The trainer's command line: pipeline mode (Batch) dispatch, exit codes, dataset formats."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from chronos_core.application.training.pipeline.events import TrainResult
from chronos_core.domain.ids import JobId
from chronos_core.ml.errors import InsufficientDataError
from chronos_trainer import EXIT_REJECTED, app
from chronos_trainer.dataset import parse_points, split_s3_uri


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (TrainResult(job_id=JobId("j"), trained=True), 0),
        (TrainResult(job_id=JobId("j"), trained=False, reason="cancelled"), 3),
    ],
)
def test_batch_command_runs_the_pipeline_step(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], result: TrainResult, code: int
) -> None:
    calls: list[tuple[str, str]] = []

    def fake(job_id: str, dataset_key: str) -> TrainResult:
        calls.append((job_id, dataset_key))
        return result

    monkeypatch.setattr(app, "run_pipeline_step", fake)
    assert app.main(["--job-id", "j", "--dataset-key", "jobs/j/dataset.json"]) == code
    assert calls == [("j", "jobs/j/dataset.json")]
    assert TrainResult.model_validate_json(capsys.readouterr().out) == result  # the step's result, printed


def test_rejected_input_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(job_id: str, dataset_key: str) -> TrainResult:
        raise InsufficientDataError("too little")

    monkeypatch.setattr(app, "run_pipeline_step", fake)
    assert app.main(["--job-id", "j", "--dataset-key", "k"]) == EXIT_REJECTED
    assert app.main(["--dataset-key", "k"]) == EXIT_REJECTED  # no job id
    assert app.main(["--job-id", "j", "--model-id", "m"]) == EXIT_REJECTED  # no dataset


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


def test_an_unreachable_dependency_exits_4_so_that_batch_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from chronos_core.domain.errors import DependencyUnavailableError
    from chronos_trainer import EXIT_UNAVAILABLE

    def fake(job_id: str, dataset_key: str) -> Any:
        raise DependencyUnavailableError("The database is unavailable; retry later")

    monkeypatch.setattr(app, "run_pipeline_step", fake)
    assert app.main(["--job-id", "j", "--dataset-key", "k"]) == EXIT_UNAVAILABLE == 4
