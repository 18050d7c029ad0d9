"""Test handler for tests/e2e/test_lambda_executor.py (deployed with boto3, not SAM).

``event["action"]``: ``echo`` (default) returns what the runtime gave the handler; ``raise`` raises
``ValueError``; ``sleep`` sleeps ``event["seconds"]``; ``exit`` calls ``sys.exit(3)``. An SQS event
forwards each record body to the queue named in the body's ``reply_queue``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import boto3
import chronos_fixture_layer
import chronos_fixture_sitepkg
from aws_lambda_powertools import Logger

print("init: module imported")  # init-phase output (goes before START in the logs)
logger = Logger(service="executor-fixture")
std_logger = logging.getLogger("fixture")
std_logger.setLevel(logging.INFO)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> Any:
    """Dispatch on ``event["action"]``; see the module docstring."""
    if "Records" in event:
        return _sqs(event)
    action = event.get("action", "echo")
    marker = event.get("marker", "")
    print(f"print-output {marker}")
    sys.stderr.write(f"stderr-output {marker}\n")
    std_logger.info("std-logging-output %s", marker)
    logger.info("powertools-output", extra={"marker": marker})
    if action == "raise":
        raise ValueError(f"boom {marker}")
    if action == "sleep":
        time.sleep(float(event["seconds"]))
    if action == "exit":
        sys.exit(3)
    return {
        "echo": event,
        "pid": os.getpid(),
        "python": sys.version_info[:2],
        "env_foo": os.environ.get("FOO"),
        "layer_python": chronos_fixture_layer.VALUE,
        "layer_site_packages": chronos_fixture_sitepkg.VALUE,
        "cwd": os.getcwd(),
        "context": {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }


def _sqs(event: dict[str, Any]) -> dict[str, Any]:
    sqs = boto3.client("sqs")  # reaches LocalStack through AWS_ENDPOINT_URL
    for record in event["Records"]:
        body = json.loads(record["body"])
        print(f"sqs-record {body['marker']}")
        url = sqs.get_queue_url(QueueName=body["reply_queue"])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"marker": body["marker"], "pid": os.getpid()}))
    return {"batchItemFailures": []}
