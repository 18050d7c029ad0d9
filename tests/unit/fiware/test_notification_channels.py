"""The channel adapters against hand-written answers: signed webhooks (httpx.MockTransport),
SNS (botocore Stubber), Smart Data Models Alert entities upserted in Orion, and the SQS queue of
notifications."""

from __future__ import annotations

import json
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import Stubber

from chronos_core.adapters.fiware import OrionClient, RetryPolicy
from chronos_core.adapters.fiware.alerts import (
    OrionAlertPublisher,
    alert_entity_id,
    orion_safe,
    sdm_alert_entity,
)
from chronos_core.adapters.notify.notifier import ChannelNotifier
from chronos_core.adapters.notify.sns import SnsSender, sns_subject
from chronos_core.adapters.notify.webhook import WebhookSender
from chronos_core.adapters.sqs import SqsNotificationQueue
from chronos_core.domain.errors import DependencyUnavailableError
from chronos_core.domain.fiware import validate_entity
from chronos_core.domain.monitoring import Alert, AlertState, AlertStatus
from chronos_core.domain.notifications import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Channel,
    ChannelDraft,
    ChannelType,
    Notification,
    build_channel,
    notification_payload,
    verify_webhook,
)
from tests.support.builders import T0

ALERT = Alert(
    fingerprint="0123456789abcdef", rule_id="rule-1", rule_name="Tank (north) > 90%",
    rule_type="predicted_crossing", severity="critical", fiware_service="water",
    fiware_servicepath="/tanks", model_id="model-1", job_id="job-1",
    entity_type="Tank", entity_id="urn:ngsi-ld:Tank:1", attribute="level",
    source_entity_id="urn:ngsi-ld:Chronos:Prediction:abc", message="P(above 90) = 0.83; \"soon\" <3h>",
    value=0.83, threshold=0.5, started_at=T0,
    values={"forecast": {"points": [1, 2]}, "first_step": 3, "crossing_at": "2026-01-01T03:00:00.000Z"},
)  # fmt: skip


def channel(kind: ChannelType, config: dict[str, Any] | None = None) -> Channel:
    draft = ChannelDraft(name="ch", type=kind, fiware_service="water", config=config or {})
    return build_channel(draft, None, allow_private=True)


def notification(kind: str = "firing", alert: Alert = ALERT, attempts: int = 0) -> Notification:
    built = Notification(
        alert_id=alert.id, channel_id="c", channel_type=ChannelType.WEBHOOK, fiware_service="water",
        kind=kind, attempts=attempts,  # type: ignore[arg-type]
    )  # fmt: skip
    built.payload = notification_payload(alert, kind, built.id)  # type: ignore[arg-type]
    return built


# ------------------------------------------------------------------------------------ webhook


