"""Reconciler (EventBridge: every minute, and in AWS on each execution that ends FAILED,
TIMED_OUT or ABORTED): record as failed every running job whose execution has ended, or never
started, and free its model. The correlation id is the EventBridge event id."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.training.reconciliation import ReconcileJobs, reconcile_jobs
from chronos_core.bootstrap import services
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(str(event.get("id") or uuid.uuid4()))
    result = reconcile_jobs(services(), ReconcileJobs(now=utcnow()))
    logger.info("Reconciled training jobs", extra=result.model_dump())
    return result.model_dump()
