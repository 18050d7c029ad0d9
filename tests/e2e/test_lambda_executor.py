"""End-to-end checks of the ``chronos-subprocess`` Lambda executor inside LocalStack.

Functions are deployed with boto3 directly (zip + layer + environment), not through SAM, so these
tests exercise the executor alone. They use the LocalStack already healthy on
``CHRONOS_LOCALSTACK_PORT`` (default 4610) or, if none answers there, start a private one through
``local/localstack_ctl.py`` (on that port when the variable is set, else on a free port) and stop it
at the end. The fixtures live in this module so they cannot clash with ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "executor_fixtures"
sys.path.insert(0, str(ROOT / "local"))

import localstack_ctl  # noqa: E402
from procs import alive  # noqa: E402
from stack import local_client  # noqa: E402

from local.fiware_sandbox.testing import free_port  # noqa: E402

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/chronos-executor-test"
TIMEOUT_S = 2
RUN_ID = uuid.uuid4().hex[:8]


# -------------------------------------------------------------------------------------------- fixtures
@dataclass
class LocalStack:
    """Where the LocalStack under test runs; ``state_dir`` is set only when this module owns it."""

    port: int
    state_dir: Path | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return localstack_ctl.running_pid(self.state_dir) if self.state_dir else None


def _start_private(tmp_path_factory: pytest.TempPathFactory, port: int) -> LocalStack:
    state_dir = tmp_path_factory.mktemp("localstack")
    localstack_ctl.ensure_installed(state_dir)
    localstack_ctl.start(port, state_dir, localstack_ctl.default_project_python())
    return LocalStack(port, state_dir)


@pytest.fixture(scope="module")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    configured = os.environ.get("CHRONOS_LOCALSTACK_PORT")
    port = int(configured or localstack_ctl.DEFAULT_PORT)
    if localstack_ctl.is_ready(port):
        yield LocalStack(port, None)
        return
    stack = _start_private(tmp_path_factory, port if configured else free_port())
    try:
        yield stack
    finally:
        if stack.state_dir is not None:
            localstack_ctl.stop(stack.state_dir)


def _client_factory(stack: LocalStack) -> Callable[[str], Any]:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)

    def client(service: str) -> Any:
        return local_client(service, stack.url, config=config)

    return client


@pytest.fixture(scope="module")
def aws(localstack: LocalStack) -> Callable[[str], Any]:
    """``aws("lambda")`` -> a boto3 client for the LocalStack under test."""
    return _client_factory(localstack)


def _zip_dir(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


def _create_function(
    lam: Any, name: str, handler: str = "app.handler", layers: list[str] | None = None
) -> str:
    arn: str = lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": _zip_dir(FIXTURES / "echo_app")},
        Layers=layers or [],
        Timeout=TIMEOUT_S,
        MemorySize=256,
        Environment={"Variables": {"FOO": "bar", "POWERTOOLS_LOG_LEVEL": "INFO"}},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
    )
    return arn


@pytest.fixture(scope="module")
def layer_arn(aws: Callable[[str], Any]) -> Iterator[str]:
    lam = aws("lambda")
    name = f"chronos-exec-layer-{RUN_ID}"
    version = lam.publish_layer_version(
        LayerName=name, Content={"ZipFile": _zip_dir(FIXTURES / "layer")}, CompatibleRuntimes=["python3.13"]
    )
    yield version["LayerVersionArn"]
    with contextlib.suppress(Exception):  # the last test may have stopped LocalStack
        lam.delete_layer_version(LayerName=name, VersionNumber=version["Version"])


@pytest.fixture(scope="module")
def echo_fn(aws: Callable[[str], Any], layer_arn: str) -> Iterator[str]:
    """Name of the deployed echo function (code + layer + environment)."""
    lam = aws("lambda")
    name = f"chronos-exec-echo-{RUN_ID}"
    _create_function(lam, name, layers=[layer_arn])
    yield name
    with contextlib.suppress(Exception):  # the last test may have stopped LocalStack
        lam.delete_function(FunctionName=name)


def invoke(lam: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], Any, str]:
    """Synchronous invoke: ``(response, decoded payload, tail of the logs)``."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    payload = json.loads(response["Payload"].read())
    logs = base64.b64decode(response.get("LogResult", "")).decode()
    return response, payload, logs


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


