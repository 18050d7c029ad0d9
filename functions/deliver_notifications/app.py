"""Notification deliverer (SQS, partial batch failures): one delivery attempt per
``{notification_id}`` message, through the notification's channel (signed webhook, SNS topic,
or a Smart Data Models ``Alert`` entity in Orion).

A retryable failure is recorded on the notification (``retrying (attempt n)``) and its message
is made visible again after the backoff (exponential with jitter, at least the receiver's
``Retry-After``) by reporting it in ``batchItemFailures``; a permanent failure or the last
attempt is recorded ``failed`` and acknowledged. A message that cannot be processed at all (the
database is down) is retried by SQS and, after the queue's ``maxReceiveCount``, lands in the
dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chronos_core.application.monitoring.commands import DeliverNotification
from chronos_core.application.monitoring.delivery import deliver_notification
from chronos_core.bootstrap import services
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


class RetryLater(Exception):
    """The notification is to be attempted again once its message reappears."""


def record_handler(record: SQSRecord) -> dict[str, Any]:
    notification_id = str(json.loads(record.body)["notification_id"])
    correlation = record.message_attributes["correlation_id"]
    correlation_id = (
        correlation.string_value if correlation and correlation.string_value else record.message_id
    )
    logger.set_correlation_id(correlation_id)
    logger.append_keys(notification_id=notification_id)
    result = deliver_notification(
        services(), DeliverNotification(notification_id=notification_id, correlation_id=correlation_id)
    )
    if result.retry_in_seconds is not None:
        _postpone(record, result.retry_in_seconds)
        raise RetryLater(f"{result.status}: retry in {result.retry_in_seconds:.1f} s")
    return result.model_dump(mode="json")


def _postpone(record: SQSRecord, seconds: float) -> None:
    try:
        queue = services().notification_queue
    except DependencyUnavailableError:  # no queue configured: its visibility timeout applies
        return
    queue.postpone(record.receipt_handle, seconds)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
