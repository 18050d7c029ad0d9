"""Lambda worker: one long-lived process per execution environment, run by the project's Python.

This file is executed as a *script* (``python -P -u <path>/chronos_lambda_worker.py ...``) by
:mod:`chronos_lambda_executor.executor`; it must only use the standard library, because it runs in
the project's virtualenv, not LocalStack's. ``-P`` keeps this file's directory off ``sys.path`` so
nothing here can shadow a handler module.

Contract (all frames are ``4-byte big-endian length + UTF-8 JSON``):

* requests arrive on ``--req-fd``; responses leave on ``--resp-fd``. fd 1 and fd 2 (the handler's
  stdout/stderr) are a separate log pipe read by the executor, so handler output can never corrupt
  the protocol.
* First, unprompted, the worker sends ``{"type": "init", "ok": bool, "error": {...}|null,
  "init_ms": float}`` after importing the module named by ``_HANDLER``.
* Then, per request ``{"type": "invoke", "request_id", "invoked_function_arn", "payload" (JSON
  text), "trace_id", "deadline_ms" (epoch ms), "mark"}``, it calls the handler and answers
  ``{"type": "result", "ok": bool, "payload": "<JSON text>", "exit": bool}``; ``payload`` is the
  handler's return value or a Lambda error object (``errorMessage``, ``errorType``,
  ``stackTrace``, ``requestId``). Before answering it flushes the handler's output and writes
  ``NUL mark NUL`` to fd 1, so the executor knows where this invocation's logs end.
* Init also ends with a mark (``--init-mark``) on fd 1.
* EOF on the request fd ends the worker. A watchdog thread kills the worker's whole process group
  as soon as its parent (LocalStack) is gone, so no worker outlives LocalStack.
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import importlib
import json
import logging
import os
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct(">I")


# --------------------------------------------------------------------------------------------- framing
def _read_exact(fd: int, size: int) -> bytes | None:
    """Read exactly ``size`` bytes from ``fd``; ``None`` on EOF."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    """Read one length-prefixed JSON frame; ``None`` when the peer closed the pipe."""
    header = _read_exact(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(header)[0])
    if body is None:
        return None
    result: dict[str, Any] = json.loads(body)
    return result


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON frame (blocking until fully written)."""
    body = json.dumps(message).encode()
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --------------------------------------------------------------------------------------------- context
class CognitoIdentity:
    """Mirror of the AWS runtime's ``context.identity`` (always empty for non-mobile invokes)."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class LambdaContext:
    """The ``context`` argument, shaped like the AWS Python runtime's (awslambdaric) object.

    As in AWS, ``memory_limit_in_mb`` is the string from ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``.
    """

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.identity = CognitoIdentity()
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation times out (never negative)."""
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg: str) -> None:
        """Write ``msg`` to the function's log, like ``context.log`` in AWS."""
        sys.stdout.write(msg)
        sys.stdout.flush()

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


# --------------------------------------------------------------------------------------------- logging
_CURRENT_REQUEST_ID = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _CURRENT_REQUEST_ID
        return True


