"""Step RecordFailure: the Catch target of every state records the scan's failure."""

from __future__ import annotations

from chronos_core.application.anomaly.deps import ScanFailureDeps
from chronos_core.application.anomaly.pipeline.events import ScanFailureEvent, ScanFailureResult
from chronos_core.domain.anomaly import ScanStatus
from chronos_core.domain.training_job import JobError
from chronos_core.observability import logger


def record_scan_failure(deps: ScanFailureDeps, event: ScanFailureEvent) -> ScanFailureResult:
    """Record phase, error and cause; a scan that is no longer running is left as it is. Its
    scored chunks stay in their checkpoints for a retry."""
    scan = deps.scans.get(event.scan_id)
    if scan is None or scan.status.finished:
        return ScanFailureResult(scan_id=event.scan_id, recorded=False)
    error = JobError(phase=scan.phase.value if scan.phase else None, error=event.error, cause=event.cause)
    failed = deps.scans.finish(scan.id, ScanStatus.FAILED, error=error)
    if failed is not None:
        logger.warning(
            "Anomaly scan failed", extra={"scan_id": scan.id, "error": event.error, "phase": error.phase}
        )
    return ScanFailureResult(scan_id=scan.id, recorded=failed is not None)
