"""``chronos jobs``: the training jobs of a model (``/models/{id}/training-jobs``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chronos_cli.commands.common import confirm, get_in, jobs_path
from chronos_cli.context import command, state
from chronos_cli.output import Table

app = typer.Typer(help="Training jobs: list, show, cancel, retry, delete.", no_args_is_help=True)

ModelArg = Annotated[str, typer.Argument(help="Model id.")]
JobArg = Annotated[str, typer.Argument(help="Training job id.")]

JOB_COLUMNS = ["id", "status", "phase", "percent", "serving", "test MAE", "created_at", "duration s"]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="jobs")


def job_row(job: dict[str, Any]) -> list[Any]:
    return [
        job["id"],
        job["status"],
        job.get("phase"),
        get_in(job, "progress", "percent"),
        job.get("serving"),
        get_in(job, "metrics", "test", "mae"),
        job.get("created_at"),
        job.get("duration_seconds"),
    ]


def job_table(job: dict[str, Any]) -> Table:
    """The fields of one job that people read; ``-o json`` has all of them."""
    p = job.get("progress") or {}
    metrics = job.get("metrics") or {}
    baselines = metrics.get("baselines") or {}
    error = job.get("error") or {}
    rows: list[list[Any]] = [
        ["id", job["id"]],
        ["model_id", job["model_id"]],
        ["status", job["status"]],
        ["phase", job.get("phase")],
        ["progress", f"{p.get('percent', 0)} %"],
        ["chunks", f"{p.get('chunks_done', 0)}/{p.get('chunks_total', 0)}"],
        ["points", f"{p.get('points_collected', 0)}/{p.get('points_expected', 0)}"],
        ["epoch", f"{p.get('epoch', 0)}/{p.get('epochs', 0)}"],
        ["loss / val_loss", f"{p.get('loss')} / {p.get('val_loss')}"],
        ["last_n", job.get("last_n")],
        ["serving", job.get("serving")],
    ]
    if metrics:
        rows += [
            ["test MAE (network)", get_in(metrics, "test", "mae")],
            ["test MAE (served)", get_in(metrics, "served", "mae")],
            ["test MAE (last value)", get_in(baselines, "last_value", "mae")],
            ["test MAE (seasonal naive)", get_in(baselines, "seasonal_naive", "mae")],
            ["season length", baselines.get("season_length")],
            ["test coverage", metrics.get("test_coverage")],
        ]
    if error:
        rows.append(["error", f"{error.get('error')} in {error.get('phase')}: {error.get('cause')}"])
    config = job.get("prediction_config") or {}
    rows += [
        ["forecasts enabled", config.get("enabled", False)],
        ["next_prediction_at", job.get("next_prediction_at")],
        ["last_forecast", get_in(job, "last_forecast", "status")],
        ["execution", get_in(job, "execution", "name")],
        ["created_at", job.get("created_at")],
        ["started_at", job.get("started_at")],
        ["ended_at", job.get("ended_at")],
        ["duration_seconds", job.get("duration_seconds")],
    ]
    return Table(["field", "value"], rows, title=f"Training job {job['id']}")


@app.command("list")
@command
def list_(
    model_id: ModelArg,
    skip: Annotated[int, typer.Option(min=0, help="Jobs to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Jobs to list.")] = 100,
) -> None:
    """The model's training jobs, newest first."""
    st = state()
    page = st.client.get(jobs_path(model_id), skip=skip, limit=limit)
    rows = [job_row(j) for j in page["items"]]
    st.out.result(page, Table(JOB_COLUMNS, rows, footer=[f"{len(rows)} of {page['total']} job(s)"]))


@app.command("show")
@command
def show(model_id: ModelArg, job_id: JobArg) -> None:
    """One job: status, progress, metrics, error, forecasts (`-o json` adds epoch history and more)."""
    st = state()
    job = st.client.get(jobs_path(model_id, job_id))
    st.out.result(job, job_table(job))


@app.command("cancel")
@command
def cancel(model_id: ModelArg, job_id: JobArg) -> None:
    """Stop a running job (operator; exit 7 once it has finished)."""
    st = state()
    job = st.client.post(f"{jobs_path(model_id, job_id)}/cancel")
    st.out.result(job, job_table(job))


@app.command("retry")
@command
def retry(
    model_id: ModelArg,
    job_id: JobArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow the retried job to its end.")
    ] = False,
) -> None:
    """Resume a failed job from its checkpoints (operator)."""
    from chronos_cli.commands.train import finish

    st = state()
    job = st.client.post(f"{jobs_path(model_id, job_id)}/retry")
    if follow:
        finish(st, model_id, job)
        return
    st.out.result(job, job_table(job))


@app.command("delete")
@command
def delete(
    model_id: ModelArg,
    job_id: JobArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a finished job with its artifacts, checkpoints and FIWARE resources (operator)."""
    st = state()
    confirm(st, f"Delete training job {job_id}?", yes)
    st.client.delete(jobs_path(model_id, job_id))
    st.out.result({"deleted": True, "model_id": model_id, "job_id": job_id})
