"""The local Chronos stack: FerretDB, LocalStack (with our Lambda executor) and the FIWARE sandbox.

Usage (from the repository root, with the project virtualenv's python):
    python local/stack.py up        start everything (idempotent), wait for health, print endpoints
    python local/stack.py deploy    sam build + deploy template.yaml into LocalStack, print outputs
    python local/stack.py down      stop everything by PID, leaving no stray process
    python local/stack.py status    show what runs

Ports (override with environment variables): FerretDB ``CHRONOS_MONGO_PORT`` (27118), LocalStack
``CHRONOS_LOCALSTACK_PORT`` (4610), sandbox Orion/STH/IoT Agent ``CHRONOS_SANDBOX_ORION_PORT``
(11026), ``CHRONOS_SANDBOX_STH_PORT`` (18666), ``CHRONOS_SANDBOX_IOTA_PORT`` (14041). When
``MONGODB_URI`` is set, that server is used and FerretDB is not started. FerretDB runs on its
PostgreSQL backend, in a cluster of its own under ``.local/postgresql-data`` (Debian's server
binaries, port ``CHRONOS_POSTGRESQL_PORT``, 25432; ``local/postgresql.py``): several times faster
than SQLite on the writes Chronos makes (bench/README.md, "MongoDB-compatible backends").
``CHRONOS_FERRETDB_POSTGRESQL_URL`` names a PostgreSQL database of your own instead
(``postgres://user:password@host:5432/db``); ``CHRONOS_FERRETDB_BACKEND=sqlite`` keeps the SQLite
backend (``.local/ferretdb-data``), which is also what runs, with a warning, where no PostgreSQL
server binaries are installed.

Real FIWARE: ``CHRONOS_STH_URL``, ``CHRONOS_ORION_URL`` and ``CHRONOS_IOT_AGENT_URL`` (any subset)
name external components. ``up`` starts the sandbox only for the others (not at all when the three
are set) and warns when an external one does not answer ``GET /version`` (``GET /iot/about`` for
the IoT Agent); ``deploy`` passes the effective URLs to the template (``SthUrl``, ``OrionUrl``,
``IotAgentUrl``); ``.local/endpoints.json`` and ``.local/stack.json`` list them, with the external
ones under ``external`` / ``FiwareExternal``; ``down`` stops only the processes it started. Set
the variables for ``deploy`` as for ``up`` (export them).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import localstack_ctl  # noqa: E402
import postgresql  # noqa: E402
import procs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Resolved: a worktree whose .local links to another checkout's starts its long-lived processes
# (FerretDB, the dev IdP) on the real paths, so they outlive the worktree.
STATE = (ROOT / ".local").resolve()
LOGS = STATE / "logs"
RUN = STATE / "run"
STACK_FILE = STATE / "stack.json"
ENDPOINTS_FILE = STATE / "endpoints.json"
LOCALSTACK_STATE = Path(os.environ.get("CHRONOS_LOCALSTACK_STATE_DIR", str(STATE / "localstack")))
STACK_NAME = os.environ.get("CHRONOS_STACK_NAME", "chronos")
REGION = "us-east-1"
DATABASE = os.environ.get("CHRONOS_MONGODB_DATABASE", "chronos")


@dataclass(frozen=True)
class Component:
    """A FIWARE component Chronos talks to: served by the sandbox, or external."""

    name: str  # the sandbox's name for it (``serve --components``)
    label: str
    url_variable: str  # names an external one
    port_variable: str  # the sandbox's port for it
    default_port: int
    probe_path: str  # the version route ``up`` probes on an external one


FIWARE = (
    Component("orion", "Orion", "CHRONOS_ORION_URL", "CHRONOS_SANDBOX_ORION_PORT", 11026, "/version"),
    Component("sth", "STH-Comet", "CHRONOS_STH_URL", "CHRONOS_SANDBOX_STH_PORT", 18666, "/version"),
    Component("iota", "IoT Agent", "CHRONOS_IOT_AGENT_URL", "CHRONOS_SANDBOX_IOTA_PORT", 14041, "/iot/about"),
)
COMPONENTS = {c.name: c for c in FIWARE}


def external_url(component: Component, value: str) -> str:
    """``value`` of ``component.url_variable``, checked to be an http(s) URL, without a trailing /."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SystemExit(f"{component.url_variable}={value!r} is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise SystemExit(f"{component.url_variable}={value!r}: {exc}") from None
    return value.strip().rstrip("/")


