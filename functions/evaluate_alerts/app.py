"""Alert evaluator (EventBridge rule, every minute): evaluate every enabled alert rule whose
slot is due, once per ``(rule, slot)`` whatever the number of evaluators, store transitions as
alert events, and queue the notifications due. The correlation id is the EventBridge event id.

A direct invocation may name the time to evaluate at, ``{"detail": {"evaluate_at": "<ISO 8601
with offset>"}}`` (replays, the end-to-end tests); EventBridge's scheduled events carry an empty
``detail``, so the schedule evaluates at the current time."""

import time
import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chronos_core.application.monitoring.commands import EvaluationTick
from chronos_core.application.monitoring.evaluation import evaluate_due
from chronos_core.bootstrap import services
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


class TickDetail(BaseModel):
    """The event's ``detail``: empty from the schedule."""

    model_config = ConfigDict(extra="ignore")

    evaluate_at: AwareDatetime | None = None


class TickEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    detail: TickDetail = Field(default_factory=TickDetail)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tick = TickEvent.model_validate(event)
    correlation_id = tick.id or str(uuid.uuid4())
    logger.set_correlation_id(correlation_id)
    now = tick.detail.evaluate_at or utcnow()
    started = time.perf_counter()
    result = evaluate_due(services(), EvaluationTick(now=now, correlation_id=correlation_id))
    logger.info(
        "Alert evaluation tick",
        extra={
            **result.model_dump(),
            "evaluated_at": now.isoformat(),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return result.model_dump()