class Receiver:
    """Answers ``statuses`` in turn (the last repeats), recording each request."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return httpx.Response(status, headers=self.headers)


def sender(receiver: Receiver, **kwargs: Any) -> WebhookSender:
    client = httpx.Client(transport=httpx.MockTransport(receiver), follow_redirects=False)
    return WebhookSender(client=client, clock=lambda: 1_800_000_000.0, **kwargs)


def test_a_webhook_body_is_signed_so_that_the_receiver_can_verify_it() -> None:
    hook = channel(
        ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x", "headers": {"Authorization": "Bearer r"}}
    )
    receiver = Receiver(204)
    outcome = sender(receiver, allow_private=True).send(hook, notification())
    assert outcome.ok and outcome.status_code == 204
    [request] = receiver.requests
    assert request.headers[TIMESTAMP_HEADER] == "1800000000"
    assert verify_webhook(
        hook.secret or "",
        request.headers[TIMESTAMP_HEADER],
        request.headers[SIGNATURE_HEADER],
        request.content,
        now_epoch=1_800_000_010,
    )
    assert not verify_webhook(
        "wrong-secret-0123456789",
        request.headers[TIMESTAMP_HEADER],
        request.headers[SIGNATURE_HEADER],
        request.content,
        1_800_000_010,
    )
    assert (
        request.headers["Authorization"] == "Bearer r"
        and request.headers["content-type"] == "application/json"
    )
    assert request.headers["X-Chronos-Event"] == "firing"
    body = json.loads(request.content)
    assert body["alert"]["id"] == ALERT.id and body["status"] == "firing" and body["attempt"] == 1
    assert body["sent_at"].endswith("Z")


def test_webhook_answers_are_classified_and_retry_after_read() -> None:
    hook = channel(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x"})
    throttled = sender(Receiver(429, headers={"Retry-After": "30"}), allow_private=True).send(
        hook, notification()
    )
    assert not throttled.ok and throttled.retryable and throttled.retry_after == 30
    gone = sender(Receiver(410), allow_private=True).send(hook, notification())
    assert not gone.ok and not gone.retryable and gone.reason == "HTTP 410"
    moved = sender(Receiver(302, headers={"Location": "http://169.254.169.254/"}), allow_private=True).send(
        hook, notification()
    )
    assert not moved.ok and not moved.retryable  # redirects are not followed


def test_webhook_connection_failures_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    hook = channel(ChannelType.WEBHOOK, {"url": "https://hooks.example.com/x"})
    for handler in (refuse, hang):
        client = httpx.Client(transport=httpx.MockTransport(handler))
        outcome = WebhookSender(client=client, allow_private=True).send(hook, notification())
        assert not outcome.ok and outcome.retryable


def test_a_public_name_that_resolves_to_a_private_address_is_refused() -> None:
    hook = channel(ChannelType.WEBHOOK, {"url": "https://rebound.example.com/x"})
    receiver = Receiver(200)
    outcome = sender(receiver, allow_private=False, resolver=lambda host: ["10.0.0.7"]).send(
        hook, notification()
    )
    assert not outcome.ok and not outcome.retryable and "non-public" in (outcome.reason or "")
    assert not receiver.requests
    assert (
        sender(Receiver(200), allow_private=False, resolver=lambda host: ["93.184.216.34"])
        .send(hook, notification())
        .ok
    )


# -------------------------------------------------------------------------------------- SNS


def sns_client() -> Any:
    return boto3.client("sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_sns_publishes_the_payload_with_filterable_attributes() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:chronos-alerts"
    client = sns_client()
    stub = Stubber(client)
    message = notification()
    stub.add_response(
        "publish",
        {"MessageId": "m-1"},
        {
            "TopicArn": topic,
            "Subject": "[CRITICAL] FIRING: Tank (north) > 90%",
            "Message": json.dumps(message.payload, separators=(",", ":"), sort_keys=True),
            "MessageAttributes": {
                "severity": {"DataType": "String", "StringValue": "critical"},
                "status": {"DataType": "String", "StringValue": "firing"},
            },
        },
    )
    with stub:
        outcome = SnsSender(client).send(channel(ChannelType.SNS, {"topic_arn": topic}), message)
    assert outcome.ok
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("Throttling", 400, True),
        ("InternalError", 500, True),
        ("NotFound", 404, False),
        ("AuthorizationError", 403, False),
    ],
)
def test_sns_errors_are_retryable_only_when_transient(code: str, status: int, retryable: bool) -> None:
    client = sns_client()
    stub = Stubber(client)
    stub.add_client_error("publish", service_error_code=code, http_status_code=status)
    with stub:
        outcome = SnsSender(client).send(
            channel(ChannelType.SNS, {"topic_arn": "arn:aws:sns:us-east-1:123456789012:t"}), notification()
        )
    assert not outcome.ok and outcome.retryable is retryable and code in (outcome.reason or "")


def test_an_sns_subject_is_one_ascii_line() -> None:
    odd = ALERT.model_copy(update={"rule_name": "Débit\nélevé " + "x" * 200})
    subject = sns_subject(notification(alert=odd))
    assert len(subject) <= 100 and subject.isascii() and "\n" not in subject


# ------------------------------------------------------------------------------------ Orion


def test_the_alert_is_a_smart_data_models_alert_entity_orion_accepts() -> None:
    entity = sdm_alert_entity(notification(), channel(ChannelType.ORION).config)  # type: ignore[arg-type]
    assert entity["id"] == alert_entity_id(ALERT.id) and entity["type"] == "Alert"
    assert (
        entity["category"]["value"] == "environment" and entity["subCategory"]["value"] == "predictedCrossing"
    )
    assert entity["severity"]["value"] == "critical"
    assert entity["validFrom"] == {"type": "DateTime", "value": "2026-01-01T00:00:00.000Z"}
    assert entity["dateIssued"]["type"] == "DateTime" and "validTo" not in entity
    assert entity["alertSource"] == {"type": "Relationship", "value": "urn:ngsi-ld:Chronos:Prediction:abc"}
    data = entity["data"]["value"]
    assert data["status"] == "firing" and data["ruleId"] == "rule-1" and data["values"]["first_step"] == 3
    assert "forecast" not in data["values"]  # bulky values stay in Chronos
    validate_entity(entity)  # no character Orion forbids, anywhere
    resolved = ALERT.model_copy(
        update={"status": AlertStatus.RESOLVED, "state": AlertState.OK, "resolved_at": T0}
    )
    closed = sdm_alert_entity(notification("resolved", resolved), channel(ChannelType.ORION).config)  # type: ignore[arg-type]
    assert (
        closed["validTo"]["value"] == "2026-01-01T00:00:00.000Z"
        and closed["data"]["value"]["status"] == "resolved"
    )


def test_orion_safe_replaces_every_forbidden_character_keys_included() -> None:
    assert orion_safe({"a=b": ["x<y>", "(q);'\""]}) == {"a:b": ["x‹y›", "[q],’”"]}


def test_the_alert_entity_is_upserted_in_the_alerts_tenant() -> None:
    requests: list[httpx.Request] = []

    def orion(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    client = OrionClient(
        "http://orion", transport=httpx.MockTransport(orion), retry=RetryPolicy(max_attempts=1)
    )
    outcome = OrionAlertPublisher(client).send(channel(ChannelType.ORION), notification())
    assert outcome.ok
    [request] = requests
    assert request.url.params["options"] == "upsert"
    assert request.headers["fiware-service"] == "water" and request.headers["fiware-servicepath"] == "/tanks"
    assert json.loads(request.content)["id"] == alert_entity_id(ALERT.id)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (400, False), (422, False)])
def test_orion_failures_are_classified(status: int, retryable: bool) -> None:
    client = OrionClient(
        "http://orion",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(status, json={"error": "X", "description": "y"})
        ),
        retry=RetryPolicy(max_attempts=1),
    )
    outcome = OrionAlertPublisher(client).send(channel(ChannelType.ORION), notification())
    assert not outcome.ok and outcome.retryable is retryable


def test_a_channel_kind_that_cannot_be_built_fails_permanently() -> None:
    def unavailable() -> Any:
        raise DependencyUnavailableError("Orion is not configured (CHRONOS_ORION_URL)")

    notifier = ChannelNotifier({ChannelType.ORION: unavailable})
    outcome = notifier.deliver(channel(ChannelType.ORION), notification())
    assert not outcome.ok and not outcome.retryable and "CHRONOS_ORION_URL" in (outcome.reason or "")


# -------------------------------------------------------------------------------------- SQS


def test_notifications_are_queued_in_batches_of_ten_with_their_correlation_id() -> None:
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/alerts"
    ids = [f"n-{i}" for i in range(12)]
    for batch in (ids[:10], ids[10:]):
        failed = [{"Id": "1", "SenderFault": False, "Code": "X"}] if batch == ids[10:] else []
        stub.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": failed},
            {
                "QueueUrl": url,
                "Entries": [
                    {
                        "Id": str(i),
                        "MessageBody": json.dumps({"notification_id": n}),
                        "MessageAttributes": {"correlation_id": {"DataType": "String", "StringValue": "c-1"}},
                    }
                    for i, n in enumerate(batch)
                ],
            },
        )
    with stub:
        assert SqsNotificationQueue(client, url, concurrency=1).send(ids, "c-1") == ["n-11"]