def sandbox_port(component: Component, env: Mapping[str, str]) -> int:
    value = env.get(component.port_variable, str(component.default_port))
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise SystemExit(f"{component.port_variable}={value!r} is not a port number")
    return port


@dataclass(frozen=True)
class Endpoints:
    mongodb_uri: str
    localstack_url: str
    sth_url: str
    orion_url: str
    iot_agent_url: str
    external: tuple[str, ...] = ()
    """The FIWARE components given by ``CHRONOS_*_URL`` (``orion``, ``sth``, ``iota``): not ours."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Endpoints:
        env = os.environ if env is None else env
        mongo_port = int(env.get("CHRONOS_MONGO_PORT", "27118"))
        ls_port = int(env.get("CHRONOS_LOCALSTACK_PORT", str(localstack_ctl.DEFAULT_PORT)))
        urls: dict[str, str] = {}
        external: list[str] = []
        for component in FIWARE:
            given = env.get(component.url_variable, "").strip()
            if given:
                urls[component.name] = external_url(component, given)
                external.append(component.name)
            else:
                urls[component.name] = f"http://127.0.0.1:{sandbox_port(component, env)}"
        return cls(
            mongodb_uri=env.get("MONGODB_URI") or f"mongodb://127.0.0.1:{mongo_port}/",
            localstack_url=f"http://127.0.0.1:{ls_port}",
            orion_url=urls["orion"],
            sth_url=urls["sth"],
            iot_agent_url=urls["iota"],
            external=tuple(external),
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Endpoints:
        """What :meth:`to_json` wrote (``.local/endpoints.json``; older files have no ``external``)."""
        return cls(
            mongodb_uri=str(data["mongodb_uri"]),
            localstack_url=str(data["localstack_url"]),
            sth_url=str(data["sth_url"]),
            orion_url=str(data["orion_url"]),
            iot_agent_url=str(data["iot_agent_url"]),
            external=tuple(c.name for c in FIWARE if c.name in data.get("external", ())),
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "external": list(self.external), "sandbox": list(self.sandbox_components)}

    @property
    def localstack_port(self) -> int:
        return int(self.localstack_url.rsplit(":", 1)[1])

    @property
    def fiware_urls(self) -> dict[str, str]:
        """Component name -> effective URL (the sandbox's or the external one)."""
        return {"orion": self.orion_url, "sth": self.sth_url, "iota": self.iot_agent_url}

    @property
    def sandbox_components(self) -> tuple[str, ...]:
        """The components the sandbox serves: those not external."""
        return tuple(c.name for c in FIWARE if c.name not in self.external)

    @property
    def sandbox_ports(self) -> dict[str, int]:
        return {name: int(self.fiware_urls[name].rsplit(":", 1)[1]) for name in self.sandbox_components}

    def describe(self) -> list[str]:
        """One ``name value`` line per endpoint, the external FIWARE ones marked."""
        lines = [f"{'mongodb_uri':16} {self.mongodb_uri}", f"{'localstack_url':16} {self.localstack_url}"]
        for key, name in (("sth_url", "sth"), ("orion_url", "orion"), ("iot_agent_url", "iota")):
            mark = f"  (external: {COMPONENTS[name].url_variable})" if name in self.external else ""
            lines.append(f"{key:16} {self.fiware_urls[name]}{mark}")
        return lines


DEV_IDP_DEFAULT_PORT = 19080


def dev_idp_url(env: Mapping[str, str] | None = None) -> str:
    """The development OIDC provider's URL: ``CHRONOS_DEV_IDP_PORT`` (default 19080) on loopback."""
    env = os.environ if env is None else env
    value = env.get("CHRONOS_DEV_IDP_PORT", str(DEV_IDP_DEFAULT_PORT))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"CHRONOS_DEV_IDP_PORT={value!r} is not a port number")
    return f"http://127.0.0.1:{int(value)}"


