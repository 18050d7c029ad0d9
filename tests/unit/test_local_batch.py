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


@pytest.mark.parametrize(("code", "meaning"), [(2, "rejected its input"), (1, "failed"), (5, "failed")])
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


def test_a_trainer_that_stopped_because_its_job_was_cancelled_is_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The execution was stopped with the job: like AWS, it must stay ABORTED, not turn FAILED."""
    script(monkeypatch, "print('Training stopped: the job was cancelled'); raise SystemExit(3)")
    result = local_batch.handler(EVENT, FakeLambdaContext(remaining_ms=60_000))
    assert result["Status"] == "CANCELLED" and result["JobId"].startswith("local-")


def test_a_trainer_that_could_not_reach_a_dependency_is_an_error_the_state_machine_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit 4: the Batch job definition retries it; locally the Train state's Retry does."""
    from chronos_core.domain.errors import DependencyUnavailableError

    script(monkeypatch, "raise SystemExit(4)")
    with pytest.raises(DependencyUnavailableError):
        local_batch.handler(EVENT, FakeLambdaContext(remaining_ms=60_000))
