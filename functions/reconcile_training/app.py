"""Reconciler (EventBridge: every minute, and in AWS on each execution that ends FAILED,
TIMED_OUT or ABORTED): record as failed every running job whose execution has ended, or never
started, and free its model; then every running anomaly scan alike. The correlation id is the
EventBridge event id."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.anomaly.reconciliation import reconcile_scans
from chronos_core.application.training.reconciliation import ReconcileJobs, reconcile_jobs
from chronos_core.bootstrap import services
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(str(event.get("id") or uuid.uuid4()))
    command = ReconcileJobs(now=utcnow())
    result = reconcile_jobs(services(), command)
    logger.info("Reconciled training jobs", extra=result.model_dump())
    scans = reconcile_scans(services(), command)  # anomaly scans, the same way
    if scans.checked:
        logger.info("Reconciled anomaly scans", extra=scans.model_dump())
    result.checked += scans.checked
    result.failed.extend(scans.failed)
    return result.model_dump()