def log(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def project_python() -> Path:
    return STATE / "venv" / "bin" / "python"


# --------------------------------------------------------------------------------------------- up


def ferretdb_command(binary: Path, port: int, data: Path, postgresql_url: str | None) -> list[str]:
    """FerretDB's command line: the SQLite backend in ``data``, or the PostgreSQL backend on
    ``postgresql_url`` (its state file in ``data`` too)."""
    backend = (
        ["--handler=postgresql", f"--postgresql-url={postgresql_url}", f"--state-dir={data}"]
        if postgresql_url
        else ["--handler=sqlite", f"--sqlite-url=file:{data}/"]
    )
    return [
        str(binary),
        *backend,
        f"--listen-addr=127.0.0.1:{port}",
        "--debug-addr=-",
        "--telemetry=disable",
        "--log-level=warn",
    ]


FERRETDB_BACKENDS = ("postgresql", "sqlite")


def local_postgresql(env: Mapping[str, str]) -> postgresql.Cluster | None:
    """The stack's own PostgreSQL cluster, or None where no server binaries are installed."""
    bindir = postgresql.find_bindir(env)
    if bindir is None:
        return None
    return postgresql.Cluster(
        bindir=bindir,
        data=postgresql.data_directory(STATE / "postgresql-data"),
        port=postgresql.port_from(env),
    )


def ferretdb_postgresql_url(env: Mapping[str, str]) -> str | None:
    """The PostgreSQL database FerretDB stores in (starting the stack's own cluster when that is
    the one), or None for the SQLite backend."""
    external = env.get("CHRONOS_FERRETDB_POSTGRESQL_URL", "").strip()
    if external:
        log("FerretDB on PostgreSQL (CHRONOS_FERRETDB_POSTGRESQL_URL)")
        return external
    backend = env.get("CHRONOS_FERRETDB_BACKEND", "").strip().lower() or "postgresql"
    if backend not in FERRETDB_BACKENDS:
        raise SystemExit(
            f"CHRONOS_FERRETDB_BACKEND must be one of {', '.join(FERRETDB_BACKENDS)}, got {backend!r}"
        )
    if backend == "sqlite":
        log("FerretDB on SQLite (CHRONOS_FERRETDB_BACKEND=sqlite)")
        return None
    cluster = local_postgresql(env)
    if cluster is None:
        log(
            "no PostgreSQL server binaries (apt-get install postgresql): FerretDB falls back to SQLite, "
            "several times slower on writes"
        )
        return None
    postgresql.start(cluster)
    log(f"FerretDB on PostgreSQL (the stack's cluster on 127.0.0.1:{cluster.port})")
    return cluster.url


def start_ferretdb(endpoints: Endpoints) -> None:
    if os.environ.get("MONGODB_URI"):
        log("MONGODB_URI is set: using that server, not starting FerretDB")
        return
    pid_file = RUN / "ferretdb.pid"
    port = int(endpoints.mongodb_uri.rsplit(":", 1)[1].strip("/"))
    if procs.running(pid_file) and procs.port_open("127.0.0.1", port):
        return
    if procs.port_open("127.0.0.1", port):
        raise SystemExit(f"port {port} is taken by another process; set CHRONOS_MONGO_PORT")
    binary = STATE / "bin" / "ferretdb"
    if not binary.exists():
        raise SystemExit("FerretDB is not built: run local/bootstrap.sh")
    data = STATE / "ferretdb-data"
    data.mkdir(parents=True, exist_ok=True)
    postgresql_url = ferretdb_postgresql_url(os.environ)
    (RUN / "ferretdb-backend").write_text("postgresql" if postgresql_url else "sqlite")
    procs.start(
        "ferretdb",
        ferretdb_command(binary, port, data, postgresql_url),
        pid_file=pid_file,
        log_file=LOGS / "ferretdb.log",
    )
    procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=30, what="FerretDB")


def start_localstack(endpoints: Endpoints) -> None:
    localstack_ctl.start(endpoints.localstack_port, LOCALSTACK_STATE, project_python())


def sandbox_available() -> bool:
    return (ROOT / "local" / "fiware_sandbox" / "__main__.py").exists()


SANDBOX_PID_FILE = RUN / "fiware-sandbox.pid"
SANDBOX_CONFIG_FILE = RUN / "fiware-sandbox.json"
"""What the running sandbox serves: ``{"components": [...], "ports": {name: port}}``."""