def _setup_logging() -> None:
    """Install the root handler the AWS Python runtime installs (same text format, to stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.terminator = ""
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


# --------------------------------------------------------------------------------------------- errors
def _error(error_type: str, message: str, tb: Any = None, request_id: str | None = None) -> dict[str, Any]:
    """Lambda-shaped error object; ``stackTrace`` formatted like the AWS runtime does, without the
    frames of this worker and of importlib (AWS shows only the function's own frames)."""
    frames = [
        frame
        for frame in (traceback.extract_tb(tb) if tb is not None else [])
        if frame.filename != __file__ and not frame.filename.startswith("<frozen importlib")
    ]
    stack = traceback.format_list(frames)
    error: dict[str, Any] = {"errorMessage": message, "errorType": error_type, "stackTrace": stack}
    if request_id:
        error["requestId"] = request_id
    return error


def _log_error(error: dict[str, Any]) -> None:
    """Print an error the way the AWS runtime logs it (``[ERROR] Type: message`` + traceback)."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in error["stackTrace"])
    sys.stderr.write("\n".join(lines) + "\n")


def _load_handler(spec: str) -> Callable[[Any, Any], Any]:
    """Import ``module.function`` (``/`` in the module path allowed, as in AWS); raise ``_InitError``."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as exc:
        raise _InitError(_error("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {exc}")) from None
    modname = modname.replace("/", ".")
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        raise _InitError(
            _error("Runtime.ImportModuleError", f"Unable to import module '{modname}': {exc}")
        ) from None
    except SyntaxError as exc:
        raise _InitError(
            _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {exc}")
        ) from None
    except Exception as exc:  # the module's own top-level code failed
        raise _InitError(_error(type(exc).__name__, str(exc), exc.__traceback__)) from None
    handler = getattr(module, fname, None)
    if handler is None:
        raise _InitError(
            _error("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
        )
    return handler  # type: ignore[no-any-return]


class _InitError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["errorMessage"])
        self.error = error


# --------------------------------------------------------------------------------------------- runtime
def _flush_and_mark(mark: str) -> None:
    """Flush Python's stdio and write ``NUL mark NUL`` straight to fd 1 (after all prior output)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed/replaced stream must not break the protocol
            stream.flush()
    os.write(1, f"\0{mark}\0".encode())


def _watch_parent(owner_pid: int) -> None:
    """Kill this worker's process group once ``owner_pid`` is no longer our parent."""
    while True:
        if os.getppid() != owner_pid:
            try:
                os.killpg(os.getpgrp(), signal.SIGKILL)
            finally:
                os._exit(1)
        time.sleep(0.5)


def _json_default(value: Any) -> Any:
    """Serialise what the AWS runtime also accepts beyond plain JSON (``Decimal``)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _invoke(handler: Callable[[Any, Any], Any], request: dict[str, Any]) -> tuple[bool, str, bool]:
    """Run one invocation; return ``(ok, payload_json, must_exit)``."""
    global _CURRENT_REQUEST_ID
    request_id = request["request_id"]
    _CURRENT_REQUEST_ID = request_id
    if request.get("trace_id"):
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    context = LambdaContext(request_id, request["invoked_function_arn"], int(request["deadline_ms"]))
    try:
        event = json.loads(request["payload"]) if request.get("payload") else {}
    except ValueError as exc:
        error = _error("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", request_id=request_id)
        _log_error(error)
        return False, json.dumps(error), False
    try:
        result = handler(event, context)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        error = _error(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}",
        )
        return False, json.dumps(error), True
    except Exception as exc:
        error = _error(type(exc).__name__, str(exc), exc.__traceback__, request_id)
        _log_error(error)
        return False, json.dumps(error), False
    try:
        return True, json.dumps(result, default=_json_default), False
    except (TypeError, ValueError) as exc:
        error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id=request_id)
        _log_error(error)
        return False, json.dumps(error), False


def main(argv: list[str] | None = None) -> int:
    """Worker entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="chronos_lambda_worker")
    parser.add_argument("--req-fd", type=int, required=True)
    parser.add_argument("--resp-fd", type=int, required=True)
    parser.add_argument("--owner-pid", type=int, required=True)
    parser.add_argument("--init-mark", required=True)
    parser.add_argument("--function", default="")  # informational: shows up in ps/pgrep
    parser.add_argument("--env-id", default="")  # informational
    args = parser.parse_args(argv)

    watchdog = threading.Thread(target=_watch_parent, args=(args.owner_pid,), name="watchdog", daemon=True)
    watchdog.start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    _setup_logging()

    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and os.path.isdir(task_root):
        os.chdir(task_root)

    started = time.perf_counter()
    handler: Callable[[Any, Any], Any] | None = None
    init_error: dict[str, Any] | None = None
    try:
        handler = _load_handler(os.environ.get("_HANDLER", ""))
    except _InitError as exc:
        init_error = exc.error
        _log_error(init_error)
    init_ms = (time.perf_counter() - started) * 1000
    _flush_and_mark(args.init_mark)
    init = {"type": "init", "ok": handler is not None, "error": init_error, "init_ms": init_ms}
    write_frame(args.resp_fd, init)
    if handler is None:
        return 1

    while True:
        request = read_frame(args.req_fd)
        if request is None or request.get("type") != "invoke":
            return 0
        ok, payload, must_exit = _invoke(handler, request)
        _flush_and_mark(request["mark"])
        write_frame(args.resp_fd, {"type": "result", "ok": ok, "payload": payload, "exit": must_exit})
        if must_exit:
            return 1


if __name__ == "__main__":
    sys.exit(main())
