"""Run the three component apps in one process, each on its own port (they collide on ``/version``).

``components`` selects which of them are served (the others are left to real FIWARE, their ports
unbound); the control API ``/_sandbox`` is mounted on every port served."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from pymongo import MongoClient

from local.fiware_sandbox import iot_agent, orion, sth
from local.fiware_sandbox.common import SandboxMiddleware, SandboxState
from local.fiware_sandbox.control import build_router


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to :func:`serve`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build_state(mongodb_uri: str, database: str, *, sth_max_page_size: int = 100) -> SandboxState:
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongodb_uri, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    client.admin.command("ping")
    state = SandboxState(mongo=client, db=client[database], sth_max_page_size=sth_max_page_size)
    orion.ensure_indexes(state)
    iot_agent.ensure_indexes(state)
    state.notifier = orion.Notifier(state)
    return state


COMPONENTS = ("orion", "sth", "iota")


def build_apps(state: SandboxState, components: Iterable[str] = COMPONENTS) -> dict[str, Any]:
    apps: dict[str, Any] = {}
    router = build_router(state)
    wanted = set(components)
    for name, module in (("orion", orion), ("sth", sth), ("iota", iot_agent)):
        if name not in wanted:
            continue
        app = module.build_app(state)
        app.include_router(router)
        apps[name] = SandboxMiddleware(app, name, state)
    return apps


async def _serve(
    state: SandboxState, host: str, ports: dict[str, int], pid_file: Path | None, log_level: str
) -> None:
    apps = build_apps(state, ports)
    servers = [
        _Server(
            uvicorn.Config(
                apps[name],
                host=host,
                port=port,
                log_level=log_level,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
                timeout_keep_alive=30,
            )
        )
        for name, port in ports.items()
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            stop()
            break
        await asyncio.sleep(0.02)
    else:
        if pid_file is not None:
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            pid_file.write_text(str(os.getpid()))
    try:
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if pid_file is not None and pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()
    if not all(server.started for server in servers):
        raise SystemExit(f"fiware sandbox: could not bind all of {host} {ports}")


def serve(
    *,
    mongodb_uri: str,
    database: str,
    host: str,
    orion_port: int,
    sth_port: int,
    iota_port: int,
    components: Iterable[str] = COMPONENTS,
    pid_file: Path | None = None,
    sth_max_page_size: int = 100,
    log_level: str = "warning",
) -> None:
    wanted = set(components)
    if not wanted or not wanted <= set(COMPONENTS):
        raise ValueError(f"components must be a non-empty subset of {COMPONENTS}, got {sorted(wanted)}")
    every = {"orion": orion_port, "sth": sth_port, "iota": iota_port}
    ports = {name: port for name, port in every.items() if name in wanted}
    state = build_state(mongodb_uri, database, sth_max_page_size=sth_max_page_size)
    state.ports = dict(ports)
    asyncio.run(_serve(state, host, ports, pid_file, log_level))