def sandbox_config(endpoints: Endpoints) -> dict[str, Any] | None:
    """What the sandbox must serve for ``endpoints``; None when every component is external."""
    ports = endpoints.sandbox_ports
    return {"components": list(ports), "ports": ports} if ports else None


def sandbox_command(endpoints: Endpoints) -> list[str]:
    """``python -m local.fiware_sandbox serve`` for the components not external (all three: no
    ``--components``, as before the option existed)."""
    ports = endpoints.sandbox_ports
    command = [str(project_python()), "-m", "local.fiware_sandbox", "serve"]
    for name, port in ports.items():
        command += [f"--{name}-port", str(port)]
    if len(ports) < len(FIWARE):
        command += ["--components", ",".join(ports)]
    return [*command, "--mongodb-uri", endpoints.mongodb_uri]


def sandbox_action(
    wanted: dict[str, Any] | None, *, running: bool, recorded: dict[str, Any] | None, serving: bool
) -> str:
    """What ``up`` does with the sandbox: ``keep``, ``start``, ``restart``, ``stop`` or ``none``.

    ``wanted`` is :func:`sandbox_config`; ``running`` whether our sandbox process lives;
    ``recorded`` what it was started to serve (None: unknown, an older stack.py started it with all
    three); ``serving`` whether the wanted ports answer."""
    if not running:
        return "start" if wanted is not None else "none"
    if wanted is None:
        return "stop"
    if recorded is None:
        same = wanted["components"] == [c.name for c in FIWARE]
    else:
        same = recorded.get("components") == wanted["components"] and recorded.get("ports") == wanted["ports"]
    return "keep" if same and serving else "restart"


def recorded_sandbox_config() -> dict[str, Any] | None:
    try:
        data = json.loads(SANDBOX_CONFIG_FILE.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start_sandbox(endpoints: Endpoints) -> None:
    if not sandbox_available():
        return
    wanted = sandbox_config(endpoints)
    ports = endpoints.sandbox_ports
    action = sandbox_action(
        wanted,
        running=procs.running(SANDBOX_PID_FILE) is not None,
        recorded=recorded_sandbox_config(),
        serving=all(procs.port_open("127.0.0.1", p) for p in ports.values()),
    )
    if action == "keep":
        return
    if action in ("stop", "restart"):
        log(
            "stopping the FIWARE sandbox: every component is external"
            if action == "stop"
            else f"restarting the FIWARE sandbox to serve {', '.join(ports)} on ports {list(ports.values())}"
        )
        procs.stop(SANDBOX_PID_FILE)
        SANDBOX_CONFIG_FILE.unlink(missing_ok=True)
    if wanted is None:
        log("CHRONOS_STH_URL, CHRONOS_ORION_URL and CHRONOS_IOT_AGENT_URL are set: no FIWARE sandbox")
        return
    taken = [
        f"{COMPONENTS[name].port_variable}={port}"
        for name, port in ports.items()
        if procs.port_open("127.0.0.1", port)
    ]
    if taken:
        raise SystemExit(
            f"sandbox port(s) taken by another process: {', '.join(taken)}; choose free ports, or name the "
            "component listening there with CHRONOS_STH_URL / CHRONOS_ORION_URL / CHRONOS_IOT_AGENT_URL"
        )
    if endpoints.external:
        log(f"FIWARE sandbox serves {', '.join(ports)} only (external: {', '.join(endpoints.external)})")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}{os.pathsep}{ROOT}"}
    procs.start(
        "fiware-sandbox",
        sandbox_command(endpoints),
        pid_file=SANDBOX_PID_FILE,
        log_file=LOGS / "fiware-sandbox.log",
        env=env,
        cwd=ROOT,
    )
    SANDBOX_CONFIG_FILE.write_text(json.dumps(wanted))
    procs.wait_until(
        lambda: all(procs.port_open("127.0.0.1", p) for p in ports.values()),
        timeout=30,
        what="FIWARE sandbox",
    )


Probe = Callable[[str], str | None]


