"""Train one job and write its artifacts and metrics: the AWS Batch container's entry point.

Ways in:

- The state machine's Train step: ``python -m chronos_trainer --job-id <id> --dataset-key
  jobs/<id>/dataset.json`` (:data:`BATCH_COMMAND`, the job definition's command). This runs the
  application's Train step (:func:`chronos_core.application.training.pipeline.train_step.train`)
  over the bootstrap's services: job and model from MongoDB, the dataset from the pipeline bucket,
  epochs into the job's live progress, the result on the job. AWS Batch runs it in the GPU
  container; the local stack runs the very same command in a subprocess
  (``functions/trainer/local_batch.py``). A failure the trainer can name (bad data, a failed
  export) is recorded on the job before the process exits, so the job's error is the trainer's
  own message rather than Batch's "Essential container in task exited".
- Standalone: ``python -m chronos_trainer --request s3://bucket/request.json`` (or the individual
  flags, or the request JSON in ``CHRONOS_TRAINER_REQUEST``): a dataset location and a
  configuration, no job document needed; the outcome JSON is printed and, with ``result``,
  written to S3 or a file. ``progress: mongo`` writes epochs to the job's live progress and stops
  when the job is no longer running (without a job document, progress is logged instead).

Exit codes: 0 on success, 2 when the input is rejected (too little data, bad configuration:
retrying cannot help), 3 when the job is no longer running (cancelled), 4 when a dependency could
not be reached (worth retrying: the Batch job definition retries it, as the local Train step's
Retry does), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from chronos_core.application.ports.pipeline import ProgressReporter
from chronos_core.application.training.pipeline.completion import record_failure
from chronos_core.application.training.pipeline.events import FailureEvent, TrainEvent, TrainResult
from chronos_core.application.training.pipeline.progress import JobProgress
from chronos_core.application.training.pipeline.train_step import train
from chronos_core.bootstrap import Services, services
from chronos_core.domain.errors import (
    ChronosError,
    DependencyUnavailableError,
    TrainingCancelledError,
    ValidationError,
)
from chronos_core.domain.ids import JobId
from chronos_core.ml.config import JobIdentity, TrainingConfig
from chronos_core.ml.pipeline import NullProgress, TrainingOutcome, run_training_job
from chronos_core.observability import logger
from chronos_trainer import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_REJECTED, EXIT_UNAVAILABLE
from chronos_trainer.dataset import load_points, read_bytes, write_bytes


class TrainerRequest(BaseModel):
    """One standalone training run. ``dataset`` and ``result`` are ``s3://`` URIs or local paths."""

    model_config = ConfigDict(extra="forbid")

    training_job_id: str = Field(min_length=1)
    model_id: str = Field(min_length=1)
    feature: str = "value"
    dataset: str = Field(min_length=1)
    config: TrainingConfig = Field(default_factory=TrainingConfig)
    result: str | None = None
    progress: Literal["mongo", "log", "none"] = "mongo"


class LogProgress:
    """Progress as log lines only."""

    def __init__(self, training_job_id: str) -> None:
        self._job_id = training_job_id

    def phase(self, name: str) -> None:
        logger.info("phase", extra={"job_id": self._job_id, "phase": name})

    def epoch(self, progress: Any) -> None:
        logger.info("epoch", extra={"job_id": self._job_id, **progress.model_dump()})

    def should_stop(self) -> bool:
        return False


def run_pipeline_step(job_id: str, dataset_key: str) -> TrainResult:
    """The state machine's Train step over the bootstrap's services. A failure other than an
    unreachable dependency is recorded on the job (then re-raised)."""
    container = services()
    logger.append_keys(job_id=job_id)
    logger.set_correlation_id(job_id)
    event = TrainEvent(
        job_id=JobId(job_id), dataset_key=dataset_key, batch_job_id=os.environ.get("AWS_BATCH_JOB_ID")
    )
    try:
        return train(container, event)
    except DependencyUnavailableError:
        raise
    except Exception as exc:
        _record(container, event.job_id, exc)
        raise


def _record(container: Services, job_id: JobId, exc: Exception) -> None:
    cause = exc.message if isinstance(exc, ChronosError) else f"{type(exc).__name__}: internal error"
    try:
        record_failure(
            container, FailureEvent(job_id=job_id, failure={"Error": type(exc).__name__, "Cause": cause})
        )
    except Exception:  # the state machine's failure step records it then
        logger.exception("Could not record the training failure on the job", extra={"job_id": job_id})


