"""The local Train step (functions/trainer/local_batch.py): the Batch job definition's command in
a subprocess, its exit code and output mapped the way submitJob.sync maps a Batch job."""

from __future__ import annotations

import sys

import local_batch
import pytest

from chronos_trainer import BATCH_COMMAND
from tests.support.lambda_runtime import FakeLambdaContext

EVENT = {"job_id": "job-1", "dataset_key": "jobs/job-1/dataset.json"}


def script(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Make the handler run ``python -c code`` instead of the trainer."""
    monkeypatch.setattr(local_batch, "batch_command", lambda parameters: [sys.executable, "-c", code])


def test_the_command_is_the_job_definitions_with_its_parameters_substituted() -> None:
    command = local_batch.batch_command(EVENT)
    assert command == [
        sys.executable,
        *BATCH_COMMAND[1:4],
        "job-1",
        "--dataset-key",
        "jobs/job-1/dataset.json",
    ]


def test_success_answers_what_submit_job_sync_answers_and_forwards_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script(monkeypatch, "import os; print('epoch 1 of', os.environ['AWS_BATCH_JOB_ID'])")
    result = local_batch.handler(EVENT, FakeLambdaContext(remaining_ms=60_000))
    assert result["Status"] == "SUCCEEDED" and result["JobName"] == "chronos-train-job-1"
    assert result["JobId"].startswith("local-")
    assert f"epoch 1 of {result['JobId']}" in capsys.readouterr().out


@pytest.mark.parametrize(("code", "meaning"), [(2, "rejected its input"), (3, "cancelled"), (1, "failed")])
def test_a_non_zero_exit_is_a_failed_batch_job_naming_the_code_and_the_last_lines(
    monkeypatch: pytest.MonkeyPatch, code: int, meaning: str
) -> None:
    script(monkeypatch, f"print('too little data'); raise SystemExit({code})")
    with pytest.raises(local_batch.BatchJobFailed, match=f"code {code} .*{meaning}.*too little data"):
        local_batch.handler(EVENT, FakeLambdaContext(remaining_ms=60_000))


def test_a_trainer_running_past_the_functions_deadline_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    script(monkeypatch, "import time; time.sleep(60)")
    margin = local_batch.DEADLINE_MARGIN_SECONDS
    with pytest.raises(local_batch.BatchJobTimedOut):
        local_batch.handler(EVENT, FakeLambdaContext(remaining_ms=int((margin + 1) * 1000)))


def test_the_trainer_module_resolves_in_the_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """cwd and PYTHONPATH give the subprocess the image's layout: ``python -m chronos_trainer``."""
    monkeypatch.setattr(
        local_batch, "batch_command", lambda parameters: [sys.executable, "-m", "chronos_trainer", "--help"]
    )
    assert local_batch.handler(EVENT, FakeLambdaContext(remaining_ms=120_000))["Status"] == "SUCCEEDED"


def test_stopping_the_execution_terminates_the_trainer_without_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As submitJob.sync does on StopExecution (Batch TerminateJob): nobody waits for an answer."""
    checks = iter([True, True, False])
    monkeypatch.setattr(local_batch, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(local_batch, "execution_running", lambda arn: lambda: next(checks, False))
    script(monkeypatch, "import time; time.sleep(60)")
    result = local_batch.handler({**EVENT, "execution_arn": "arn:x"}, FakeLambdaContext(remaining_ms=60_000))
    assert result["Status"] == "TERMINATED"


def test_a_trainer_that_exits_after_its_execution_was_stopped_is_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trainer saw the cancel first (exit 3) and the execution is already stopped."""
    monkeypatch.setattr(local_batch, "execution_running", lambda arn: lambda: False)
    script(monkeypatch, "raise SystemExit(3)")
    result = local_batch.handler({**EVENT, "execution_arn": "arn:x"}, FakeLambdaContext(remaining_ms=60_000))
    assert result["Status"] == "TERMINATED"


def test_without_an_execution_the_trainer_is_never_terminated() -> None:
    assert local_batch.execution_running(None)() is True
