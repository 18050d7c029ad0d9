"""SNS deliveries: the notification's JSON body published to the channel's topic (its email,
SMS or HTTP subscriptions receive it), with ``severity`` and ``status`` message attributes for
subscription filter policies. Throttling, 5xx and connection errors are retryable; every other
error (no such topic, not authorised, invalid parameter) is permanent."""

from __future__ import annotations

import json
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from chronos_core.domain.notifications import Channel, DeliveryOutcome, Notification, SnsConfig

RETRYABLE_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
        "RequestTimeout",
    }
)


def sns_subject(notification: Notification) -> str:
    """An e-mail subject: ASCII, one line, at most 100 characters."""
    alert = notification.payload.get("alert", {})
    status = "RESOLVED" if notification.kind == "resolved" else "FIRING"
    text = f"[{str(alert.get('severity', '')).upper()}] {status}: {alert.get('rule_name', 'alert')}"
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:100]


class SnsSender:
    def __init__(self, client: Any) -> None:
        self._sns = client

    def send(self, channel: Channel, notification: Notification) -> DeliveryOutcome:
        config = channel.config
        assert isinstance(config, SnsConfig)
        alert = notification.payload.get("alert", {})
        request: dict[str, Any] = {
            "TopicArn": config.topic_arn,
            "Subject": sns_subject(notification),
            "Message": json.dumps(notification.payload, separators=(",", ":"), sort_keys=True),
            "MessageAttributes": {
                "severity": {"DataType": "String", "StringValue": str(alert.get("severity", "medium"))},
                "status": {
                    "DataType": "String",
                    "StringValue": str(notification.payload.get("status", "firing")),
                },
            },
        }
        if config.topic_arn.endswith(".fifo"):
            request["MessageGroupId"] = str(alert.get("fingerprint", notification.alert_id))
            request["MessageDeduplicationId"] = notification.id
        try:
            self._sns.publish(**request)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            retryable = code in RETRYABLE_CODES or status >= 500 or status in (408, 429)
            return DeliveryOutcome(
                ok=False, status_code=status or None, retryable=retryable, reason=f"SNS {code}"
            )
        except BotoCoreError as exc:
            return DeliveryOutcome(ok=False, retryable=True, reason=f"SNS unreachable ({type(exc).__name__})")
        return DeliveryOutcome(ok=True, status_code=200)
