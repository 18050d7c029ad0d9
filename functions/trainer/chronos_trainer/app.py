"""Train one job from a dataset location and write its artifacts and metrics.

Ways in:

- AWS Batch, as the state machine's Train step: ``python -m chronos_trainer --job-id <id>
  --dataset-key jobs/<id>/dataset.json``. This runs the application's
  :func:`chronos_core.application.training_pipeline.train` (job and model from MongoDB, dataset
  from the pipeline bucket, progress and results on the job document), exactly what the local
  Train Lambda runs.
- Standalone: ``python -m chronos_trainer --request s3://bucket/request.json`` (or the individual
  flags below, or the request JSON in ``CHRONOS_TRAINER_REQUEST``): dataset location + config,
  no job document needed; the outcome JSON is printed and, with ``result``, written to S3 or a
  file.

Exit codes: 0 on success, 2 when the input is rejected (too little data, bad configuration:
retrying cannot help), 3 when the job was cancelled, 1 otherwise.
- Lambda (local stack): :func:`handler` with the request as the event; returns the outcome.
- In-process (tests, local runs): :func:`run` with injected store, progress and S3 client.
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

from chronos_core.application.ports_ml import ArtifactStore, NullProgress, ProgressReporter
from chronos_core.config import Settings, get_settings
from chronos_core.domain.errors import ChronosError, ValidationError
from chronos_core.ml.config import JobIdentity, TrainingConfig
from chronos_core.ml.errors import TrainingCancelledError
from chronos_core.ml.pipeline import TrainingOutcome, run_training_job
from chronos_core.observability import logger
from chronos_trainer.dataset import load_points, read_bytes, write_bytes
from chronos_trainer.progress import LogProgressReporter, MongoProgressReporter

EXIT_OK, EXIT_FAILED, EXIT_REJECTED, EXIT_CANCELLED = 0, 1, 2, 3


class TrainerRequest(BaseModel):
    """One training job's input. ``dataset`` and ``result`` are ``s3://`` URIs or local paths."""

    model_config = ConfigDict(extra="forbid")

    training_job_id: str = Field(min_length=1)
    model_id: str = Field(min_length=1)
    feature: str = "value"
    dataset: str = Field(min_length=1)
    config: TrainingConfig = Field(default_factory=TrainingConfig)
    result: str | None = None
    progress: Literal["mongo", "log", "none"] = "mongo"


class _Clients:
    """Clients built lazily from settings, once per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._mongo: Any = None
        self._s3: Any = None

    @property
    def db(self) -> Any:
        if self._mongo is None:
            from chronos_core.adapters import mongo

            self._mongo = mongo.create_client(
                self.settings.mongodb_uri.get_secret_value(), self.settings.mongodb_timeout_ms
            )
        return self._mongo[self.settings.mongodb_database]

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            from chronos_core.adapters import aws

            self._s3 = aws.create_client("s3", self.settings.aws_region, self.settings.aws_endpoint_url)
        return self._s3


def run(
    request: TrainerRequest,
    *,
    store: ArtifactStore | None = None,
    progress: ProgressReporter | None = None,
    s3_client: Any | None = None,
    settings: Settings | None = None,
) -> TrainingOutcome:
    """Load the dataset, train, write artifacts (and the outcome to ``request.result``)."""
    clients = _Clients(settings or get_settings())
    needs_s3 = request.dataset.startswith("s3://") or (request.result or "").startswith("s3://")
    s3 = s3_client if s3_client is not None or not needs_s3 else clients.s3
    if store is None:
        from chronos_core.adapters.artifact_store import GridFSArtifactStore

        gridfs_store = GridFSArtifactStore(clients.db)
        gridfs_store.ensure_indexes()
        store = gridfs_store
    if progress is None:
        if request.progress == "mongo":
            progress = MongoProgressReporter(clients.db["training_jobs"], request.training_job_id)
        elif request.progress == "log":
            progress = LogProgressReporter(request.training_job_id)
        else:
            progress = NullProgress()
    logger.append_keys(job_id=request.training_job_id, model_id=request.model_id)
    points = load_points(request.dataset, s3)
    outcome = run_training_job(
        points,
        request.config,
        JobIdentity(
            model_id=request.model_id, training_job_id=request.training_job_id, feature=request.feature
        ),
        store,
        progress,
    )
    if request.result:
        write_bytes(request.result, outcome.model_dump_json().encode("utf-8"), s3)
    return outcome


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """Lambda entry (local stack): the event is a :class:`TrainerRequest`; returns the outcome.

    Domain errors propagate, so a Step Functions ``Catch`` can match their class names
    (``InsufficientDataError``, ``TrainingCancelledError``...).
    """
    request = TrainerRequest.model_validate(event)
    return run(request).model_dump(mode="json")


def run_pipeline_step(job_id: str, dataset_key: str) -> dict[str, Any]:
    """The state machine's Train step (Batch): the application use case with the wired adapters."""
    from chronos_core import wiring
    from chronos_core.application import training_pipeline

    logger.append_keys(job_id=job_id)
    logger.set_correlation_id(job_id)
    return training_pipeline.train(
        wiring.training_job_repository(),
        wiring.model_repository(),
        wiring.object_store(),
        wiring.artifact_store(),
        job_id,
        dataset_key,
        batch_job_id=os.environ.get("AWS_BATCH_JOB_ID"),
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="chronos_trainer", description=__doc__.splitlines()[0])
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
        s3 = _Clients(get_settings()).s3 if value.startswith("s3://") else None
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


def main(argv: Sequence[str] | None = None) -> int:
    """Container entrypoint; returns the process exit code (see the module docstring)."""
    args = _parse_args(argv)
    if args.dataset_key is not None and args.dataset is None and args.request is None:
        if not args.training_job_id:
            logger.error("--dataset-key needs --job-id")
            return EXIT_REJECTED
        try:
            result = run_pipeline_step(args.training_job_id, args.dataset_key)
        except ValidationError as exc:
            logger.error("training rejected", extra={"error": exc.message, "details": exc.details})
            return EXIT_REJECTED
        except ChronosError as exc:
            logger.error("training failed", extra={"error": exc.message, "code": exc.code})
            return EXIT_FAILED
        sys.stdout.write(json.dumps(result) + "\n")
        return EXIT_CANCELLED if result.get("reason") == "cancelled" else EXIT_OK
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
