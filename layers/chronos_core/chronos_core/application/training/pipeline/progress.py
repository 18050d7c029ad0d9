"""Live progress of a training run, written to the job's progress log."""

from __future__ import annotations

from chronos_core.application.ports.training_jobs import TrainingProgressLog
from chronos_core.domain.ids import JobId
from chronos_core.domain.training_job import EpochProgress


class JobProgress:
    """A :class:`~chronos_core.application.ports.pipeline.ProgressReporter` that records every
    epoch in the job's progress log and stops the fit as soon as the job is no longer running
    (cancelled, or failed by someone else)."""

    def __init__(self, log: TrainingProgressLog, job_id: JobId) -> None:
        self._log = log
        self._job_id = job_id

    def phase(self, name: str) -> None:
        self._log.record_training_phase(self._job_id, name)

    def epoch(self, progress: EpochProgress) -> None:
        self._log.record_epoch(self._job_id, progress.record(), progress.epochs)

    def should_stop(self) -> bool:
        status = self._log.status_of(self._job_id)
        return status is None or status.finished
