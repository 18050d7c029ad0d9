"""The SQS queues: claimed forecast slots, and alert notifications."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final

from chronos_core.domain.forecasting import ForecastMessage, ForecastShard
from chronos_core.domain.model import iso_z
from chronos_core.observability import logger

SQS_BATCH: Final = 10
MAX_VISIBILITY_SECONDS: Final = 43_200


class SqsForecastQueue:
    """:class:`~chronos_core.application.ports.forecasting.ForecastQueue` on an SQS queue."""

    def __init__(
        self, client: Any, queue_url: str, concurrency: int = 8, retry_delay_seconds: int = 30
    ) -> None:
        self._client = client
        self._url = queue_url
        self._concurrency = concurrency
        self._retry_delay = retry_delay_seconds

    def postpone(self, receipt_handle: str, attempt: int) -> None:
        """Delay the next receive of a failed message: ``retry_delay_seconds × 2^(attempt-1)``,
        capped at SQS's 12 h (best effort; without it the message reappears after the queue's
        visibility timeout). A delay of 0 leaves the queue's own timeout in force."""
        if self._retry_delay <= 0:
            return
        delay = min(MAX_VISIBILITY_SECONDS, self._retry_delay * 2 ** max(0, attempt - 1))
        try:
            self._client.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
            )
        except Exception:
            logger.warning("Could not delay the retry of a failed forecast", exc_info=True)

    def send(self, messages: Sequence[ForecastMessage], correlation_id: str) -> list[ForecastMessage]:
        """Send in ``SendMessageBatch`` calls of 10, up to ``concurrency`` in flight (boto3
        clients are thread-safe), each message carrying ``correlation_id`` as an attribute;
        return the messages that were not accepted."""
        batches = [list(messages[i : i + SQS_BATCH]) for i in range(0, len(messages), SQS_BATCH)]
        send = functools.partial(self._send_batch, correlation_id=correlation_id)
        if len(batches) <= 1 or self._concurrency <= 1:
            results = [send(b) for b in batches]
        else:
            with ThreadPoolExecutor(max_workers=min(self._concurrency, len(batches))) as pool:
                results = list(pool.map(send, batches))
        return [m for failed in results for m in failed]

    def _send_batch(self, batch: list[ForecastMessage], *, correlation_id: str) -> list[ForecastMessage]:
        failed: list[ForecastMessage] = []
        if batch:
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(m.to_body()),
                    "MessageAttributes": {
                        "correlation_id": {
                            "DataType": "String",
                            "StringValue": correlation_id,
                        }
                    },
                }
                for i, m in enumerate(batch)
            ]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except Exception:  # the whole batch failed (throttled, network)
                logger.exception("SendMessageBatch failed", extra={"messages": len(batch)})
                return list(batch)
            failed.extend(batch[int(item["Id"])] for item in response.get("Failed") or [])
        return failed


class SqsTickQueue:
    """:class:`~chronos_core.application.ports.forecasting.TickQueue` on the scheduler's shard
    queue: one message ``{"shard": i, "shards": n, "now": ISO-8601}`` per shard, in
    ``SendMessageBatch`` calls of 10."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send_shards(
        self, shards: Sequence[ForecastShard], now: datetime, correlation_id: str
    ) -> list[ForecastShard]:
        unsent: list[ForecastShard] = []
        for start in range(0, len(shards), SQS_BATCH):
            batch = list(shards[start : start + SQS_BATCH])
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps(
                        {
                            "shard": shard.index,
                            "shards": shard.count,
                            "now": iso_z(now),
                            "correlation_id": correlation_id,
                        }
                    ),
                }
                for i, shard in enumerate(batch)
            ]
            try:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except Exception:
                logger.exception("SendMessageBatch of shard ticks failed", extra={"shards": len(batch)})
                unsent.extend(batch)
                continue
            unsent.extend(batch[int(item["Id"])] for item in response.get("Failed") or [])
        return unsent


class SqsNotificationQueue:
    """:class:`~chronos_core.application.ports.monitoring.NotificationQueue` on the alert
    notification queue: one message ``{"notification_id": ...}`` per notification."""

    def __init__(self, client: Any, queue_url: str, concurrency: int = 8) -> None:
        self._client = client
        self._url = queue_url
        self._concurrency = concurrency

    def send(self, notification_ids: Sequence[str], correlation_id: str) -> list[str]:
        batches = [
            list(notification_ids[i : i + SQS_BATCH]) for i in range(0, len(notification_ids), SQS_BATCH)
        ]
        send = functools.partial(self._send_batch, correlation_id=correlation_id)
        if len(batches) <= 1 or self._concurrency <= 1:
            results = [send(b) for b in batches]
        else:
            with ThreadPoolExecutor(max_workers=min(self._concurrency, len(batches))) as pool:
                results = list(pool.map(send, batches))
        return [i for failed in results for i in failed]

    def _send_batch(self, batch: list[str], *, correlation_id: str) -> list[str]:
        if not batch:
            return []
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps({"notification_id": n}),
                "MessageAttributes": {
                    "correlation_id": {"DataType": "String", "StringValue": correlation_id}
                },
            }
            for i, n in enumerate(batch)
        ]
        try:
            response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
        except Exception:
            logger.exception("SendMessageBatch failed", extra={"messages": len(batch)})
            return list(batch)
        return [batch[int(item["Id"])] for item in response.get("Failed") or []]

    def postpone(self, receipt_handle: str, seconds: float) -> None:
        """Make a received message visible again after ``seconds`` (capped at 12 h; best
        effort: without it the queue's visibility timeout applies)."""
        delay = max(0, min(MAX_VISIBILITY_SECONDS, round(seconds)))
        try:
            self._client.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
            )
        except Exception:
            logger.warning("Could not delay the retry of a notification", exc_info=True)
