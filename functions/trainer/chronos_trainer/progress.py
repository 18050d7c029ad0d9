"""Live training progress written to the job's MongoDB document, and cancellation read from it.

Writes (throttled, at most one per ``min_interval`` seconds, phases always) to
``training_jobs`` where ``id == training_job_id``::

    progress.phase, progress.epoch, progress.epochs, progress.loss, progress.val_loss,
    progress.learning_rate, progress.elapsed_seconds, progress.updated_at

and stops the fit when the job's ``status`` is ``cancel_requested`` or ``cancelled`` (checked at
most every ``cancel_check_interval`` seconds). Errors talking to MongoDB are logged, never raised:
progress is best effort and must not fail a training.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError

from chronos_core.application.ports_ml import EpochProgress
from chronos_core.observability import logger

CANCEL_STATUSES = ("cancel_requested", "cancelled")


class MongoProgressReporter:
    """:class:`~chronos_core.application.ports_ml.ProgressReporter` on ``training_jobs``."""

    def __init__(
        self,
        collection: Any,
        training_job_id: str,
        *,
        min_interval: float = 2.0,
        cancel_check_interval: float = 5.0,
    ) -> None:
        self._jobs = collection
        self._job_id = training_job_id
        self._min_interval = min_interval
        self._cancel_interval = cancel_check_interval
        self._last_write = 0.0
        self._last_check = 0.0
        self._cancelled = False

    def _set(self, fields: dict[str, Any]) -> None:
        fields["progress.updated_at"] = datetime.now(UTC)
        try:
            self._jobs.update_one({"id": self._job_id}, {"$set": fields})
        except PyMongoError as exc:
            logger.warning(
                "progress write failed", extra={"job_id": self._job_id, "error": type(exc).__name__}
            )

    def phase(self, name: str) -> None:
        self._set({"progress.phase": name})

    def epoch(self, progress: EpochProgress) -> None:
        now = time.monotonic()
        if now - self._last_write < self._min_interval and progress.epoch != progress.epochs:
            return
        self._last_write = now
        self._set(
            {
                "progress.epoch": progress.epoch,
                "progress.epochs": progress.epochs,
                "progress.loss": progress.loss,
                "progress.val_loss": progress.val_loss,
                "progress.learning_rate": progress.learning_rate,
                "progress.elapsed_seconds": progress.elapsed_seconds,
            }
        )
        logger.info("epoch", extra={"job_id": self._job_id, **progress.model_dump()})

    def should_stop(self) -> bool:
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_check < self._cancel_interval:
            return False
        self._last_check = now
        try:
            doc = self._jobs.find_one({"id": self._job_id}, {"status": 1})
        except PyMongoError:
            return False
        self._cancelled = bool(doc and doc.get("status") in CANCEL_STATUSES)
        return self._cancelled


class LogProgressReporter:
    """Progress as log lines only (local runs)."""

    def __init__(self, training_job_id: str) -> None:
        self._job_id = training_job_id

    def phase(self, name: str) -> None:
        logger.info("phase", extra={"job_id": self._job_id, "phase": name})

    def epoch(self, progress: EpochProgress) -> None:
        logger.info("epoch", extra={"job_id": self._job_id, **progress.model_dump()})

    def should_stop(self) -> bool:
        return False
