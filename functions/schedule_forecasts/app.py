"""Scheduler (EventBridge rule, every minute): claim due forecast slots, one SQS message each.

Each tick claims the latest due slot on every due job's grid with a ticket unique per
``(job, slot)`` (concurrent ticks never claim the same slot) and sends ``{job_id, slot}``
messages; the forecast run moves the job past its slot. It never re-enqueues itself: the rule
is the only clock. The correlation id is the EventBridge event id (a fresh one when invoked
without it).

Sharded (``CHRONOS_FORECAST_SCHEDULER_SHARDS`` above 1): the rule's tick only sends one shard
tick per shard to the shard queue (``CHRONOS_FORECAST_TICK_QUEUE_URL``); the same function,
fed by that queue, runs each shard tick on its own (the due query of one shard's jobs, with the
rule's ``now``), so no invocation reads more than its shard's due jobs. A shard tick that fails
is retried by SQS (partial batch failures); running one twice claims nothing twice.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.forecasting.commands import ScheduleTick
from chronos_core.application.forecasting.scheduler import fan_out_tick, schedule_due
from chronos_core.bootstrap import services
from chronos_core.domain.forecasting import ForecastShard
from chronos_core.domain.model import utcnow
from chronos_core.observability import logger


def _shard_tick(record: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(record["body"])
    shard = ForecastShard(index=int(body["shard"]), count=int(body["shards"]))
    logger.set_correlation_id(str(body.get("correlation_id") or record.get("messageId")))
    now = datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00"))
    started = time.perf_counter()
    result = schedule_due(
        services(), ScheduleTick(now=now, correlation_id=str(body.get("correlation_id")), shard=shard)
    )
    logger.info(
        "Scheduler shard tick",
        extra={
            **result.model_dump(),
            "shard": shard.index,
            "shards": shard.count,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return result.model_dump()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # shard ticks from the shard queue
        failures = []
        for record in event["Records"]:
            try:
                _shard_tick(record)
            except Exception:
                logger.exception("Scheduler shard tick failed")
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}
    correlation_id = str(event.get("id") or uuid.uuid4())
    logger.set_correlation_id(correlation_id)
    started = time.perf_counter()
    deps = services()
    tick = ScheduleTick(now=utcnow(), correlation_id=correlation_id)
    if deps.forecast_settings.scheduler_shards > 1:
        shards = fan_out_tick(deps, tick)
        logger.info("Scheduler tick fanned out", extra={"shards": shards})
        return {"shards": shards}
    result = schedule_due(deps, tick)
    logger.info(
        "Scheduler tick", extra={**result.model_dump(), "seconds": round(time.perf_counter() - started, 3)}
    )
    return result.model_dump()
