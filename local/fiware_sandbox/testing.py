"""Start/stop a sandbox for tests and benchmarks, and drive its control API.

``sandbox_from_env()`` uses an already running sandbox when ``CHRONOS_SANDBOX_STH_URL``,
``CHRONOS_SANDBOX_ORION_URL`` and ``CHRONOS_SANDBOX_IOTA_URL`` are set; otherwise
``start_sandbox()`` launches ``python -m local.fiware_sandbox serve`` on free ports with a unique
database (dropped by ``Sandbox.stop()``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27118/"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Sandbox:
    orion_url: str
    sth_url: str
    iota_url: str
    mongodb_uri: str | None = None
    database: str | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    # ---------------------------------------------------------------- control API
    def set_faults(self, **faults: Any) -> dict[str, Any]:
        response = self._client.post(f"{self.sth_url}/_sandbox/faults", json=faults)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def clear_faults(self) -> None:
        self._client.delete(f"{self.sth_url}/_sandbox/faults").raise_for_status()

    def faults(self) -> dict[str, Any]:
        response = self._client.get(f"{self.sth_url}/_sandbox/faults")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def sth_stats(self) -> dict[str, Any]:
        """The STH raw-data query counters (``GET /_sandbox/sth/stats``)."""
        response = self._client.get(f"{self.sth_url}/_sandbox/sth/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset_sth_stats(self) -> dict[str, Any]:
        response = self._client.delete(f"{self.sth_url}/_sandbox/sth/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def info(self) -> dict[str, Any]:
        response = self._client.get(f"{self.sth_url}/_sandbox/info")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def requests(self, component: str | None = None, since: int = 0, **filters: Any) -> list[dict[str, Any]]:
        params = {"since": since, **filters}
        if component:
            params["component"] = component
        response = self._client.get(f"{self.sth_url}/_sandbox/requests", params=params)
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()["requests"]
        return records

    def last_seq(self) -> int:
        response = self._client.get(
            f"{self.sth_url}/_sandbox/requests", params={"limit": 1, "since": 1 << 62}
        )
        seq: int = response.json()["last_seq"]
        return seq

    def drain(self, timeout: float = 5.0) -> bool:
        response = self._client.post(f"{self.orion_url}/_sandbox/drain", params={"timeout": timeout})
        return bool(response.json()["drained"])

    def seed_sth(self, **body: Any) -> int:
        response = self._client.post(f"{self.sth_url}/_sandbox/sth/seed", json=body)
        response.raise_for_status()
        stored: int = response.json()["stored"]
        return stored

    # ---------------------------------------------------------------- lifecycle
    def stop(self) -> None:
        self._client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process is not None and self.mongodb_uri and self.database:
            from pymongo import MongoClient

            client: MongoClient[dict[str, Any]] = MongoClient(self.mongodb_uri, serverSelectionTimeoutMS=3000)
            try:
                client.drop_database(self.database)
            finally:
                client.close()


def sandbox_from_env() -> Sandbox | None:
    urls = [os.environ.get(f"CHRONOS_SANDBOX_{name}_URL") for name in ("ORION", "STH", "IOTA")]
    if not all(urls):
        return None
    orion, sth, iota = (str(u).rstrip("/") for u in urls)
    return Sandbox(orion_url=orion, sth_url=sth, iota_url=iota)


def start_sandbox(
    mongodb_uri: str | None = None,
    *,
    database: str | None = None,
    extra_args: list[str] | None = None,
    components: Sequence[str] = ("orion", "sth", "iota"),
) -> Sandbox:
    """A sandbox on free ports; ``components`` it serves (the URLs of the others name ports
    nothing listens on). Its control API is on every port served; :class:`Sandbox` uses the STH's."""
    mongodb_uri = mongodb_uri or os.environ.get("MONGODB_URI") or DEFAULT_MONGODB_URI
    database = database or f"fiware_sandbox_test_{uuid.uuid4().hex[:10]}"
    ports = {"orion": free_port(), "sth": free_port(), "iota": free_port()}
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{database}.log"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "local.fiware_sandbox", "serve"]
    command += ["--orion-port", str(ports["orion"]), "--sth-port", str(ports["sth"])]
    command += ["--iota-port", str(ports["iota"]), "--mongodb-uri", mongodb_uri, "--database", database]
    if set(components) != set(ports):
        command += ["--components", ",".join(components)]
    command += extra_args or []
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    sandbox = Sandbox(
        orion_url=f"http://127.0.0.1:{ports['orion']}",
        sth_url=f"http://127.0.0.1:{ports['sth']}",
        iota_url=f"http://127.0.0.1:{ports['iota']}",
        mongodb_uri=mongodb_uri,
        database=database,
        process=process,
        log_path=log_path,
    )
    deadline = time.monotonic() + 30
    routes = {
        "orion": f"{sandbox.orion_url}/version",
        "sth": f"{sandbox.sth_url}/version",
        "iota": f"{sandbox.iota_url}/iot/about",
    }
    probes = [url for name, url in routes.items() if name in components]
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited early: {log_path.read_text()[-2000:]}")
        try:
            if all(httpx.get(url, timeout=1).status_code == 200 for url in probes):
                return sandbox
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sandbox.stop()
    raise RuntimeError(f"sandbox did not start: {log_path.read_text()[-2000:]}")
