"""The monitoring resources of the template: the evaluator on an every-minute schedule, the
notification queue with its dead-letter queue, the deliverer consuming it with partial batch
failures, the forecast worker able to evaluate after each forecast, and least-privilege IAM."""

from __future__ import annotations

from typing import Any

import pytest

from chronos_core.config import Settings
from tests.template.test_template import template  # noqa: F401 - the fixture

Template = dict[str, Any]


def resource(template: Template, name: str) -> dict[str, Any]:  # noqa: F811
    return dict(template["Resources"][name]["Properties"])


def statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in properties.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


def sends_to_alert_queue(properties: dict[str, Any]) -> bool:
    return {
        "SQSSendMessagePolicy": {"QueueName": {"GetAtt": "AlertNotificationQueue.QueueName"}}
    } in properties["Policies"]


def test_the_evaluator_runs_every_minute_and_may_queue_notifications(template: Template) -> None:  # noqa: F811
    evaluator = resource(template, "EvaluateAlertsFunction")
    assert evaluator["CodeUri"] == "functions/evaluate_alerts/" and evaluator["Handler"] == "app.handler"
    assert evaluator["Events"]["Tick"]["Properties"]["Schedule"] == "rate(1 minute)"
    assert evaluator["Environment"]["Variables"]["CHRONOS_ALERT_QUEUE_URL"] == {
        "Ref": "AlertNotificationQueue"
    }
    assert sends_to_alert_queue(evaluator)
    assert evaluator["Timeout"] >= 60


def test_the_notification_queue_has_a_dead_letter_queue_fed_after_the_configured_receives(
    template: Template,  # noqa: F811
) -> None:
    queue = resource(template, "AlertNotificationQueue")
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"GetAtt": "AlertNotificationDeadLetterQueue.Arn"},
        "maxReceiveCount": {"Ref": "AlertNotificationMaxReceiveCount"},
    }
    deliverer = resource(template, "DeliverNotificationsFunction")
    assert queue["VisibilityTimeout"] >= 6 * deliverer["Timeout"]
    assert (
        queue["SqsManagedSseEnabled"]
        and resource(template, "AlertNotificationDeadLetterQueue")["SqsManagedSseEnabled"]
    )
    params = template["Parameters"]
    assert (
        params["AlertNotificationMaxReceiveCount"]["Default"]
        > params["AlertNotificationMaxAttempts"]["Default"]
    )


def test_the_deliverer_consumes_the_queue_with_partial_batch_failures_and_least_privilege(
    template: Template,  # noqa: F811
) -> None:
    deliverer = resource(template, "DeliverNotificationsFunction")
    source = deliverer["Events"]["Notifications"]
    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"GetAtt": "AlertNotificationQueue.Arn"}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    granted = {s["Sid"]: s for s in statements(deliverer)}
    assert granted["DelayNotificationRetries"]["Action"] == "sqs:ChangeMessageVisibility"
    assert granted["DelayNotificationRetries"]["Resource"] == {"GetAtt": "AlertNotificationQueue.Arn"}
    assert granted["PublishToAlertTopics"]["Action"] == "sns:Publish"
    assert granted["PublishToAlertTopics"]["Resource"] == {
        "Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*"
    }
    assert sends_to_alert_queue(deliverer)  # operational alerts of disabled channels


def test_the_forecast_worker_and_the_api_can_queue_notifications(template: Template) -> None:  # noqa: F811
    for name in ("ExecuteForecastFunction", "ApiFunction"):
        properties = resource(template, name)
        assert properties["Environment"]["Variables"]["CHRONOS_ALERT_QUEUE_URL"] == {
            "Ref": "AlertNotificationQueue"
        }
        assert sends_to_alert_queue(properties), name


@pytest.mark.parametrize(
    ("variable", "parameter"),
    [
        ("CHRONOS_ALERT_NOTIFICATION_MAX_ATTEMPTS", "AlertNotificationMaxAttempts"),
        ("CHRONOS_ALERT_RETRY_BASE_SECONDS", "AlertRetryBaseSeconds"),
        ("CHRONOS_ALERT_RETRY_MAX_SECONDS", "AlertRetryMaxSeconds"),
        ("CHRONOS_ALERT_CHANNEL_MAX_FAILURES", "AlertChannelMaxFailures"),
        ("CHRONOS_ALERT_WEBHOOK_ALLOW_PRIVATE", "AlertWebhookAllowPrivate"),
    ],
)
def test_every_monitoring_setting_comes_from_a_parameter_the_settings_read(
    template: Template,  # noqa: F811
    variable: str,
    parameter: str,
) -> None:
    assert template["Globals"]["Function"]["Environment"]["Variables"][variable] == {"Ref": parameter}
    assert variable.removeprefix("CHRONOS_").lower() in Settings.model_fields
    assert template["Parameters"][parameter]["Default"] is not None


def test_private_webhook_targets_are_refused_by_default(template: Template) -> None:  # noqa: F811
    assert template["Parameters"]["AlertWebhookAllowPrivate"]["Default"] == "false"


def test_the_stack_outputs_what_the_end_to_end_tests_use(template: Template) -> None:  # noqa: F811
    outputs = template["Outputs"]
    for name in (
        "AlertNotificationQueueUrl",
        "AlertNotificationDeadLetterQueueUrl",
        "EvaluateAlertsFunctionName",
        "DeliverNotificationsFunctionName",
    ):
        assert name in outputs
