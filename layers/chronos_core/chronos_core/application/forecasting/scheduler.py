"""The scheduler tick: claim the latest due slot of every due job, one message per won claim."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from chronos_core.application.forecasting.commands import ScheduleTick
from chronos_core.application.forecasting.deps import FanOutDeps, SchedulerDeps
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.forecasting import ForecastMessage, ForecastShard, advance
from chronos_core.observability import logger

#: Claims inserted per storage call.
CLAIM_BATCH: Final = 500


class TickResult(BaseModel):
    """What one scheduler tick did."""

    due: int = 0
    claimed: int = 0
    enqueued: int = 0
    released: int = 0
    lost: int = 0


def fan_out_tick(deps: FanOutDeps, command: ScheduleTick) -> int:
    """The rule's tick with ``scheduler_shards`` above 1: send one shard tick per shard (each
    run by its own invocation, :func:`schedule_due` with its ``shard``); return how many were
    sent. Raises when some could not be sent (the next tick, a minute later, sends them all
    again; a shard tick run twice claims nothing twice)."""
    count = deps.forecast_settings.scheduler_shards
    shards = [ForecastShard(index=i, count=count) for i in range(count)]
    unsent = deps.tick_queue.send_shards(shards, command.now, command.correlation_id)
    if unsent:
        raise DependencyUnavailableError(f"{len(unsent)} of {count} shard ticks could not be sent")
    return count


def schedule_due(deps: SchedulerDeps, command: ScheduleTick) -> TickResult:
    """Claim the latest due slot of every due job (of ``command.shard`` only, when given: the
    tick's cost is that of its shard's due jobs), then send one message per won claim. Claims
    whose message could not be sent are released (the next tick retries them). The queue is
    used only when there is something to send; the tick never re-enqueues itself."""
    due = deps.jobs.due_for_forecast(command.now, deps.forecast_settings.max_claims_per_tick, command.shard)
    result = TickResult(due=len(due))
    slots = [(item.job_id, advance(item.slot, item.interval_seconds, command.now)[0]) for item in due]
    won: list[bool] = []
    for start in range(0, len(slots), CLAIM_BATCH):
        won.extend(deps.schedule.claim_slots(slots[start : start + CLAIM_BATCH]))
    messages = [
        ForecastMessage(job_id=job_id, slot=slot) for (job_id, slot), ok in zip(slots, won, strict=True) if ok
    ]
    result.claimed = len(messages)
    if not messages:
        return result
    failed = deps.queue.send(messages, command.correlation_id)
    result.enqueued = len(messages) - len(failed)
    for message in failed:
        if deps.schedule.release(message.job_id, message.slot):
            result.released += 1
        else:
            result.lost += 1
    if failed:
        logger.warning(
            "Some forecast messages could not be sent; their claims were released",
            extra={"failed": len(failed), "released": result.released},
        )
    return result