def probe(url: str, timeout: float = 3.0) -> str | None:
    """None when ``GET url`` answers 2xx within ``timeout`` seconds; otherwise what went wrong."""
    headers = {"Accept": "application/json"}
    if os.environ.get("CHRONOS_FIWARE_AUTH_TOKEN"):  # FIWARE behind a PEP proxy
        headers["X-Auth-Token"] = os.environ["CHRONOS_FIWARE_AUTH_TOKEN"]
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout):
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def fiware_warnings(
    endpoints: Endpoints,
    *,
    check: Probe | None = None,
    port_open: Callable[[int], bool] | None = None,
) -> list[str]:
    """Warnings about FIWARE components nobody answers for: an external one whose version route
    fails (``check``, :func:`probe` by default), a sandbox one whose port is closed."""
    check = check or probe
    port_open = port_open or (lambda port: procs.port_open("127.0.0.1", port))
    warnings = []
    routes = [endpoints.fiware_urls[n] + COMPONENTS[n].probe_path for n in endpoints.external]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(FIWARE)) as pool:  # one timeout in all
        problems = list(pool.map(check, routes))
    for name, problem in zip(endpoints.external, problems, strict=True):
        component, url = COMPONENTS[name], endpoints.fiware_urls[name]
        if problem is not None:
            warnings.append(
                f"WARNING: the external {component.label} at {url} ({component.url_variable}) does not "
                f"answer GET {component.probe_path}: {problem}. The deployed functions will find it down."
            )
    for name, port in endpoints.sandbox_ports.items():
        component = COMPONENTS[name]
        if not port_open(port):
            warnings.append(
                f"WARNING: nothing serves {component.label} on 127.0.0.1:{port} ({component.port_variable}): "
                f"run local/stack.py up with the same settings, or set {component.url_variable}."
            )
    return warnings


DEV_IDP_PID_FILE = RUN / "dev-idp.pid"


def dev_idp_command(url: str) -> list[str]:
    """The development OIDC provider (``local/dev_idp.py``) on the port of ``url``."""
    port = url.rsplit(":", 1)[1]
    return [str(project_python()), str(ROOT / "local" / "dev_idp.py"), "--port", port]


def start_dev_idp(url: str | None = None) -> str:
    """Start the dev IdP at ``url`` (:func:`dev_idp_url` by default; idempotent), record it as
    ``dev_idp_url`` in ``.local/endpoints.json`` and return its URL. It signs with
    ``.local/jwt-secret``, created here when new."""
    url = url or dev_idp_url()
    port = int(url.rsplit(":", 1)[1])
    if not (procs.running(DEV_IDP_PID_FILE) and procs.port_open("127.0.0.1", port)):
        if procs.port_open("127.0.0.1", port):
            raise SystemExit(f"port {port} is taken by another process; set CHRONOS_DEV_IDP_PORT")
        local_jwt_secret()
        procs.start(
            "dev-idp",
            dev_idp_command(url),
            pid_file=DEV_IDP_PID_FILE,
            log_file=LOGS / "dev-idp.log",
            cwd=ROOT,
        )
        procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=30, what="dev IdP")
    try:
        recorded = json.loads(ENDPOINTS_FILE.read_text())
    except (FileNotFoundError, ValueError):
        recorded = {}
    ENDPOINTS_FILE.write_text(json.dumps({**recorded, "dev_idp_url": url}, indent=2))
    print(f"{'dev_idp_url':16} {url}")
    return url


def stop_dev_idp() -> bool:
    stopped = procs.stop(DEV_IDP_PID_FILE)
    if stopped:
        log("stopped: dev-idp")
    return stopped


def up() -> Endpoints:
    endpoints = Endpoints.from_env()
    RUN.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    start_ferretdb(endpoints)
    start_sandbox(endpoints)
    start_localstack(endpoints)
    elapsed = time.perf_counter() - started
    ENDPOINTS_FILE.write_text(json.dumps(endpoints.to_json(), indent=2))
    log(f"services up in {elapsed:.1f} s")
    for warning in fiware_warnings(endpoints, port_open=lambda port: True):  # ours were waited for
        log(warning)
    for line in endpoints.describe():
        print(line)
    return endpoints


def recorded_endpoints() -> Endpoints | None:
    """The endpoints the last ``up`` wrote, if any."""
    try:
        return Endpoints.from_json(json.loads(ENDPOINTS_FILE.read_text()))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


# ------------------------------------------------------------------------------------------- down


PROCESSES = ("fiware-sandbox", "ferretdb")
"""What ``down`` stops by PID file (and LocalStack): only processes ``up`` started, never an
external FIWARE component or MongoDB."""


