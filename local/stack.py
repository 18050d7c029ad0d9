"""The local Chronos stack: FerretDB, LocalStack (with our Lambda executor) and the FIWARE sandbox.

Usage (from the repository root, with the project virtualenv's python):
    python local/stack.py up        start everything (idempotent), wait for health, print endpoints
    python local/stack.py deploy    sam build + deploy template.yaml into LocalStack, print outputs
    python local/stack.py down      stop everything by PID, leaving no stray process
    python local/stack.py status    show what runs

Ports (override with environment variables): FerretDB ``CHRONOS_MONGO_PORT`` (27118), LocalStack
``CHRONOS_LOCALSTACK_PORT`` (4610), sandbox Orion/STH/IoT Agent ``CHRONOS_SANDBOX_ORION_PORT``
(11026), ``CHRONOS_SANDBOX_STH_PORT`` (18666), ``CHRONOS_SANDBOX_IOTA_PORT`` (14041). When
``MONGODB_URI`` is set, that server is used and FerretDB is not started.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

import localstack_ctl  # noqa: E402
import procs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"
LOGS = STATE / "logs"
RUN = STATE / "run"
STACK_FILE = STATE / "stack.json"
LOCALSTACK_STATE = Path(os.environ.get("CHRONOS_LOCALSTACK_STATE_DIR", str(STATE / "localstack")))
STACK_NAME = os.environ.get("CHRONOS_STACK_NAME", "chronos")
REGION = "us-east-1"
DATABASE = os.environ.get("CHRONOS_MONGODB_DATABASE", "chronos")


@dataclass(frozen=True)
class Endpoints:
    mongodb_uri: str
    localstack_url: str
    sth_url: str
    orion_url: str
    iot_agent_url: str

    @classmethod
    def from_env(cls) -> Endpoints:
        mongo_port = int(os.environ.get("CHRONOS_MONGO_PORT", "27118"))
        ls_port = int(os.environ.get("CHRONOS_LOCALSTACK_PORT", str(localstack_ctl.DEFAULT_PORT)))
        return cls(
            mongodb_uri=os.environ.get("MONGODB_URI") or f"mongodb://127.0.0.1:{mongo_port}/",
            localstack_url=f"http://127.0.0.1:{ls_port}",
            orion_url=f"http://127.0.0.1:{os.environ.get('CHRONOS_SANDBOX_ORION_PORT', '11026')}",
            sth_url=f"http://127.0.0.1:{os.environ.get('CHRONOS_SANDBOX_STH_PORT', '18666')}",
            iot_agent_url=f"http://127.0.0.1:{os.environ.get('CHRONOS_SANDBOX_IOTA_PORT', '14041')}",
        )

    @property
    def localstack_port(self) -> int:
        return int(self.localstack_url.rsplit(":", 1)[1])


def log(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def project_python() -> Path:
    return STATE / "venv" / "bin" / "python"


# --------------------------------------------------------------------------------------------- up


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
    procs.start(
        "ferretdb",
        [
            str(binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{port}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ],
        pid_file=pid_file,
        log_file=LOGS / "ferretdb.log",
    )
    procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=30, what="FerretDB")


def start_localstack(endpoints: Endpoints) -> None:
    localstack_ctl.start(endpoints.localstack_port, LOCALSTACK_STATE, project_python())


def sandbox_available() -> bool:
    return (ROOT / "local" / "fiware_sandbox" / "__main__.py").exists()


def start_sandbox(endpoints: Endpoints) -> None:
    if not sandbox_available():
        return
    pid_file = RUN / "fiware-sandbox.pid"
    ports = {name: int(url.rsplit(":", 1)[1]) for name, url in _fiware_urls(endpoints).items()}
    if procs.running(pid_file) and all(procs.port_open("127.0.0.1", p) for p in ports.values()):
        return
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'chronos_core'}{os.pathsep}{ROOT}"}
    procs.start(
        "fiware-sandbox",
        [
            str(project_python()),
            "-m",
            "local.fiware_sandbox",
            "serve",
            "--orion-port",
            str(ports["orion"]),
            "--sth-port",
            str(ports["sth"]),
            "--iota-port",
            str(ports["iota"]),
            "--mongodb-uri",
            endpoints.mongodb_uri,
        ],
        pid_file=pid_file,
        log_file=LOGS / "fiware-sandbox.log",
        env=env,
        cwd=ROOT,
    )
    procs.wait_until(
        lambda: all(procs.port_open("127.0.0.1", p) for p in ports.values()),
        timeout=30,
        what="FIWARE sandbox",
    )


def _fiware_urls(endpoints: Endpoints) -> dict[str, str]:
    return {"orion": endpoints.orion_url, "sth": endpoints.sth_url, "iota": endpoints.iot_agent_url}


def up() -> Endpoints:
    endpoints = Endpoints.from_env()
    RUN.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    start_ferretdb(endpoints)
    start_sandbox(endpoints)
    start_localstack(endpoints)
    elapsed = time.perf_counter() - started
    (STATE / "endpoints.json").write_text(json.dumps(asdict(endpoints), indent=2))
    log(f"services up in {elapsed:.1f} s")
    for name, value in asdict(endpoints).items():
        print(f"{name:16} {value}")
    return endpoints


# ------------------------------------------------------------------------------------------- down


def down() -> None:
    stopped = []
    if localstack_ctl.stop(LOCALSTACK_STATE):
        stopped.append("localstack")
    for name in ("fiware-sandbox", "ferretdb"):
        if procs.stop(RUN / f"{name}.pid"):
            stopped.append(name)
    log("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))


def status() -> int:
    endpoints = Endpoints.from_env()
    rows = {
        "ferretdb": procs.running(RUN / "ferretdb.pid"),
        "fiware-sandbox": procs.running(RUN / "fiware-sandbox.pid"),
        "localstack": localstack_ctl.running_pid(LOCALSTACK_STATE),
    }
    for name, pid in rows.items():
        print(f"{name:16} {'running pid ' + str(pid) if pid else 'stopped'}")
    print(json.dumps(asdict(endpoints), indent=2))
    return 0 if all(rows.values()) else 1


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


def deploy_parameters(endpoints: Endpoints) -> dict[str, str]:
    return {
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
    }


def deploy() -> dict[str, Any]:
    endpoints = Endpoints.from_env()
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
    outputs["LocalStackUrl"] = endpoints.localstack_url
    outputs["MongoDbUri"] = endpoints.mongodb_uri
    outputs["MongoDbDatabase"] = DATABASE
    outputs["SthUrl"] = endpoints.sth_url
    outputs["OrionUrl"] = endpoints.orion_url
    outputs["IotAgentUrl"] = endpoints.iot_agent_url
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "deploy", "status", "install-localstack"])
    args = parser.parse_args(argv)
    if args.command == "up":
        up()
    elif args.command == "down":
        down()
    elif args.command == "deploy":
        deploy()
    elif args.command == "install-localstack":
        localstack_ctl.ensure_installed(LOCALSTACK_STATE)
    else:
        return status()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