# ------------------------------------------------------------------------------------------------ tests
def test_direct_invoke_returns_payload_env_and_context(aws: Callable[[str], Any], echo_fn: str) -> None:
    response, payload, logs = invoke(aws("lambda"), echo_fn, {"action": "echo", "value": 42})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert payload["echo"] == {"action": "echo", "value": 42}
    assert payload["env_foo"] == "bar"
    assert payload["python"] == [3, 13]
    context = payload["context"]
    assert context["function_name"] == echo_fn
    assert context["invoked_function_arn"].endswith(f":function:{echo_fn}")
    assert context["memory_limit_in_mb"] == "256"  # a string, as in the AWS runtime
    assert context["log_group_name"] == f"/aws/lambda/{echo_fn}"
    assert context["log_stream_name"]
    assert context["function_version"] == "$LATEST"
    assert 0 < context["remaining_ms"] <= TIMEOUT_S * 1000
    request_id = context["aws_request_id"]
    assert f"START RequestId: {request_id}" in logs
    assert f"REPORT RequestId: {request_id}" in logs


def test_layer_modules_import_from_both_layer_paths(aws: Callable[[str], Any], echo_fn: str) -> None:
    _, payload, _ = invoke(aws("lambda"), echo_fn, {})
    assert payload["layer_python"] == "from-layer-python"
    assert payload["layer_site_packages"] == "from-layer-site-packages"


def test_handler_exception_is_a_lambda_shaped_unhandled_error(
    aws: Callable[[str], Any], echo_fn: str
) -> None:
    response, payload, logs = invoke(aws("lambda"), echo_fn, {"action": "raise", "marker": "x1"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom x1"
    assert any("app.py" in frame and "raise ValueError" in frame for frame in payload["stackTrace"])
    assert not any("chronos_lambda_worker" in frame for frame in payload["stackTrace"])
    assert "[ERROR] ValueError: boom x1" in logs


def test_timeout_kills_the_worker_and_the_next_invoke_respawns_it(
    aws: Callable[[str], Any], echo_fn: str
) -> None:
    lam = aws("lambda")
    _, before, _ = invoke(lam, echo_fn, {})
    started = time.monotonic()
    response, payload, logs = invoke(lam, echo_fn, {"action": "sleep", "seconds": 30})
    elapsed = time.monotonic() - started
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert f"Task timed out after {TIMEOUT_S:.2f} seconds" in payload["errorMessage"]
    assert "Status: timeout" in logs
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 5
    assert not alive(before["pid"]), "the timed-out worker must be killed"
    response, after, _ = invoke(lam, echo_fn, {"action": "echo"})
    assert "FunctionError" not in response
    assert after["pid"] != before["pid"]


def test_worker_exit_is_reported_and_recovered(aws: Callable[[str], Any], echo_fn: str) -> None:
    lam = aws("lambda")
    response, payload, _ = invoke(lam, echo_fn, {"action": "exit"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    response, _, _ = invoke(lam, echo_fn, {})
    assert "FunctionError" not in response


def test_import_error_comes_back_as_runtime_import_module_error(aws: Callable[[str], Any]) -> None:
    lam = aws("lambda")
    name = f"chronos-exec-broken-{RUN_ID}"
    _create_function(lam, name, handler="no_such_module.handler")
    try:
        response, payload, _ = invoke(lam, name, {})
        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Runtime.ImportModuleError"
        assert "no_such_module" in payload["errorMessage"]
    finally:
        lam.delete_function(FunctionName=name)


def test_handler_output_reaches_cloudwatch_logs(aws: Callable[[str], Any], echo_fn: str) -> None:
    marker = f"cw-{uuid.uuid4().hex[:8]}"
    _, payload, _ = invoke(aws("lambda"), echo_fn, {"action": "echo", "marker": marker})
    request_id = payload["context"]["aws_request_id"]
    logs = aws("logs")

    def messages() -> list[str] | None:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{echo_fn}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        found = [e["message"] for e in events]
        return found if any(f"REPORT RequestId: {request_id}" in m for m in found) else None

    found = "".join(wait_for(messages, 15, "the invocation's logs in CloudWatch"))
    assert f"print-output {marker}" in found
    assert f"stderr-output {marker}" in found
    assert f"{request_id}\tstd-logging-output {marker}" in found
    powertools = [json.loads(line) for line in found.splitlines() if f'"marker":"{marker}"' in line]
    assert powertools and powertools[0]["function_request_id"] == request_id
    assert powertools[0]["function_name"] == echo_fn


def test_concurrent_invokes_get_separate_workers(aws: Callable[[str], Any], echo_fn: str) -> None:
    lam = aws("lambda")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: invoke(lam, echo_fn, {"action": "sleep", "seconds": 1}), range(4)))
    assert all("FunctionError" not in response for response, _, _ in results)
    assert len({payload["pid"] for _, payload, _ in results}) >= 2


def test_sqs_event_source_mapping_invokes_the_function(aws: Callable[[str], Any], echo_fn: str) -> None:
    sqs, lam = aws("sqs"), aws("lambda")
    source = sqs.create_queue(QueueName=f"chronos-exec-in-{RUN_ID}")["QueueUrl"]
    reply_name = f"chronos-exec-reply-{RUN_ID}"
    reply = sqs.create_queue(QueueName=reply_name)["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    mapping = lam.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=echo_fn, BatchSize=1)
    try:
        marker = f"sqs-{uuid.uuid4().hex[:8]}"
        sqs.send_message(
            QueueUrl=source, MessageBody=json.dumps({"marker": marker, "reply_queue": reply_name})
        )

        def replied() -> dict[str, Any] | None:
            messages = sqs.receive_message(QueueUrl=reply, WaitTimeSeconds=2).get("Messages", [])
            return json.loads(messages[0]["Body"]) if messages else None

        body = wait_for(replied, 45, "the handler's reply to the SQS record", interval=0)
        assert body["marker"] == marker
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        sqs.delete_queue(QueueUrl=source)
        sqs.delete_queue(QueueUrl=reply)


def test_step_functions_lambda_invoke_task(aws: Callable[[str], Any], echo_fn: str) -> None:
    sfn = aws("stepfunctions")
    definition = {
        "StartAt": "Echo",
        "States": {
            "Echo": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": echo_fn, "Payload": {"action": "echo", "value.$": "$.value"}},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"chronos-exec-sm-{RUN_ID}",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::000000000000:role/chronos-sfn",
    )["stateMachineArn"]
    try:
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"value": "via-sfn"}))

        def finished() -> dict[str, Any] | None:
            desc = sfn.describe_execution(executionArn=execution["executionArn"])
            return desc if desc["status"] != "RUNNING" else None

        desc = wait_for(finished, 30, "the state machine execution")
        assert desc["status"] == "SUCCEEDED", desc
        assert json.loads(desc["output"])["echo"] == {"action": "echo", "value": "via-sfn"}
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)


