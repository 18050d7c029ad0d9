"""Reconciling scans with their executions, as the training reconciler does for jobs: a scan
whose execution has ended (or never started) while it still reads running is recorded
``failed`` with the execution's own error, so that it can be retried. The training reconciler's
function runs both (``functions/reconcile_training``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Protocol

from chronos_core.application.anomaly.pipeline.events import ScanFailureEvent
from chronos_core.application.anomaly.pipeline.failure import record_scan_failure
from chronos_core.application.ports.anomaly import AnomalyScans, ScanJournal
from chronos_core.application.ports.pipeline import Workflow
from chronos_core.application.training.reconciliation import (
    ReconcileJobs,
    ReconcileResult,
    ended_execution_failure,
)
from chronos_core.observability import logger

#: Scans looked at per run (the oldest changes first).
BATCH: Final = 500


class ReconcilableScans(AnomalyScans, ScanJournal, Protocol):
    """Running scans, and what recording their failure needs."""


class ScanReconcileDeps(Protocol):
    @property
    def scans(self) -> ReconcilableScans: ...

    @property
    def scan_workflow(self) -> Workflow: ...


def reconcile_scans(deps: ScanReconcileDeps, command: ReconcileJobs) -> ReconcileResult:
    """Record as failed every running scan whose execution has ended, or never started."""
    result = ReconcileResult()
    settled = command.now - timedelta(seconds=command.grace_seconds)
    for scan in deps.scans.running_scans(BATCH):
        result.checked += 1
        failure = ended_execution_failure(
            deps.scan_workflow, scan.execution, scan.updated_at, settled, name="anomaly-scan workflow"
        )
        if failure is None:
            continue
        if record_scan_failure(deps, ScanFailureEvent(scan_id=scan.id, failure=failure)).recorded:
            result.failed.append(scan.id)
            logger.warning(
                "Reconciled a scan whose execution had ended", extra={"scan_id": scan.id, **failure}
            )
    return result
