"""``chronos health`` and ``chronos info``."""

from __future__ import annotations

import typer

from chronos_cli.context import command, state
from chronos_cli.errors import CliError, ExitCode
from chronos_cli.output import Table


def register(root: typer.Typer) -> None:
    root.command("health")(health)
    root.command("info")(info)


@command
def health() -> None:
    """Probe the API's dependencies (GET /health, no token needed); exit 8 when unhealthy."""
    st = state()
    status, body = st.client.probe("/health")
    if not isinstance(body, dict) or "dependencies" not in body:
        raise CliError(f"GET /health answered {status} without a health report", ExitCode.UNAVAILABLE)
    rows = [
        [d.get("name"), d.get("status"), d.get("required"), d.get("latency_ms"), d.get("message")]
        for d in body.get("dependencies", [])
    ]
    st.out.result(
        body,
        Table(
            ["dependency", "status", "required", "latency ms", "message"],
            rows,
            title=f"status {body.get('status')}",
        ),
    )
    if status != 200:
        raise typer.Exit(int(ExitCode.UNAVAILABLE))


@command
def info() -> None:
    """Version, uptime and configuration summary of the API (GET /info)."""
    st = state()
    body = st.client.get("/info")
    rows = [[k, v] for k, v in body.items() if k != "configuration"]
    rows += [[f"configuration.{k}", v] for k, v in (body.get("configuration") or {}).items()]
    st.out.result(body, Table(["field", "value"], rows))
