"""Step "Train" on stacks without AWS Batch (the local one): the trainer container's own command
in a subprocess, waited for the way Step Functions' ``batch:submitJob.sync`` waits for a Batch job.

Contract, mirroring the Batch path of ``statemachines/training.asl.json``:

* Input: the Batch state's job parameters, ``{"job_id", "dataset_key"}``.
* The command is :data:`chronos_trainer.BATCH_COMMAND` with its ``Ref::`` parameters
  substituted, exactly as AWS Batch substitutes them; ``python`` is this interpreter (the
  project's virtualenv locally), the working directory is this function's code (which holds
  ``chronos_trainer``, as the image does), and the environment is the function's plus
  ``AWS_BATCH_JOB_ID`` (``local-<uuid>``), as Batch sets it.
* Every line the trainer writes is forwarded to this function's log (CloudWatch Logs locally).
* Exit code 0 answers ``{"JobId", "JobName", "Status": "SUCCEEDED"}`` (what ``submitJob.sync``
  returns). Exit code 3 (the job is no longer running: cancelled, which stops the execution)
  answers ``Status: "CANCELLED"`` without an error: in AWS, stopping the execution terminates the
  Batch job and nothing reads its end; LocalStack instead waits for the running task of a stopped
  execution and would turn a failing one into ``FAILED`` rather than ``ABORTED``. Any other code
  raises :class:`BatchJobFailed` naming the code and the trainer's last lines, so the state
  machine's Catch routes it to RecordFailure as a failed Batch job would be.
* A trainer still running when the function's own deadline approaches is killed and
  :class:`BatchJobTimedOut` raised (Batch's ``attemptDurationSeconds``).
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Final

from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.observability import logger
from chronos_trainer import BATCH_COMMAND, EXIT_CANCELLED, EXIT_REJECTED, EXIT_UNAVAILABLE

#: Seconds kept free before the function's deadline to stop the trainer and answer.
DEADLINE_MARGIN_SECONDS: Final = 10.0
TAIL_LINES: Final = 20
CODE_DIR: Final = Path(__file__).resolve().parent
_MEANING: Final = {EXIT_REJECTED: "the trainer rejected its input"}


class BatchJobFailed(Exception):
    """The trainer exited with a non-zero code (Batch: the job ``FAILED``)."""


class BatchJobTimedOut(Exception):
    """The trainer ran past the time it was given and was killed."""


def batch_command(parameters: dict[str, str]) -> list[str]:
    """:data:`BATCH_COMMAND` with every ``Ref::<name>`` replaced by ``parameters[name]``."""
    command = [
        parameters[arg.removeprefix("Ref::")] if arg.startswith("Ref::") else arg for arg in BATCH_COMMAND
    ]
    return [sys.executable if arg == "python" else arg for arg in command]


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    parameters = {"job_id": str(event["job_id"]), "dataset_key": str(event["dataset_key"])}
    batch_job_id = f"local-{uuid.uuid4()}"
    job_name = f"chronos-train-{parameters['job_id']}"
    command = batch_command(parameters)
    logger.set_correlation_id(parameters["job_id"])
    logger.info("Starting the trainer", extra={"batch_job_id": batch_job_id, "command": command})
    seconds = max(1.0, context.get_remaining_time_in_millis() / 1000 - DEADLINE_MARGIN_SECONDS)
    code, tail = _run(command, _environment(batch_job_id), seconds)
    answer = {"JobId": batch_job_id, "JobName": job_name}
    if code is None:
        raise BatchJobTimedOut(f"{job_name}: the trainer ran longer than {seconds:.0f} s and was stopped")
    if code == EXIT_CANCELLED:
        logger.info("The trainer stopped: its job is no longer running", extra={"batch_job_id": batch_job_id})
        return {**answer, "Status": "CANCELLED"}
    if code == EXIT_UNAVAILABLE:
        raise DependencyUnavailableError(f"{job_name}: the trainer could not reach a dependency; retry later")
    if code != 0:
        meaning = _MEANING.get(code, "the trainer failed")
        last = " | ".join(tail[-3:])
        raise BatchJobFailed(
            f"{job_name}: essential container in task exited with code {code} ({meaning}): {last}"
        )
    logger.info("The trainer finished", extra={"batch_job_id": batch_job_id})
    return {**answer, "Status": "SUCCEEDED"}


def _environment(batch_job_id: str) -> dict[str, str]:
    path = [str(CODE_DIR), *(entry for entry in sys.path if entry)]
    return {**os.environ, "AWS_BATCH_JOB_ID": batch_job_id, "PYTHONPATH": os.pathsep.join(path)}


def _run(command: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, list[str]]:
    """Run ``command``, forwarding its output; ``(exit code, or None when killed at the
    deadline; its last lines)``."""
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
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = None
    reader.join(timeout=5)
    return code, list(tail)
