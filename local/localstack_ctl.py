"""Start, stop and install LocalStack in host mode (no Docker) with the Chronos Lambda executor.

Stdlib only, so any Python >= 3.11 can run it (the project venv's python does). Usage:

    python local/localstack_ctl.py up|down|status|install [--port N] [--state-dir DIR]

Layout (all under the git-ignored ``<repo>/.local/``):

* ``localstack-venv/``  LocalStack 2026.3.0 (+ pins) and the ``chronos-subprocess`` executor plugin
  (``local/chronos_lambda_executor``), both installed by :func:`ensure_installed`;
  ``CHRONOS_LOCALSTACK_VENV`` overrides the location.
* ``localstack/``       the default state dir: ``localstack.pid``, ``localstack.port``,
  ``localstack.log``, ``fs/`` (``FILESYSTEM_ROOT``) and ``tmp/`` (``TMPDIR``; unzipped Lambda code).
  S3 objects still go to LocalStack's fixed ``/tmp/localstack-s3-storage``.

Contracts: :func:`start` is idempotent (a live, healthy instance from the same state dir is reused)
and returns once ``/_localstack/health`` answers and the runtime reports READY. :func:`stop` leaves no
LocalStack process and no Lambda worker of that instance behind, and is idempotent.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import alive  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 4610
DEFAULT_STATE_DIR = ROOT / ".local" / "localstack"
PLUGIN_DIR = ROOT / "local" / "chronos_lambda_executor"
PLUGIN_NAME = "chronos-subprocess"
WORKER_MARKER = "chronos_lambda_worker.py"
"""Part of every Lambda worker's command line (see chronos_lambda_executor.executor)."""

PINS = (
    "localstack-core[runtime]==2026.3.0",
    "cbor2<6",
    "pyopenssl<26",
    "cryptography<47",
    "service_identity",
)
SERVICES = "s3,sqs,sns,stepfunctions,lambda,apigateway,cloudformation,events,logs,iam,sts,ssm,secretsmanager"
START_TIMEOUT_S = 90.0
STOP_GRACE_S = 5.0

# Tunables with defaults; the caller's environment wins for these.
DEFAULT_SETTINGS = {
    "LAMBDA_KEEPALIVE_MS": "300000",  # 5 min warm workers (AWS-like); stop() kills them anyway
    "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": "2",  # SQS -> Lambda within ~2 s
    # After a batch, poll again at once, as AWS's long-polling pollers do (LocalStack waits 1 s).
    "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": "0.02",
    "LS_LOG": "info",
    "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT": "60",  # init budget: heavy imports on a 2-core machine
}
# Variables of the caller that must not leak into LocalStack.
SCRUBBED_ENV = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "AWS_ENDPOINT_URL", "AWS_PROFILE")


def log(message: str) -> None:
    """Progress messages go to stderr."""
    print(f"[localstack] {message}", file=sys.stderr, flush=True)


def localstack_venv() -> Path:
    """The LocalStack virtualenv: ``$CHRONOS_LOCALSTACK_VENV`` or ``<repo>/.local/localstack-venv``."""
    configured = os.environ.get("CHRONOS_LOCALSTACK_VENV")
    return Path(configured) if configured else ROOT / ".local" / "localstack-venv"


# ------------------------------------------------------------------------------------------ install
def find_python313() -> Path:
    """Absolute path of a working Python 3.13: ``python3.13`` on PATH, else a pyenv 3.13 version.

    Raises ``RuntimeError`` when neither works.
    """
    probe = ["-c", "import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)"]
    exe = shutil.which("python3.13")
    if exe:
        done = subprocess.run([exe, *probe], capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    if shutil.which("pyenv"):
        versions = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
        ).stdout.split()
        matching = [v for v in versions if re.fullmatch(r"3\.13(\.\d+)?", v)]
        for version in reversed(matching):
            env = {**os.environ, "PYENV_VERSION": version}
            done = subprocess.run(
                ["pyenv", "which", "python3.13"], capture_output=True, text=True, env=env, check=False
            )
            if done.returncode == 0 and done.stdout.strip():
                return Path(done.stdout.strip())
    raise RuntimeError("Python 3.13 not found: put python3.13 on PATH or install it with pyenv")