def down() -> None:
    stopped = []
    if localstack_ctl.stop(LOCALSTACK_STATE):
        stopped.append("localstack")
    for name in PROCESSES:
        if procs.stop(RUN / f"{name}.pid"):
            stopped.append(name)
    cluster = local_postgresql(os.environ)
    if cluster is not None and postgresql.stop(cluster):
        stopped.append("postgresql")
    SANDBOX_CONFIG_FILE.unlink(missing_ok=True)
    log("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    endpoints = recorded_endpoints()
    if endpoints is not None and endpoints.external:
        left = ", ".join(f"{COMPONENTS[n].label} {endpoints.fiware_urls[n]}" for n in endpoints.external)
        log(f"external, left running: {left}")


def status() -> int:
    recorded = recorded_endpoints()
    endpoints = recorded or Endpoints.from_env()
    sandbox_pid = procs.running(SANDBOX_PID_FILE)
    rows = {
        "ferretdb": procs.running(RUN / "ferretdb.pid"),
        "fiware-sandbox": sandbox_pid,
        "localstack": localstack_ctl.running_pid(LOCALSTACK_STATE),
    }
    cluster = local_postgresql(os.environ)
    backend_file = RUN / "ferretdb-backend"
    backend = backend_file.read_text().strip() if backend_file.exists() else None
    external_database = bool(os.environ.get("CHRONOS_FERRETDB_POSTGRESQL_URL", "").strip())
    uses_cluster = cluster is not None and backend == "postgresql" and not external_database
    if cluster is not None and (uses_cluster or postgresql.running_pid(cluster)):
        rows["postgresql"] = postgresql.running_pid(cluster)
    needed = {
        "ferretdb": True,
        "fiware-sandbox": bool(endpoints.sandbox_components),
        "localstack": True,
        "postgresql": uses_cluster,
    }
    serving = (recorded_sandbox_config() or {}).get("components")
    for name, pid in rows.items():
        if pid:
            state = f"running pid {pid}"
            if name == "fiware-sandbox" and serving and len(serving) < len(FIWARE):
                state += f" (serves {', '.join(serving)})"
        elif not needed[name]:
            state = "not needed (every FIWARE component is external)"
        else:
            state = "stopped"
        print(f"{name:16} {state}")
    source = "recorded by `up` in .local/endpoints.json" if recorded else "from the environment"
    print(f"endpoints ({source}):")
    for line in endpoints.describe():
        print(f"  {line}")
    deployed = deployed_fiware_urls()
    if deployed and deployed != endpoints.fiware_urls:
        print("the deployed stack points at: " + ", ".join(f"{k} {v}" for k, v in deployed.items()))
    print(json.dumps(endpoints.to_json(), indent=2))
    return 0 if all(pid for name, pid in rows.items() if needed[name]) else 1


def deployed_fiware_urls() -> dict[str, str] | None:
    """The FIWARE URLs in ``.local/stack.json`` (what the last ``deploy`` passed), if any."""
    try:
        outputs = json.loads(STACK_FILE.read_text())
        return {"orion": outputs["OrionUrl"], "sth": outputs["SthUrl"], "iota": outputs["IotAgentUrl"]}
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------------------- deploy


def aws_env(endpoints: Endpoints) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoints.localstack_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "SAM_CLI_TELEMETRY": "0",
        # sam build validates the runtime against a python3.13 on PATH: the project venv has one.
        "PATH": f"{STATE / 'venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def sam(args: list[str], env: dict[str, str]) -> None:
    binary = STATE / "sam-venv" / "bin" / "sam"
    subprocess.run([str(binary), *args], cwd=ROOT, env=env, check=True)


#: Collection settings passed to the deployment from the environment (the template's defaults
#: when unset): the same names the functions read.
COLLECTION_PARAMETERS = {
    "CHRONOS_STH_PAGE_SIZE": "SthPageSize",
    "CHRONOS_STH_PAGE_CONCURRENCY": "SthPageConcurrency",
    "CHRONOS_STH_PAGING": "SthPaging",
    "CHRONOS_STH_ADAPTIVE": "SthAdaptive",
    "CHRONOS_STH_TIMEOUT_CAP_SECONDS": "SthTimeoutCapSeconds",
    "CHRONOS_FIWARE_TIMEOUT_SECONDS": "FiwareTimeoutSeconds",
    "CHRONOS_FIWARE_MAX_ATTEMPTS": "FiwareMaxAttempts",
    "CHRONOS_ANOMALY_STH_PAGE_SIZE": "AnomalySthPageSize",
    "CHRONOS_ANOMALY_STH_PAGE_CONCURRENCY": "AnomalySthPageConcurrency",
}


def template_default(parameter: str) -> str:
    """The ``Default`` of a template parameter (read from template.yaml's text: CloudFormation's
    tags need no YAML loader for the Parameters section)."""
    lines = (ROOT / "template.yaml").read_text().splitlines()
    start = lines.index(f"  {parameter}:")
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        key, _, value = line.strip().partition(":")
        if key == "Default":
            return value.strip().strip('"')
    raise KeyError(f"template parameter {parameter} has no Default")


def deploy_parameters(endpoints: Endpoints) -> dict[str, str]:
    # Every one is passed, the template's default when unset: an update keeps a parameter's
    # previous value when it is not given, so an earlier override would otherwise stick.
    collection = {
        param: os.environ.get(var) or template_default(param) for var, param in COLLECTION_PARAMETERS.items()
    }
    return {
        **collection,
        "StageName": "dev",
        "EnvironmentName": "local",
        "MongoDbUri": endpoints.mongodb_uri,
        "MongoDbDatabase": DATABASE,
        "SthUrl": endpoints.sth_url,
        "OrionUrl": endpoints.orion_url,
        "IotAgentUrl": endpoints.iot_agent_url,
        # LocalStack's free edition has no AWS Batch: the Train state runs the trainer in a Lambda.
        "TrainingBackend": "lambda",
        "MapMaxConcurrency": os.environ.get("CHRONOS_MAP_MAX_CONCURRENCY", "4"),
        "CollectMaxAttempts": os.environ.get("CHRONOS_COLLECT_MAX_ATTEMPTS", "3"),
        "TrainingChunkPoints": os.environ.get("CHRONOS_TRAINING_CHUNK_POINTS", "10000"),
        # Failing forecasts reach the DLQ after 2 receives, retried 1 s (then 2 s...) apart.
        "ForecastMaxReceiveCount": os.environ.get("CHRONOS_FORECAST_MAX_RECEIVE_COUNT", "2"),
        "ForecastRetryDelaySeconds": os.environ.get("CHRONOS_FORECAST_RETRY_DELAY_SECONDS", "1"),
        # The dashboard signs in at the dev IdP (local/dev_idp.py), which `up` starts.
        "OidcAuthority": dev_idp_url(),
        # The end-to-end tests' webhook receivers listen on 127.0.0.1 (the Lambda executor runs
        # on the host); notification retries start 1 s apart.
        "AlertWebhookAllowPrivate": "true",
        "AlertRetryBaseSeconds": os.environ.get("CHRONOS_ALERT_RETRY_BASE_SECONDS", "1"),
    }


def deploy() -> dict[str, Any]:
    endpoints = Endpoints.from_env()
    for warning in fiware_warnings(endpoints):
        log(warning)
    if endpoints.external:
        log("FIWARE: " + ", ".join(f"{n} {endpoints.fiware_urls[n]} (external)" for n in endpoints.external))
    env = aws_env(endpoints)
    started = time.perf_counter()
    sam(["build", "--config-env", "local"], env)
    built = time.perf_counter()
    s3 = local_client("s3", endpoints.localstack_url)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket="chronos-sam-artifacts")
    ensure_jwt_secret(endpoints)
    discard_broken_stack(endpoints)
    overrides = " ".join(f"{k}={v}" for k, v in deploy_parameters(endpoints).items())
    sam(
        [
            "deploy",
            "--config-env",
            "local",
            "--stack-name",
            STACK_NAME,
            "--parameter-overrides",
            overrides,
            "--no-progressbar",
        ],
        env,
    )
    deployed = time.perf_counter()
    outputs = stack_outputs(endpoints)
    outputs["BuildSeconds"] = round(built - started, 2)
    outputs["DeploySeconds"] = round(deployed - built, 2)
    STACK_FILE.write_text(json.dumps(outputs, indent=2))
    log(f"built in {built - started:.1f} s, deployed in {deployed - built:.1f} s")
    for key, value in outputs.items():
        print(f"{key:28} {value}")
    return outputs


