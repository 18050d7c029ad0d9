"""Step "Train" on stacks without AWS Batch (the local one): the trainer container's own command
in a subprocess, waited for the way Step Functions' ``batch:submitJob.sync`` waits for a Batch job.

Contract, mirroring the Batch path of ``statemachines/training.asl.json``:

* Input: the Batch state's job parameters, ``{"job_id", "dataset_key"}``, plus the execution's
  ARN (``execution_arn``), which ``submitJob.sync`` knows implicitly.
* The command is :data:`chronos_trainer.BATCH_COMMAND` with its ``Ref::`` parameters
  substituted, exactly as AWS Batch substitutes them; ``python`` is this interpreter (the
  project's virtualenv locally), the working directory is this function's code (which holds
  ``chronos_trainer``, as the image does), and the environment is the function's plus
  ``AWS_BATCH_JOB_ID`` (``local-<uuid>``), as Batch sets it.
* Every line the trainer writes is forwarded to this function's log (CloudWatch Logs locally).
* Exit code 0 answers ``{"JobId", "JobName", "Status": "SUCCEEDED"}`` (what ``submitJob.sync``
  returns); any other code raises :class:`BatchJobFailed` naming the code and the trainer's last
  lines, so the state machine's Catch routes it to RecordFailure as a failed Batch job would be.
* Stopping the execution terminates the job, as ``submitJob.sync`` does in AWS: while the trainer
  runs, the execution's status is checked every :data:`POLL_SECONDS`; once it has ended, the
  trainer is terminated (SIGTERM, then SIGKILL after :data:`TERMINATE_GRACE_SECONDS`) and the
  answer is ``Status: "TERMINATED"`` with no error, since nobody is waiting for it any more. (The
  trainer itself also stops at its next epoch once its job is no longer running.)
* A trainer still running when the function's own deadline approaches is killed and
  :class:`BatchJobTimedOut` raised (Batch's ``attemptDurationSeconds``).
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from chronos_core.bootstrap import services
from chronos_core.observability import logger
from chronos_trainer import BATCH_COMMAND, EXIT_CANCELLED, EXIT_REJECTED

#: Seconds kept free before the function's deadline to stop the trainer and answer.
DEADLINE_MARGIN_SECONDS: Final = 10.0
POLL_SECONDS: Final = 2.0
TERMINATE_GRACE_SECONDS: Final = 10.0
TAIL_LINES: Final = 20
CODE_DIR: Final = Path(__file__).resolve().parent
_MEANING: Final = {EXIT_REJECTED: "the trainer rejected its input", EXIT_CANCELLED: "the job was cancelled"}


class BatchJobFailed(Exception):
    """The trainer exited with a non-zero code (Batch: the job ``FAILED``)."""


class BatchJobTimedOut(Exception):
    """The trainer ran past the time it was given and was killed."""


@dataclass(frozen=True)
class Finished:
    """How the trainer process ended: its exit code (None when killed at the deadline), whether
    it was terminated because its execution had ended, and its last output lines."""

    code: int | None
    terminated: bool
    tail: list[str]


def batch_command(parameters: dict[str, str]) -> list[str]:
    """:data:`BATCH_COMMAND` with every ``Ref::<name>`` replaced by ``parameters[name]``."""
    command = [
        parameters[arg.removeprefix("Ref::")] if arg.startswith("Ref::") else arg for arg in BATCH_COMMAND
    ]
    return [sys.executable if arg == "python" else arg for arg in command]


def execution_running(execution_arn: str | None) -> Callable[[], bool]:
    """A check that the execution is still running (always true without an ARN; a failed check
    counts as running, so a flaky call never kills a training)."""
    if not execution_arn:
        return lambda: True

    def check() -> bool:
        try:
            status = services().aws_client("stepfunctions").describe_execution(executionArn=execution_arn)
        except Exception:
            logger.warning("Could not read the execution's status", exc_info=True)
            return True
        return bool(status.get("status") == "RUNNING")

    return check


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    parameters = {"job_id": str(event["job_id"]), "dataset_key": str(event["dataset_key"])}
    batch_job_id = f"local-{uuid.uuid4()}"
    job_name = f"chronos-train-{parameters['job_id']}"
    command = batch_command(parameters)
    logger.set_correlation_id(parameters["job_id"])
    logger.info("Starting the trainer", extra={"batch_job_id": batch_job_id, "command": command})
    seconds = max(1.0, context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS)
    running = execution_running(event.get("execution_arn"))
    finished = _run(command, _environment(batch_job_id), seconds, running)
    answer = {"JobId": batch_job_id, "JobName": job_name}
    if finished.terminated:
        logger.info("The execution ended: the trainer was terminated", extra={"batch_job_id": batch_job_id})
        return {**answer, "Status": "TERMINATED"}
    if finished.code is None:
        raise BatchJobTimedOut(f"{job_name}: the trainer ran longer than {seconds:.0f} s and was stopped")
    if finished.code != 0:
        if not running():  # stopped while the trainer was exiting: nobody waits for an answer
            return {**answer, "Status": "TERMINATED"}
        meaning = _MEANING.get(finished.code, "the trainer failed")
        last = " | ".join(finished.tail[-3:])
        raise BatchJobFailed(
            f"{job_name}: essential container in task exited with code {finished.code} ({meaning}): {last}"
        )
    logger.info("The trainer finished", extra={"batch_job_id": batch_job_id})
    return {**answer, "Status": "SUCCEEDED"}


def _environment(batch_job_id: str) -> dict[str, str]:
    path = [str(CODE_DIR), *(entry for entry in sys.path if entry)]
    return {**os.environ, "AWS_BATCH_JOB_ID": batch_job_id, "PYTHONPATH": os.pathsep.join(path)}


def _run(command: list[str], env: dict[str, str], timeout: float, running: Callable[[], bool]) -> Finished:
    """Run ``command``, forwarding its output, until it exits, its execution ends (terminated)
    or ``timeout`` seconds pass (killed)."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    process = subprocess.Popen(  # noqa: S603 - our own command, no shell
        command, cwd=CODE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    stream = process.stdout

    def forward() -> None:
        for line in stream:
            sys.stdout.write(line)
            tail.append(line.rstrip())

    reader = threading.Thread(target=forward, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    terminated = False
    code: int | None = None
    while code is None:
        try:
            code = process.wait(timeout=max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                process.kill()
                process.wait()
                break
            if not running():
                terminated = True
                code = _terminate(process)
    reader.join(timeout=5)
    return Finished(code=code, terminated=terminated, tail=list(tail))


def _terminate(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then SIGKILL after the grace period (Batch's TerminateJob)."""
    process.terminate()
    try:
        return process.wait(timeout=TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
