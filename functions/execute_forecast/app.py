"""Forecast worker (SQS, partial batch failures): run the forecasts of one SQS batch of
``{job_id, slot}`` messages as a batch and upsert them into Orion.

The batch goes to :func:`execute_forecasts` in one call (one read of its jobs and models, the
run leases taken together, concurrent STH reads, one Orion batch update per tenant, bulk run
records). Each record still succeeds or fails on its own: a record that fails (or whose body is
not a forecast message) is reported in ``batchItemFailures`` and made visible again after a
backoff (``CHRONOS_FORECAST_RETRY_DELAY_SECONDS`` × 2^(attempt-1)); after the queue's
``maxReceiveCount`` it goes to the dead-letter queue. The failure is recorded on the job
(``last_forecast``). A message for a job that no longer exists (or whose forecasts are
disabled) is acknowledged and skipped, not failed: retrying it could never succeed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.forecasting.commands import ExecuteForecast, ExecuteForecastBatch
from chronos_core.application.forecasting.worker import execute_forecasts
from chronos_core.bootstrap import services
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.forecasting import ForecastMessage
from chronos_core.observability import logger


def _parsed(record: SQSRecord) -> ExecuteForecast | None:
    try:
        message = ForecastMessage.model_validate_json(record.body)
    except ValueError:
        logger.exception("Not a forecast message", extra={"message_id": record.message_id})
        return None
    return ExecuteForecast(message=message, attempt=int(record.attributes.approximate_receive_count or 1))


def _back_off(record: SQSRecord, attempt: int) -> None:
    """Delay the next receive of a failed record (best effort)."""
    try:
        queue = services().queue
    except DependencyUnavailableError:  # no queue configured: the queue's own timeout applies
        return
    try:
        queue.postpone(record.receipt_handle, attempt)
    except Exception:
        logger.exception("Could not postpone a failed forecast message")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = [SQSRecord(raw) for raw in event.get("Records") or []]
    if records:
        correlation = records[0].message_attributes["correlation_id"]
        logger.set_correlation_id(correlation.string_value if correlation else records[0].message_id)
    parsed = [(record, _parsed(record)) for record in records]
    runnable = [(record, item) for record, item in parsed if item is not None]
    failed = [record for record, item in parsed if item is None]
    try:
        results: list[Any] = execute_forecasts(
            services(), ExecuteForecastBatch(items=tuple(item for _, item in runnable))
        )
    except Exception as exc:
        logger.exception("The forecast batch failed as a whole")
        results = [exc] * len(runnable)
    succeeded = skipped = 0
    for (record, item), result in zip(runnable, results, strict=True):
        if isinstance(result, Exception):
            failed.append(record)
            _back_off(record, item.attempt)
        elif result.status == "succeeded":
            succeeded += 1
        else:
            skipped += 1
    logger.info(
        "Forecast batch",
        extra={"records": len(records), "succeeded": succeeded, "skipped": skipped, "failed": len(failed)},
    )
    return {"batchItemFailures": [{"itemIdentifier": record.message_id} for record in failed]}