JWT_SECRET_FILE = STATE / "jwt-secret"
JWT_SECRET_PARAMETER = "/chronos/jwt-secret"


def local_jwt_secret() -> str:
    """The local deployment's HS256 secret: random, created once, kept in .local/ (mode 0600)."""
    import secrets

    if not JWT_SECRET_FILE.exists():
        JWT_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        JWT_SECRET_FILE.write_text(secrets.token_urlsafe(48))
        JWT_SECRET_FILE.chmod(0o600)
    return JWT_SECRET_FILE.read_text().strip()


def ensure_jwt_secret(endpoints: Endpoints) -> None:
    """Store the secret in LocalStack's SSM as a SecureString, as it would be in AWS."""
    local_client("ssm", endpoints.localstack_url).put_parameter(
        Name=JWT_SECRET_PARAMETER, Value=local_jwt_secret(), Type="SecureString", Overwrite=True
    )


def discard_broken_stack(endpoints: Endpoints) -> None:
    """LocalStack cannot update a stack whose last update rolled back: delete it first."""
    cfn = local_client("cloudformation", endpoints.localstack_url)
    try:
        status = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        return
    if status.endswith(("ROLLBACK_COMPLETE", "_FAILED")) or status == "REVIEW_IN_PROGRESS":
        log(f"stack {STACK_NAME} is {status}: deleting it before deploying")
        cfn.delete_stack(StackName=STACK_NAME)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["StackStatus"]
            except cfn.exceptions.ClientError:
                return  # gone
            if status == "DELETE_COMPLETE":
                return
            if status == "DELETE_FAILED":
                cfn.delete_stack(StackName=STACK_NAME)
            time.sleep(2)
        raise SystemExit(f"stack {STACK_NAME} could not be deleted (status {status})")


