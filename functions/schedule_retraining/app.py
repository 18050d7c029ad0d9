"""Retraining scheduler (EventBridge rule, every minute): fire every retraining policy's due
time once.

Each tick takes, for every enabled policy with a schedule, its latest fire time at or before
now (fire times missed while no tick ran are coalesced into that one, never replayed), claims
it by inserting its run (concurrent ticks never act on the same fire time), applies the guards
(the training lease, cooldown, daily cap, minimum of new data in STH-Comet), and admits the
trainings through the training queue. The rule is the only clock.

``now`` in the event (ISO-8601) runs the tick at that time instead of the current one: a test or
an operator invokes the scheduler at a chosen time rather than waiting for it. The correlation
id is the EventBridge event id (a fresh one when invoked without it).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.retraining.commands import RetrainTick
from chronos_core.application.retraining.scheduler import schedule_retraining
from chronos_core.bootstrap import services
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


def tick_time(event: dict[str, Any]) -> datetime:
    """The event's ``now`` (ISO-8601; naive means UTC) or the current time. Raises ValueError."""
    given = event.get("now")
    if not given:
        return utcnow()
    moment = datetime.fromisoformat(str(given).replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(str(event.get("id") or uuid.uuid4()))
    started = time.perf_counter()
    result = schedule_retraining(services(), RetrainTick(now=tick_time(event)))
    logger.info(
        "Retraining scheduler tick",
        extra={**result.model_dump(), "seconds": round(time.perf_counter() - started, 3)},
    )
    return result.model_dump()
