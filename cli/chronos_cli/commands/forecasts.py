"""``chronos forecasts``: recurring forecasts published into Orion, and their history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chronos_cli.commands.common import job_or_latest, jobs_path
from chronos_cli.context import command, state
from chronos_cli.output import Table

app = typer.Typer(
    help="Recurring forecasts of a trained job: enable, disable, history.", no_args_is_help=True
)

ModelArg = Annotated[str, typer.Argument(help="Model id.")]
JobArg = Annotated[str | None, typer.Argument(help="Training job id (default: the newest completed one).")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="forecasts")


def toggle_table(result: dict[str, Any]) -> Table:
    return Table(["field", "value"], [[k, v] for k, v in result.items()], title="Recurring forecasts")


def _toggle(model_id: str, job_id: str | None, body: dict[str, Any]) -> None:
    st = state()
    job_id = job_or_latest(st, model_id, job_id)
    result = st.client.post(f"{jobs_path(model_id, job_id)}/prediction-toggle", body)
    st.out.result(result, toggle_table(result))


@app.command("enable")
@command
def enable(
    model_id: ModelArg,
    job_id: JobArg = None,
    interval_seconds: Annotated[
        int | None,
        typer.Option(help="Seconds between forecasts (default: the training data's interval, at least 60)."),
    ] = None,
) -> None:
    """Publish a forecast into Orion on every slot of the grid (operator)."""
    body: dict[str, Any] = {"enabled": True}
    if interval_seconds is not None:
        body["interval_seconds"] = interval_seconds
    _toggle(model_id, job_id, body)


@app.command("disable")
@command
def disable(model_id: ModelArg, job_id: JobArg = None) -> None:
    """Stop the recurring forecasts (operator); the forecast entity stays until the job is deleted."""
    _toggle(model_id, job_id, {"enabled": False})


@app.command("history")
@command
def history(
    model_id: ModelArg,
    job_id: JobArg = None,
    skip: Annotated[int, typer.Option(min=0, help="Forecasts to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Forecasts to list.")] = 20,
) -> None:
    """Published forecasts read back from STH-Comet, newest first."""
    st = state()
    job_id = job_or_latest(st, model_id, job_id)
    page = st.client.get(f"{jobs_path(model_id, job_id)}/predictions/history", skip=skip, limit=limit)
    rows = []
    for item in page.get("items", []):
        points = item.get("points") or []
        first = points[0] if points else {}
        rows.append(
            [
                item.get("generated_at"),
                item.get("horizon"),
                len(points),
                first.get("targetTimestamp", first.get("target_timestamp")),
                first.get("value"),
            ]
        )
    st.out.result(
        page,
        Table(
            ["generated_at", "horizon", "points", "first target", "first value"],
            rows,
            title=f"Forecasts published to {page.get('entity_id')}",
            footer=[f"{len(rows)} of {page.get('total')} forecast(s)"],
        ),
    )