def local_client(service: str, url: str, **options: Any) -> Any:
    """A boto3 client for the LocalStack at ``url`` (dummy credentials); ``options`` go to
    ``boto3.client`` (e.g. ``config``)."""
    import boto3  # the project venv has it; imported here so up/down stay stdlib-only

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        **options,
    )


def stack_outputs(endpoints: Endpoints) -> dict[str, Any]:
    """Stack outputs with AWS-shaped URLs rewritten to the local gateway."""
    cfn = local_client("cloudformation", endpoints.localstack_url)
    stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    outputs: dict[str, Any] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    outputs["ApiUrl"] = (
        f"{endpoints.localstack_url}/_aws/execute-api/{outputs['ApiId']}/{outputs['StageName']}"
    )
    for key, value in list(outputs.items()):
        if isinstance(value, str) and ".localhost.localstack.cloud" in value and value.startswith("http"):
            path = value.split(".localhost.localstack.cloud", 1)[1].split("/", 1)[1]
            outputs[key] = f"{endpoints.localstack_url}/{path}"
    outputs["DashboardUrl"] = f"{outputs['ApiUrl']}/ui/"
    outputs["DevIdpUrl"] = dev_idp_url()
    outputs["LocalStackUrl"] = endpoints.localstack_url
    outputs["MongoDbUri"] = endpoints.mongodb_uri
    outputs["MongoDbDatabase"] = DATABASE
    outputs["SthUrl"] = endpoints.sth_url
    outputs["OrionUrl"] = endpoints.orion_url
    outputs["IotAgentUrl"] = endpoints.iot_agent_url
    # Which of them are real FIWARE (no /_sandbox control API there) and which the sandbox serves.
    outputs["FiwareExternal"] = list(endpoints.external)
    outputs["FiwareSandbox"] = list(endpoints.sandbox_components)
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "deploy", "status", "install-localstack"])
    args = parser.parse_args(argv)
    if args.command == "up":
        up()
        start_dev_idp()  # beside the services: the dashboard's and the CLI's sign-in
    elif args.command == "down":
        down()
        stop_dev_idp()
    elif args.command == "deploy":
        deploy()
    elif args.command == "install-localstack":
        localstack_ctl.ensure_installed(LOCALSTACK_STATE)
    else:
        return status()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
