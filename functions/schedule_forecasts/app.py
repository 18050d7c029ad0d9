"""Scheduler (EventBridge rule, every minute): claim due forecast slots, one SQS message each.

Each tick claims the latest due slot on every due job's grid with a ticket unique per
``(job, slot)`` (concurrent ticks never claim the same slot) and sends ``{job_id, slot}``
messages; the forecast run moves the job past its slot. It never re-enqueues itself: the rule
is the only clock. The correlation id is the EventBridge event id (a fresh one when invoked
without it).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.forecasting.commands import ScheduleTick
from chronos_core.application.forecasting.scheduler import schedule_due
from chronos_core.bootstrap import services
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    correlation_id = str(event.get("id") or uuid.uuid4())
    logger.set_correlation_id(correlation_id)
    started = time.perf_counter()
    result = schedule_due(services(), ScheduleTick(now=utcnow(), correlation_id=correlation_id))
    logger.info(
        "Scheduler tick", extra={**result.model_dump(), "seconds": round(time.perf_counter() - started, 3)}
    )
    return result.model_dump()
