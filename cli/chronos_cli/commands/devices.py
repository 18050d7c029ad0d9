"""``chronos devices``: what the IoT Agent knows, to choose what to forecast."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chronos_cli.context import State, command, state
from chronos_cli.errors import UsageError
from chronos_cli.output import Table

app = typer.Typer(help="IoT Agent devices of a FIWARE service.", no_args_is_help=True)

ServiceOption = Annotated[
    str | None, typer.Option("--service", "-s", help="FIWARE service (default: the profile's tenant).")
]
ServicePathOption = Annotated[
    str | None, typer.Option("--servicepath", help="FIWARE service path (default: the profile's, else /).")
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="devices")


def tenant_of(st: State, service: str | None, servicepath: str | None) -> tuple[str, str]:
    service = service or st.profile.tenant
    if not service:
        raise UsageError(
            "No FIWARE service given", hints=["Pass --service, or run `chronos config set tenant <service>`"]
        )
    return service, servicepath or st.profile.servicepath or "/"


def fetch_devices(st: State, service: str, servicepath: str) -> dict[str, Any]:
    body: dict[str, Any] = st.client.get("/devices/", service=service, servicepath=servicepath)
    return body


@app.command("list")
@command
def list_(service: ServiceOption = None, servicepath: ServicePathOption = None) -> None:
    """Devices of the service grouped by entity type, with their measured attributes (GET /devices/)."""
    st = state()
    service, servicepath = tenant_of(st, service, servicepath)
    body = fetch_devices(st, service, servicepath)
    rows = [
        [
            group["entity_type"],
            entity["entity_name"],
            entity["device_id"],
            [a["name"] for a in entity["attributes"]],
        ]
        for group in body.get("devices", [])
        for entity in group.get("entities", [])
    ]
    st.out.result(
        body,
        Table(
            ["entity_type", "entity_id", "device_id", "attributes"],
            rows,
            title=f"{body.get('total', len(rows))} device(s) of {service}{servicepath}",
        ),
    )
