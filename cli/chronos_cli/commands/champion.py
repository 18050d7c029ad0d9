"""``chronos champion``: the job a model serves, pinning one and rolling back
(``/models/{id}/champion``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chronos_cli.context import command, state
from chronos_cli.output import Table

app = typer.Typer(help="A model's champion: show, pin, rollback.", no_args_is_help=True)

ModelArg = Annotated[str, typer.Argument(help="Model id.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="champion")


def champion_table(view: dict[str, Any]) -> Table:
    """The champion, then the challengers the gate kept out with their reasons."""
    rows: list[list[Any]] = []
    champion = view.get("champion")
    if champion:
        note = "pinned" if view.get("pinned") else ""
        rows.append(
            ["champion", champion.get("training_job_id"), champion.get("model_version"),
             champion.get("serving"), champion.get("test_mae"), note]
        )  # fmt: skip
    for job in view.get("challengers") or []:
        reason = (job.get("promotion") or {}).get("reason")
        rows.append(
            ["challenger", job.get("training_job_id"), job.get("model_version"), job.get("serving"),
             job.get("test_mae"), reason]
        )  # fmt: skip
    previous = view.get("previous_champions") or []
    return Table(
        ["role", "training_job_id", "version", "serving", "test MAE", "note"],
        rows,
        title=f"Champion of model {view.get('model_id')}",
        footer=[f"previous champions: {', '.join(previous) if previous else 'none'}"],
    )


@app.command("show")
@command
def show(model_id: ModelArg) -> None:
    """The serving job, whether it is pinned, earlier champions and the kept challengers."""
    st = state()
    view = st.client.get(f"/models/{model_id}/champion")
    st.out.result(view, champion_table(view))


@app.command("pin")
@command
def pin(
    model_id: ModelArg,
    job_id: Annotated[str, typer.Argument(help="A completed training job of the model.")],
    unpin: Annotated[
        bool, typer.Option("--unpin", help="Serve it without pinning (a better challenger may replace it).")
    ] = False,
) -> None:
    """Serve JOB_ID (operator), pinned: no challenger replaces it until unpinned."""
    st = state()
    view = st.client.put(f"/models/{model_id}/champion", {"training_job_id": job_id, "pinned": not unpin})
    st.out.result(view, champion_table(view))


@app.command("rollback")
@command
def rollback(model_id: ModelArg) -> None:
    """Serve the previous champion again (operator; exit 7 when there is none)."""
    st = state()
    view = st.client.post(f"/models/{model_id}/champion/rollback")
    st.out.result(view, champion_table(view))
