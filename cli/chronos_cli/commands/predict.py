"""``chronos predict``: an on-demand forecast with its 80 % and 95 % bounds."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

import typer

from chronos_cli.commands.common import job_or_latest, jobs_path
from chronos_cli.context import command, state
from chronos_cli.output import Table
from chronos_cli.plot import forecast_chart

COLUMNS = ["step", "target_timestamp", "value", "lower 95 %", "lower 80 %", "upper 80 %", "upper 95 %"]


def register(root: typer.Typer) -> None:
    root.command("predict")(predict)


def forecast_rows(prediction: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            p["step"],
            p["target_timestamp"],
            p["value"],
            (p.get("lower") or {}).get("95"),
            (p.get("lower") or {}).get("80"),
            (p.get("upper") or {}).get("80"),
            (p.get("upper") or {}).get("95"),
        ]
        for p in prediction.get("forecast", [])
    ]


@command
def predict(
    model_id: Annotated[str, typer.Argument(help="Model id.")],
    job_id: Annotated[
        str | None, typer.Argument(help="Training job id (default: the newest completed one).")
    ] = None,
    plot: Annotated[
        bool, typer.Option("--plot", help="Also draw context, forecast and bands in the terminal.")
    ] = False,
    context_points: Annotated[int, typer.Option(min=1, help="Context points shown on the chart.")] = 96,
) -> None:
    """Forecast now from the latest readings (POST .../predict, operator); publishes nothing."""
    st = state()
    job_id = job_or_latest(st, model_id, job_id)
    prediction = st.client.post(f"{jobs_path(model_id, job_id)}/predict", retry=True)
    quality = prediction.get("quality") or {}
    title = (
        f"Forecast of model {model_id} (job {job_id}): serving {prediction.get('serving')}, "
        f"quality {quality.get('status')}, last observation {prediction.get('last_observation')}"
    )
    footer = [f"quality: {quality['reason']}"] if quality.get("reason") else []
    st.out.result(prediction, Table(COLUMNS, forecast_rows(prediction), title=title, footer=footer))
    if plot:
        stream = st.out.stdout if st.out.format == "table" else st.out.stderr
        terminal = stream.isatty()
        width = shutil.get_terminal_size((100, 25)).columns if terminal else 100
        chart = forecast_chart(
            prediction, width=min(width, 160), context_points=context_points, color=terminal
        )
        stream.write(chart + "\n")
        stream.flush()
