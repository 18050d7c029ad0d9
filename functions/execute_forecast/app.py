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

from chronos_core import wiring
from chronos_core.application import forecasts
from chronos_core.config import get_settings
from chronos_core.ml.inference import load_forecaster
from chronos_core.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = forecasts.ForecastMessage.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    correlation = record.message_attributes["correlation_id"]
    logger.set_correlation_id(correlation.string_value if correlation else record.message_id)
    logger.append_keys(job_id=message.job_id, slot=message.to_body()["slot"], attempt=attempt)
    try:
        outcome = forecasts.execute_forecast(
            wiring.model_repository(),
            wiring.training_job_repository(),
            wiring.forecast_schedule(),
            wiring.artifact_store(),
            wiring.series_source,
            wiring.orion_client,
            load_forecaster,
            wiring.forecast_settings(),
            message,
            attempt=attempt,
        )
    except Exception:
        _back_off(record, attempt)
        raise
    return outcome.model_dump(mode="json")


def _back_off(record: SQSRecord, attempt: int) -> None:
    """Delay the next receive of a failed record (exponential, capped at 12 h); best effort."""
    settings = get_settings()
    if not settings.forecast_queue_url or settings.forecast_retry_delay_seconds <= 0:
        return
    delay = min(43_200, settings.forecast_retry_delay_seconds * 2 ** max(0, attempt - 1))
    try:
        wiring.aws_client("sqs").change_message_visibility(
            QueueUrl=settings.forecast_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=delay
        )
    except Exception:  # the message then reappears after the queue's visibility timeout
        logger.warning("Could not delay the retry of a failed forecast", exc_info=True)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
