"""Alert evaluator (EventBridge rule, every minute): evaluate every enabled alert rule whose
slot is due, once per ``(rule, slot)`` whatever the number of evaluators, store transitions as
alert events, and queue the notifications due. The correlation id is the EventBridge event id."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.monitoring.commands import EvaluationTick
from chronos_core.application.monitoring.evaluation import evaluate_due
from chronos_core.bootstrap import services
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    correlation_id = str(event.get("id") or uuid.uuid4())
    logger.set_correlation_id(correlation_id)
    started = time.perf_counter()
    result = evaluate_due(services(), EvaluationTick(now=utcnow(), correlation_id=correlation_id))
    logger.info(
        "Alert evaluation tick",
        extra={**result.model_dump(), "seconds": round(time.perf_counter() - started, 3)},
    )
    return result.model_dump()
