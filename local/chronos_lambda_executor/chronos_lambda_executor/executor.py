"""LocalStack RuntimeExecutor that runs each Lambda execution environment as one worker subprocess.

Loaded inside LocalStack (its own virtualenv) through the ``localstack.lambda.runtime_executor``
plugin ``chronos-subprocess``. The worker (``chronos_lambda_worker.py``, stdlib only) runs under the
project's Python, named by ``CHRONOS_LAMBDA_PYTHON`` (falls back to LocalStack's own interpreter
with a warning).

Contract with LocalStack (see ``RuntimeExecutor``): one instance serves one execution environment;
``start(env_vars)`` spawns the worker and waits for its init; ``invoke(payload)`` is called for one
invocation at a time and always returns an ``InvocationResult`` whose ``logs`` hold
START/END/REPORT lines around the handler's captured stdout/stderr; ``stop()`` kills the worker's
process group. Handler timeouts kill the worker (``Sandbox.Timedout`` error) and the next invoke
spawns a fresh one; a crashed worker yields ``Runtime.ExitError`` and is respawned the same way.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections import deque
from pathlib import Path
from typing import Any

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("chronos_lambda_worker.py")
"""Run by path with ``python -P``: its name is unique and its folder never lands on ``sys.path``."""

PYTHON_ENV_VAR = "CHRONOS_LAMBDA_PYTHON"
INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE")
"""Host variables a worker inherits; everything else comes from LocalStack's ``env_vars``."""

MAX_INVOCATION_LOG_BYTES = 1024 * 1024
MAX_ENV_LOG_CHARS = 64 * 1024
LOG_MARK_GRACE_S = 2.0
"""How long to wait for the end-of-invocation log mark after the result frame arrived."""

_HEADER = struct.Struct(">I")
_LIVE_EXECUTORS: weakref.WeakSet[SubprocessRuntimeExecutor] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class WorkerGone(Exception):
    """The worker closed its pipes (crashed, was killed or exited)."""


class WorkerTimeout(Exception):
    """No answer from the worker before the deadline."""


# --------------------------------------------------------------------------------------------- helpers
def project_python() -> str:
    """Interpreter that runs handlers: ``$CHRONOS_LAMBDA_PYTHON`` or, failing that, our own."""
    configured = os.environ.get(PYTHON_ENV_VAR)
    if configured:
        return configured
    LOG.warning("%s is not set: running Lambda handlers with %s", PYTHON_ENV_VAR, sys.executable)
    return sys.executable


def layer_paths(function_version: FunctionVersion) -> list[str]:
    """PYTHONPATH entries for the function's layers, later layers first (they win, as in /opt)."""
    runtime = str(function_version.config.runtime or "python3.13")
    versions = [runtime] if runtime.startswith("python") else []
    if "python3.13" not in versions:
        versions.append("python3.13")
    paths: list[str] = []
    for layer in reversed(function_version.config.layers or []):
        if layer.code is None:
            continue
        layer.code.prepare_for_execution()
        root = Path(layer.code.get_unzipped_code_location())
        paths.extend(str(root / "python" / "lib" / v / "site-packages") for v in versions)
        paths.append(str(root / "python"))
    return paths


def _read_frame(fd: int, deadline: float | None) -> dict[str, Any]:
    """Read one length-prefixed JSON frame; raise ``WorkerTimeout`` at ``deadline`` (monotonic)."""

    def read_exact(size: int) -> bytes:
        chunks: list[bytes] = []
        while size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    raise WorkerTimeout()
            chunk = os.read(fd, size)
            if not chunk:
                raise WorkerGone()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    (length,) = _HEADER.unpack(read_exact(_HEADER.size))
    result: dict[str, Any] = json.loads(read_exact(length))
    return result


