"""Starting, cancelling and retrying the state-machine execution behind a scan."""

from __future__ import annotations

from chronos_core.application.anomaly.commands import ScanCommand
from chronos_core.application.anomaly.deps import ScanControlDeps
from chronos_core.application.anomaly.queries import get_scan
from chronos_core.domain.anomaly import AnomalyScan, ScanStatus
from chronos_core.domain.errors import ChronosError, ConflictError, DependencyUnavailableError
from chronos_core.domain.model import utcnow
from chronos_core.domain.training_job import ExecutionRef, JobError, execution_name
from chronos_core.observability import logger

CANCELLED_CAUSE = "Cancelled by user request"


def start_scan_execution(deps: ScanControlDeps, scan: AnomalyScan) -> AnomalyScan:
    """Start the scan's execution (named after it) and attach it: the scan is ``queued``. If it
    cannot start, the scan is recorded ``failed`` and the error raised (DependencyUnavailableError
    for anything that is not a ChronosError)."""
    assert scan.execution is not None
    try:
        arn = deps.scan_workflow.start(scan.execution.name, {"scan_id": scan.id})
    except Exception as exc:
        cause = (
            exc.message if isinstance(exc, ChronosError) else "The anomaly-scan workflow could not be started"
        )
        deps.scans.finish(
            scan.id, ScanStatus.FAILED, error=JobError(phase=None, error=type(exc).__name__, cause=cause)
        )
        if isinstance(exc, ChronosError):
            raise
        raise DependencyUnavailableError(
            "The anomaly-scan workflow could not be started; retry later"
        ) from exc
    queued = deps.scans.attach_execution(scan.id, arn, utcnow())
    logger.info(
        "Anomaly scan started", extra={"scan_id": scan.id, "model_id": scan.model_id, "execution": arn}
    )
    return queued or scan


def cancel_scan(deps: ScanControlDeps, command: ScanCommand) -> AnomalyScan:
    """Stop the scan's execution and mark it ``cancelled``. Raises ConflictError once it has
    finished."""
    scan = get_scan(deps, command)
    if scan.status.finished:
        raise ConflictError(f"Anomaly scan {scan.id} is already {scan.status.value}")
    if scan.execution is not None and scan.execution.arn:
        deps.scan_workflow.stop(scan.execution.arn, CANCELLED_CAUSE)
    error = JobError(phase=scan.phase.value if scan.phase else None, error="Cancelled", cause=CANCELLED_CAUSE)
    cancelled = deps.scans.finish(scan.id, ScanStatus.CANCELLED, error=error)
    if cancelled is None:
        status = deps.scans.status_of(scan.id)
        raise ConflictError(f"Anomaly scan {scan.id} is already {status.value if status else 'gone'}")
    logger.info("Anomaly scan cancelled", extra={"scan_id": scan.id})
    return cancelled


def retry_scan(deps: ScanControlDeps, command: ScanCommand) -> AnomalyScan:
    """Resume a failed scan (or fill the failed chunks of one completed with failures) with a new
    execution: its plan is kept and its scored chunks are not scored again. Raises ConflictError
    for any other status."""
    scan = get_scan(deps, command)
    if not scan.status.retryable:
        raise ConflictError(
            f"Only failed scans, or scans completed with failures, can be retried; {scan.id} is "
            f"{scan.status.value}"
        )
    attempt = (scan.execution.attempt if scan.execution else 1) + 1
    reopened = deps.scans.reopen_for_retry(
        scan.id, ExecutionRef(name=execution_name(scan.id, attempt), attempt=attempt)
    )
    if reopened is None:
        raise ConflictError(f"Anomaly scan {scan.id} changed state; reload it")
    return start_scan_execution(deps, reopened)
