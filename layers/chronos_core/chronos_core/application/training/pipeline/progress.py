"""Live progress of a training run, written to the job's progress log."""

from __future__ import annotations

from chronos_core.application.ports.training_jobs import TrainingProgressLog
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.ids import JobId
from chronos_core.domain.training_job import EpochProgress
from chronos_core.observability import logger


class JobProgress:
    """A :class:`~chronos_core.application.ports.pipeline.ProgressReporter` that records every
    epoch in the job's progress log and stops the fit as soon as the job is no longer running
    (cancelled, or failed by someone else).

    Progress is best effort: while the database is unreachable, epochs go unrecorded and the fit
    carries on (it is not stopped for a job whose status cannot be read); the run's result is
    what must reach the job, and the train step fails, to be retried, if it cannot.
    """

    def __init__(self, log: TrainingProgressLog, job_id: JobId) -> None:
        self._log = log
        self._job_id = job_id

    def phase(self, name: str) -> None:
        try:
            self._log.record_training_phase(self._job_id, name)
        except DependencyUnavailableError:
            logger.warning(
                "Training phase not recorded: the database is unavailable", extra={"job_id": self._job_id}
            )

    def epoch(self, progress: EpochProgress) -> None:
        try:
            self._log.record_epoch(self._job_id, progress.record(), progress.epochs)
        except DependencyUnavailableError:
            logger.warning("Epoch not recorded: the database is unavailable", extra={"job_id": self._job_id})

    def should_stop(self) -> bool:
        try:
            status = self._log.status_of(self._job_id)
        except DependencyUnavailableError:
            return False
        return status is None or status.finished