def test_deleting_a_function_stops_its_workers(aws: Callable[[str], Any], layer_arn: str) -> None:
    lam = aws("lambda")
    name = f"chronos-exec-gone-{RUN_ID}"
    _create_function(lam, name, layers=[layer_arn])
    deleted = False
    try:
        response, _, _ = invoke(lam, name, {})
        assert "FunctionError" not in response
        assert localstack_ctl.worker_pids(function=name)
        lam.delete_function(FunctionName=name)
        deleted = True
        wait_for(lambda: not localstack_ctl.worker_pids(function=name), 10, f"the workers of {name} to exit")
    finally:
        if not deleted:
            lam.delete_function(FunctionName=name)


def test_stop_leaves_no_localstack_or_worker_process(
    localstack: LocalStack, echo_fn: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Last test: stops the module's own LocalStack (or a private one if the shared one is reused)."""
    stack = localstack if localstack.state_dir is not None else _start_private(tmp_path_factory, free_port())
    assert stack.state_dir is not None
    pid = stack.pid
    assert pid is not None
    lam = _client_factory(stack)("lambda")
    name = echo_fn if stack is localstack else f"chronos-exec-stop-{RUN_ID}"
    if stack is not localstack:
        layer = lam.publish_layer_version(LayerName=name, Content={"ZipFile": _zip_dir(FIXTURES / "layer")})
        _create_function(lam, name, layers=[layer["LayerVersionArn"]])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: invoke(lam, name, {"action": "sleep", "seconds": 0.5}), range(2)))
    assert localstack_ctl.worker_pids(owner_pid=pid), "expected live workers before stop()"

    started = time.monotonic()
    assert localstack_ctl.stop(stack.state_dir) is True
    elapsed = time.monotonic() - started
    assert not alive(pid)
    assert localstack_ctl.worker_pids(owner_pid=pid) == []
    assert localstack_ctl.worker_pids(function=name) == []
    assert localstack_ctl.running_pid(stack.state_dir) is None
    assert localstack_ctl.stop(stack.state_dir) is False  # idempotent
    assert elapsed < 15