def run(request: TrainerRequest, *, container: Services | None = None) -> TrainingOutcome:
    """Train from ``request.dataset`` with the services' artifact store; write the outcome to
    ``request.result`` when given."""
    container = container or services()
    needs_s3 = request.dataset.startswith("s3://") or (request.result or "").startswith("s3://")
    s3 = container.aws_client("s3") if needs_s3 else None
    logger.append_keys(job_id=request.training_job_id, model_id=request.model_id)
    outcome = run_training_job(
        load_points(request.dataset, s3),
        request.config,
        JobIdentity(
            model_id=request.model_id, training_job_id=request.training_job_id, feature=request.feature
        ),
        container.artifacts,
        _progress(request, container),
    )
    if request.result:
        write_bytes(request.result, outcome.model_dump_json().encode("utf-8"), s3)
    return outcome


def _progress(request: TrainerRequest, container: Services) -> ProgressReporter:
    """``mongo``: the job's live progress, stopping once the job stops running; a job that has
    no document (a standalone run) gets log lines instead."""
    if request.progress == "mongo":
        job_id = JobId(request.training_job_id)
        if container.jobs.status_of(job_id) is not None:
            return JobProgress(container.jobs, job_id)
        logger.warning("No job document: progress goes to the log", extra={"job_id": job_id})
        return LogProgress(request.training_job_id)
    if request.progress == "log":
        return LogProgress(request.training_job_id)
    return NullProgress()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chronos_trainer", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--request", help="request JSON: inline, a path, or s3://bucket/key")
    parser.add_argument("--job-id", dest="training_job_id")
    parser.add_argument("--model-id")
    parser.add_argument("--feature")
    parser.add_argument("--dataset", help="standalone mode: s3://bucket/key or a local path")
    parser.add_argument("--dataset-key", help="pipeline mode: the dataset's key in the pipeline bucket")
    parser.add_argument("--config", help="TrainingConfig JSON: inline, a path, or s3://bucket/key")
    parser.add_argument("--result")
    parser.add_argument("--progress", choices=["mongo", "log", "none"])
    return parser.parse_args(argv)


def _parse_request(args: argparse.Namespace) -> TrainerRequest:
    def document(value: str) -> Any:
        if value.lstrip().startswith("{"):
            return json.loads(value)
        s3 = services().aws_client("s3") if value.startswith("s3://") else None
        return json.loads(read_bytes(value, s3))

    raw: dict[str, Any] = {}
    source = args.request or os.environ.get("CHRONOS_TRAINER_REQUEST")
    if source:
        raw.update(document(source))
    for key in ("training_job_id", "model_id", "feature", "dataset", "result", "progress"):
        value = getattr(args, key)
        if value is not None:
            raw[key] = value
    if args.config is not None:
        raw["config"] = document(args.config)
    return TrainerRequest.model_validate(raw)


def _pipeline_main(args: argparse.Namespace) -> int:
    if not args.training_job_id:
        logger.error("--dataset-key needs --job-id")
        return EXIT_REJECTED
    try:
        result = run_pipeline_step(args.training_job_id, args.dataset_key)
    except DependencyUnavailableError as exc:
        logger.error("training could not reach a dependency", extra={"error": exc.message})
        return EXIT_UNAVAILABLE
    except ValidationError as exc:
        logger.error("training rejected", extra={"error": exc.message, "details": exc.details})
        return EXIT_REJECTED
    except ChronosError as exc:
        logger.error("training failed", extra={"error": exc.message, "code": exc.code})
        return EXIT_FAILED
    sys.stdout.write(result.model_dump_json() + "\n")
    return EXIT_CANCELLED if result.reason == "cancelled" else EXIT_OK


def _standalone_main(args: argparse.Namespace) -> int:
    try:
        request = _parse_request(args)
    except (PydanticValidationError, ValueError, OSError) as exc:
        logger.error("invalid trainer request", extra={"error": str(exc)})
        return EXIT_REJECTED
    try:
        outcome = run(request)
    except TrainingCancelledError:
        logger.warning("training cancelled")
        return EXIT_CANCELLED
    except ValidationError as exc:
        logger.error("training rejected", extra={"error": exc.message, "details": exc.details})
        return EXIT_REJECTED
    except ChronosError as exc:
        logger.error(
            "training failed", extra={"error": exc.message, "code": exc.code, "details": exc.details}
        )
        return EXIT_FAILED
    sys.stdout.write(outcome.model_dump_json() + "\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Container entrypoint; returns the process exit code (see the module docstring)."""
    args = _parse_args(argv)
    if args.dataset_key is not None and args.dataset is None and args.request is None:
        return _pipeline_main(args)
    return _standalone_main(args)
