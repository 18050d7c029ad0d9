"""Forecast worker (SQS, partial batch failures): run one forecast per ``{job_id, slot}`` message
and upsert it into Orion.

A record that fails is reported in ``batchItemFailures`` and made visible again after a backoff
(``CHRONOS_FORECAST_RETRY_DELAY_SECONDS`` × 2^(attempt-1)); after the queue's ``maxReceiveCount``
it goes to the dead-letter queue. The failure is recorded on the job (``last_forecast``).
A message for a job that no longer exists (or whose forecasts are disabled) is acknowledged and
skipped, not failed: retrying it could never succeed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.forecasting.commands import ExecuteForecast
from chronos_core.application.forecasting.worker import execute_forecast
from chronos_core.bootstrap import services
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.forecasting import ForecastMessage
from chronos_core.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = ForecastMessage.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    correlation = record.message_attributes["correlation_id"]
    logger.set_correlation_id(correlation.string_value if correlation else record.message_id)
    logger.append_keys(job_id=message.job_id, slot=message.to_body()["slot"], attempt=attempt)
    try:
        outcome = execute_forecast(services(), ExecuteForecast(message=message, attempt=attempt))
    except Exception:
        _back_off(record, attempt)
        raise
    return outcome.model_dump(mode="json")


def _back_off(record: SQSRecord, attempt: int) -> None:
    """Delay the next receive of a failed record (best effort)."""
    try:
        queue = services().queue
    except DependencyUnavailableError:  # no queue configured: the queue's own timeout applies
        return
    queue.postpone(record.receipt_handle, attempt)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