def plugin_digest() -> str:
    """Hash of the executor plugin's sources (a change triggers a reinstall)."""
    digest = hashlib.sha256()
    for path in sorted(PLUGIN_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(".egg-info"):
            digest.update(str(path.relative_to(PLUGIN_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_installed(state_dir: Path = DEFAULT_STATE_DIR, venv: Path | None = None) -> Path:
    """Create the LocalStack venv and install the pins and the executor plugin where missing or stale.

    A stamp file in the venv records what was installed; a rerun with nothing changed only reads it
    and hashes the plugin's few source files (milliseconds). A file lock serialises installers. The
    plugin is installed (not editable) from a copy under ``state_dir`` so no build files
    land in the source tree. Returns the venv's python.
    """
    venv = venv or localstack_venv()
    python = venv / "bin" / "python"
    if python.exists() and _stamp_matches(venv):
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (tests and `up` may race)
        _install(Path(state_dir), venv)
    return python


def _stamp_matches(venv: Path) -> bool:
    try:
        stamp = json.loads((venv / ".chronos-installed.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(stamp.get("pins") == list(PINS) and stamp.get("plugin") == plugin_digest())


def _install(state_dir: Path, venv: Path) -> None:
    python = venv / "bin" / "python"
    stamp_file = venv / ".chronos-installed.json"
    try:
        stamp: dict[str, Any] = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        stamp = {}
    wanted_plugin = plugin_digest()
    if python.exists() and stamp.get("pins") == list(PINS) and stamp.get("plugin") == wanted_plugin:
        return  # another process installed it while we waited for the lock

    if not python.exists():
        base = find_python313()
        log(f"creating {venv} with {base}")
        subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if stamp.get("pins") != list(PINS):
        log("installing LocalStack (about 2 minutes the first time)")
        started = time.monotonic()
        subprocess.run([*pip, *PINS], check=True)
        log(f"LocalStack installed in {time.monotonic() - started:.0f} s")
        stamp["pins"] = list(PINS)
        stamp_file.write_text(json.dumps(stamp))
    build_root = state_dir / "build"
    build_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=build_root) as tmp:
        source = Path(tmp) / "chronos_lambda_executor"
        shutil.copytree(
            PLUGIN_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
        )
        has_setuptools = (
            subprocess.run(
                [str(python), "-c", "import setuptools"], capture_output=True, check=False
            ).returncode
            == 0
        )
        isolation = ["--no-build-isolation"] if has_setuptools else []
        subprocess.run([*pip, "--no-deps", "--force-reinstall", *isolation, str(source)], check=True)
    stamp["plugin"] = wanted_plugin
    stamp_file.write_text(json.dumps(stamp))
    log(f"executor plugin {PLUGIN_NAME} installed into {venv}")


# ------------------------------------------------------------------------------------------ processes
def _pid_file(state_dir: Path) -> Path:
    return Path(state_dir) / "localstack.pid"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running_pid(state_dir: Path = DEFAULT_STATE_DIR) -> int | None:
    """PID of the LocalStack started from ``state_dir`` if it still runs, else ``None``."""
    try:
        pid = int(_pid_file(state_dir).read_text().strip())
    except (OSError, ValueError):
        return None
    if alive(pid) and "localstack.runtime.main" in _cmdline(pid):
        return pid
    return None


def running_port(state_dir: Path = DEFAULT_STATE_DIR) -> int | None:
    """Port the LocalStack of ``state_dir`` was started on (from ``localstack.port``), if known."""
    try:
        return int((Path(state_dir) / "localstack.port").read_text().strip())
    except (OSError, ValueError):
        return None


def health(port: int, timeout: float = 2.0) -> dict[str, Any] | None:
    """``/_localstack/health`` as a dict, or ``None`` if nothing healthy answers on ``port``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localstack/health", timeout=timeout) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except (OSError, ValueError, urllib.error.URLError):
        return None


def is_ready(port: int) -> bool:
    """True when LocalStack on ``port`` is healthy and its runtime reached the READY stage."""
    if health(port) is None:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localstack/init", timeout=2) as resp:
            completed = json.loads(resp.read()).get("completed", {})
            return bool(completed.get("READY", True))
    except (OSError, ValueError, urllib.error.URLError):
        return True  # health answered; older builds have no init endpoint


def worker_pids(owner_pid: int | None = None, function: str | None = None) -> list[int]:
    """PIDs of live Chronos Lambda workers, from a /proc scan; optionally only those of LocalStack
    ``owner_pid`` and/or of Lambda function ``function``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        cmd = f"{_cmdline(int(entry.name))} "
        if WORKER_MARKER not in cmd:
            continue
        if owner_pid is not None and f"--owner-pid {owner_pid} " not in cmd:
            continue
        if function is not None and f"--function {function} " not in cmd:
            continue
        if alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (via /proc/*/stat parent links)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    result, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            result.append(child)
            todo.append(child)
    return result


def start(port: int, state_dir: Path, project_python: Path) -> int:
    """Start LocalStack on ``127.0.0.1:port`` (or reuse the live one of ``state_dir``); return its PID.

    Handlers run with ``project_python``. A missing or stale LocalStack venv or executor plugin is
    (re)installed first (:func:`ensure_installed`). Raises ``RuntimeError`` if the port is taken by
    another process or LocalStack does not become ready within ``START_TIMEOUT_S``.
    """
    state_dir = Path(state_dir).resolve()
    pid = running_pid(state_dir)
    if pid is not None:
        if running_port(state_dir) == port and _wait_ready(port, pid, 30):
            return pid
        log(f"LocalStack pid {pid} is not serving port {port}: restarting it")
        stop(state_dir)
    if health(port) is not None:
        raise RuntimeError(f"port {port} already serves another LocalStack; set CHRONOS_LOCALSTACK_PORT")
    venv_python = ensure_installed(state_dir)

    for sub in ("fs", "tmp"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    for key, value in DEFAULT_SETTINGS.items():
        env.setdefault(key, value)
    env.update(
        {
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(state_dir / "fs"),
            "TMPDIR": str(state_dir / "tmp"),
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DNS_ADDRESS": "0",  # never bind (or sudo for) port 53
            "SERVICES": SERVICES,
            "LAMBDA_RUNTIME_EXECUTOR": PLUGIN_NAME,
            "CHRONOS_LAMBDA_PYTHON": str(Path(project_python).absolute()),  # not resolve(): keep the venv
        }
    )
    log_path = state_dir / "localstack.log"
    with log_path.open("ab") as log_file:
        log_file.write(f"\n===== start {time.strftime('%Y-%m-%dT%H:%M:%S')} port {port} =====\n".encode())
        log_file.flush()
        proc = subprocess.Popen(
            [str(venv_python), "-m", "localstack.runtime.main"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=state_dir,
            start_new_session=True,  # own process group: stop() signals the whole group
        )
    _pid_file(state_dir).write_text(f"{proc.pid}\n")
    (state_dir / "localstack.port").write_text(f"{port}\n")
    started = time.monotonic()
    if not _wait_ready(port, proc.pid, START_TIMEOUT_S):
        tail = log_path.read_text(errors="replace")[-3000:]
        stop(state_dir)
        raise RuntimeError(f"LocalStack did not become ready on port {port}; log tail:\n{tail}")
    log(f"LocalStack pid {proc.pid} ready on 127.0.0.1:{port} in {time.monotonic() - started:.1f} s")
    return proc.pid


def _wait_ready(port: int, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return False
        if is_ready(port):
            return True
        time.sleep(0.25)
    return False


def stop(state_dir: Path = DEFAULT_STATE_DIR) -> bool:
    """Stop the LocalStack of ``state_dir``: SIGTERM its group, after ``STOP_GRACE_S`` SIGKILL the
    group, its descendants and its Lambda workers. Returns True if something was running."""
    state_dir = Path(state_dir)
    pid = running_pid(state_dir)
    if pid is None:
        _pid_file(state_dir).unlink(missing_ok=True)
        return False
    workers = worker_pids(pid)
    doomed = set(_children(pid)) | set(workers)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    doomed |= set(_children(pid)) | set(worker_pids(pid))
    for target in (pid, *doomed):
        for kill in (os.killpg, os.kill):  # workers lead their own process groups
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in (pid, *doomed)):
        time.sleep(0.05)
    _pid_file(state_dir).unlink(missing_ok=True)
    return True


# ------------------------------------------------------------------------------------------------ CLI
def default_project_python() -> Path:
    """The project venv's python (``<repo>/.local/venv/bin/python``), else the running interpreter."""
    candidate = ROOT / ".local" / "venv" / "bin" / "python"
    return candidate if candidate.exists() else Path(sys.executable)


def main(argv: list[str] | None = None) -> int:
    """CLI: ``up`` (install if needed, start), ``down``, ``status``, ``install``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status", "install"])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("CHRONOS_LOCALSTACK_PORT", DEFAULT_PORT))
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    if args.command == "install":
        ensure_installed(args.state_dir)
    elif args.command == "up":
        ensure_installed(args.state_dir)
        pid = start(args.port, args.state_dir, default_project_python())
        print(f"localstack running pid {pid} http://127.0.0.1:{args.port}")
    elif args.command == "down":
        print("localstack stopped" if stop(args.state_dir) else "localstack was not running")
    else:
        pid = running_pid(args.state_dir)
        if pid is None:
            print("localstack stopped")
            return 1
        port = running_port(args.state_dir) or args.port
        state = "ready" if is_ready(port) else "not ready"
        print(f"localstack running pid {pid} http://127.0.0.1:{port} ({state}), workers: {worker_pids(pid)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