def _write_frame(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    view = memoryview(_HEADER.pack(len(body)) + body)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except (BrokenPipeError, OSError) as exc:
        raise WorkerGone() from exc


class _LogPipe:
    """Collects a worker's combined stdout/stderr in a thread; splits it at marks."""

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._thread = threading.Thread(target=self._run, name=f"lambda-logs-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while chunk := os.read(self._fd, 65536):
                with self._cond:
                    self._buf += chunk
                    if len(self._buf) > 2 * MAX_INVOCATION_LOG_BYTES:  # keep the newest output only
                        del self._buf[: len(self._buf) - MAX_INVOCATION_LOG_BYTES]
                        self._buf[:0] = b"[... output truncated ...]\n"
                    self._cond.notify_all()
        except OSError:
            pass
        finally:
            os.close(self._fd)
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def take_until(self, mark: str | None, timeout: float) -> str:
        """Return (and drop) output up to ``NUL mark NUL``; without it in time, whatever arrived."""
        mark_bytes = f"\0{mark}\0".encode() if mark else None
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if mark_bytes is not None and (index := self._buf.find(mark_bytes)) >= 0:
                    text = bytes(self._buf[:index])
                    del self._buf[: index + len(mark_bytes)]
                    break
                remaining = deadline - time.monotonic()
                if self._eof or remaining <= 0 or mark_bytes is None:
                    text = bytes(self._buf)
                    self._buf.clear()
                    break
                self._cond.wait(remaining)
        return text.decode("utf-8", errors="replace")

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class _Worker:
    """One running worker process and its three pipes.

    fd rule: a thread blocked on ``req_fd``/``resp_fd`` marks the worker ``busy`` (under the
    executor's lock); others never close the fds of a busy worker, they only kill the process (which
    wakes the blocked thread with EOF); the busy thread closes them when it is done.
    """

    def __init__(self, proc: subprocess.Popen[bytes], req_fd: int, resp_fd: int, logs: _LogPipe) -> None:
        self.proc = proc
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.logs = logs
        self.started_at = time.time()
        self.code_stamp: float | None = None
        self.busy = False
        self._fd_lock = threading.Lock()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def max_rss_mb(self) -> int:
        """Peak resident memory of the worker (``VmHWM``), in MB; 0 if unknown."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0

    def kill(self, graceful: bool = True) -> None:
        """Close the request pipe, then SIGKILL the worker's process group; reap it. Idempotent.

        ``graceful`` (only for an idle worker) closes the request pipe and gives the worker 0.2 s to
        exit on EOF first."""
        if graceful:
            self._close("req_fd")
        if graceful and self.proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.2)  # idle workers exit by themselves on EOF
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker leads its own group
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("Lambda worker %s did not exit after SIGKILL", self.proc.pid)
        self.logs.join(timeout=1)

    def close_fds(self) -> None:
        """Close both protocol fds (idempotent). Only when no thread is blocked on them."""
        self._close("req_fd")
        self._close("resp_fd")

    def _close(self, name: str) -> None:
        with self._fd_lock:
            fd = getattr(self, name)
            setattr(self, name, -1)
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def _code_stamp(paths: list[Path]) -> float:
    """Newest mtime below ``paths``, ignoring ``__pycache__`` (used only for hot-reloaded code)."""
    newest = 0.0
    for root in paths:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return newest


# --------------------------------------------------------------------------------------------- executor
class SubprocessRuntimeExecutor(RuntimeExecutor):
    """Runs one execution environment as one long-lived worker process of the project's Python."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._env: dict[str, str] | None = None
        self._worker: _Worker | None = None
        self._spawning: _Worker | None = None
        self._lock = threading.Lock()  # guards _worker/_spawning/_stopped; never held while waiting
        self._invoke_lock = threading.Lock()  # one invocation at a time (LocalStack guarantees it too)
        self._stopped = False
        self._pending_init: dict[str, Any] | None = None
        self._env_logs: deque[str] = deque()
        self._env_log_chars = 0
        with _LIVE_LOCK:
            _LIVE_EXECUTORS.add(self)

    # ---- RuntimeExecutor interface ------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        """Spawn the worker and wait for its init. Init *errors* do not raise: the next invoke returns
        them as a Lambda error (as AWS does); only a failure to run the interpreter raises."""
        runtime = str(self.function_version.config.runtime or "")
        if not runtime.startswith("python"):
            raise LambdaRuntimeException(
                f"chronos-subprocess runs Python functions only, not runtime {runtime or 'image'!r}"
            )
        self._env = self._worker_env(env_vars)
        with self._lock:
            self._stopped = False
        self._pending_init = self._spawn()

    def stop(self) -> None:
        """Kill the worker (and anything it started). Safe to call repeatedly and concurrently."""
        with self._lock:
            self._stopped = True
            workers = [(w, w.busy) for w in (self._worker, self._spawning) if w is not None]
            self._worker = self._spawning = None
        for worker, busy in workers:
            worker.kill(graceful=not busy)
            if not busy:
                worker.close_fds()
                self._remember_logs(worker.logs.take_until(None, 0))

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        """Run one invocation in the worker, spawning it first if needed; never raises for handler
        problems (errors, timeouts, crashes come back as ``is_error`` results)."""
        with self._invoke_lock:
            return self._invoke_locked(payload)

    def _invoke_locked(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        init, self._pending_init = self._pending_init, None
        with self._lock:
            if self._stopped:
                raise LambdaRuntimeException(f"Execution environment {self.id} is stopped")
            worker = self._worker
        if worker is not None and (not worker.alive() or self._code_changed(worker)):
            LOG.debug("Worker of %s is gone or its code changed: respawning", self._fn_name)
            self._drop(worker, graceful=True)
            worker = None
        if worker is None and init is None:
            init = self._spawn()
        with self._lock:
            worker = self._worker
        init_logs = ""
        init_ms: float | None = None
        if init is not None:
            init_logs, init_ms = init["logs"], init.get("init_ms")
            if not init["ok"]:
                error = dict(init["error"] or {})
                return self._result(request_id, error, True, init_logs, "", 0.0, init_ms, None, "error")
        if worker is None:
            raise LambdaRuntimeException(f"Execution environment {self.id} was stopped during init")
        return self._invoke_worker(worker, payload, init_logs, init_ms)

    def get_logs(self) -> str:
        """Recent output of this environment's workers (for LocalStack's diagnostics)."""
        return "".join(self._env_logs)

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Unzip the function's code and layers; nothing is started."""
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
        for layer in function_version.config.layers or []:
            if layer.code is not None:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to clean: LocalStack owns the unzipped code."""

    @classmethod
    def validate_environment(cls) -> bool:
        python = os.environ.get(PYTHON_ENV_VAR)
        if python and not os.access(python, os.X_OK):
            LOG.warning("%s=%s is not an executable: Lambda invokes will fail", PYTHON_ENV_VAR, python)
            return False
        return True

    # ---- internals ----------------------------------------------------------------------------------
    @property
    def _fn_name(self) -> str:
        return self.function_version.id.function_name

    def _code_dir(self) -> Path:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException("Function has no zip code (container images are not supported)")
        code.prepare_for_execution()
        return Path(code.get_unzipped_code_location())

    def _worker_env(self, env_vars: dict[str, Any]) -> dict[str, str]:
        """Environment of the worker: a few host variables, then LocalStack's (function's last), then
        the paths only we know (task root, layers)."""
        env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
        env.update({key: str(value) for key, value in env_vars.items()})
        code_dir = str(self._code_dir())
        python_path = [code_dir, *layer_paths(self.function_version)]
        if env.get("PYTHONPATH"):
            python_path.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        env["LAMBDA_TASK_ROOT"] = code_dir
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{self.function_version.config.runtime}"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        return env

    def _spawn(self) -> dict[str, Any]:
        """Start a worker and wait for its init frame; on success it becomes ``self._worker``.

        Returns ``{"ok", "error", "init_ms", "logs"}``; on an init error the worker is discarded.
        ``stop()`` during the wait kills the worker, which ends the wait.
        """
        assert self._env is not None, "start() was not called"
        code_dir = self._env["LAMBDA_TASK_ROOT"]
        init_mark = f"chronos-init-{uuid.uuid4().hex}"
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        log_r, log_w = os.pipe()
        cmd = [
            project_python(), "-P", "-u", str(WORKER_SCRIPT),
            "--req-fd", str(req_r), "--resp-fd", str(resp_w), "--owner-pid", str(os.getpid()),
            "--init-mark", init_mark, "--function", self._fn_name, "--env-id", self.id,
        ]  # fmt: skip
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_w,
                stderr=log_w,
                pass_fds=(req_r, resp_w),
                env=self._env,
                cwd=code_dir,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (req_r, req_w, resp_r, resp_w, log_r, log_w):
                os.close(fd)
            raise LambdaRuntimeException(f"Cannot start Lambda worker {cmd[0]}: {exc}") from exc
        finally:
            for fd in (req_r, resp_w, log_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        worker = _Worker(proc, req_w, resp_r, _LogPipe(log_r, f"{self._fn_name}-{proc.pid}"))
        with self._lock:
            self._spawning = worker
            worker.busy = True
            stopped = self._stopped
        if stopped:
            worker.kill(graceful=False)
        if self.function_version.config.code and self.function_version.config.code.is_hot_reloading():
            worker.code_stamp = _code_stamp([Path(code_dir)])
        LOG.debug("Started Lambda worker pid %s for %s (%s)", proc.pid, self._fn_name, self.id)
        deadline = time.monotonic() + config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT
        try:
            frame = _read_frame(resp_r, deadline)
            ok, error, init_ms = bool(frame.get("ok")), frame.get("error"), frame.get("init_ms")
        except (WorkerGone, WorkerTimeout, ValueError) as exc:
            ok, init_ms = False, None
            reason = "timed out" if isinstance(exc, WorkerTimeout) else f"exited ({proc.poll()})"
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime init {reason}"}
        logs = worker.logs.take_until(init_mark, LOG_MARK_GRACE_S if ok else 0.5)
        self._remember_logs(logs)
        with self._lock:
            worker.busy = False
            if self._spawning is worker:
                self._spawning = None
            ok = ok and not self._stopped
            if ok:
                self._worker = worker
        if not ok:
            worker.kill(graceful=False)
            worker.close_fds()
            logs += worker.logs.take_until(None, 0)
            LOG.warning("Init of Lambda %s failed: %s", self._fn_name, error)
        return {"ok": ok, "error": error, "init_ms": init_ms, "logs": logs}

    def _code_changed(self, worker: _Worker) -> bool:
        if worker.code_stamp is None or self._env is None:
            return False
        return _code_stamp([Path(self._env["LAMBDA_TASK_ROOT"])]) > worker.code_stamp

    def _invoke_worker(
        self, worker: _Worker, payload: dict[str, str], init_logs: str, init_ms: float | None
    ) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout_s = float(self.function_version.config.timeout)
        mark = f"chronos-end-{uuid.uuid4().hex}"
        started = time.monotonic()
        request = {
            "type": "invoke",
            "request_id": request_id,
            "invoked_function_arn": payload.get("invoked-function-arn", self.function_version.qualified_arn),
            "payload": payload.get("payload", ""),
            "trace_id": payload.get("trace-id", ""),
            "deadline_ms": int(time.time() * 1000 + timeout_s * 1000),
            "mark": mark,
        }
        status = "success"
        with self._lock:
            if self._worker is not worker:
                raise LambdaRuntimeException(f"Execution environment {self.id} was stopped")
            worker.busy = True
        try:
            _write_frame(worker.req_fd, request)
            frame = _read_frame(worker.resp_fd, started + timeout_s)
            duration_ms = (time.monotonic() - started) * 1000
            logs = worker.logs.take_until(mark, LOG_MARK_GRACE_S)
            is_error = not frame.get("ok")
            body: Any = frame.get("payload", "null")
            memory = worker.max_rss_mb()
            if frame.get("exit"):
                status = "error"
                self._drop(worker, graceful=False)
        except WorkerTimeout:
            duration_ms = (time.monotonic() - started) * 1000
            self._drop(worker, graceful=False)
            logs = worker.logs.take_until(None, 0)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            message = f"Task timed out after {timeout_s:.2f} seconds"
            logs += f"{stamp}Z {request_id} {message}\n"
            body = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: {message}",
            }
            is_error, memory, status = True, 0, "timeout"
        except WorkerGone:
            duration_ms = (time.monotonic() - started) * 1000
            self._drop(worker, graceful=False)
            code = worker.proc.poll()
            logs = worker.logs.take_until(None, 0)
            reason = f"signal: {signal.Signals(-code).name}" if code and code < 0 else f"exit status {code}"
            body = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
            }
            is_error, memory, status = True, 0, "error"
        finally:
            with self._lock:
                worker.busy = False
                current = self._worker is worker
            if not current:
                worker.close_fds()
        self._remember_logs(logs)
        return self._result(request_id, body, is_error, init_logs, logs, duration_ms, init_ms, memory, status)

    def _drop(self, worker: _Worker, graceful: bool) -> None:
        """Kill ``worker`` and forget it if it is still the current one (next invoke respawns).

        ``graceful`` means the worker is idle: its fds are closed here too."""
        with self._lock:
            if self._worker is worker:
                self._worker = None
        worker.kill(graceful=graceful)
        if graceful:
            worker.close_fds()
            self._remember_logs(worker.logs.take_until(None, 0))

    def _result(
        self,
        request_id: str,
        body: Any,
        is_error: bool,
        init_logs: str,
        logs: str,
        duration_ms: float,
        init_ms: float | None,
        memory_mb: int | None,
        status: str,
    ) -> InvocationResult:
        """Build the ``InvocationResult`` with AWS-like START/END/REPORT log lines."""
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        version = self.function_version.id.qualifier
        if len(logs) > MAX_INVOCATION_LOG_BYTES:
            logs = "[... output truncated ...]\n" + logs[-MAX_INVOCATION_LOG_BYTES:]
        if logs and not logs.endswith("\n"):
            logs += "\n"
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\t"
            f"Memory Size: {self.function_version.config.memory_size} MB\t"
            f"Max Memory Used: {memory_mb or 0} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        if status != "success":
            report += f"Status: {status}\t"
        text = (
            f"{init_logs}START RequestId: {request_id} Version: {version}\n{logs}"
            f"END RequestId: {request_id}\n{report}\n"
        )
        return InvocationResult(request_id=request_id, payload=payload, is_error=is_error, logs=text)

    def _remember_logs(self, text: str) -> None:
        if not text:
            return
        self._env_logs.append(text)
        self._env_log_chars += len(text)
        while self._env_log_chars > MAX_ENV_LOG_CHARS and len(self._env_logs) > 1:
            self._env_log_chars -= len(self._env_logs.popleft())


@atexit.register
def _kill_all_workers() -> None:
    """Last resort when LocalStack exits without stopping its environments."""
    with _LIVE_LOCK:
        executors = list(_LIVE_EXECUTORS)
    for executor in executors:
        try:
            executor.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            LOG.debug("Could not stop executor %s at exit", executor.id, exc_info=True)
