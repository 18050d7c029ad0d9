"""``chronos train``: start a training and follow it with a live progress bar."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chronos_cli.commands.common import jobs_path
from chronos_cli.commands.jobs import job_table
from chronos_cli.context import State, command, state
from chronos_cli.errors import ExitCode
from chronos_cli.progress import OnInterrupt, exit_code_of, follow

app = typer.Typer(help="Train a model and follow its training job.", no_args_is_help=True)

PollOption = Annotated[float, typer.Option("--poll-interval", min=0.2, help="Seconds between status reads.")]
InterruptOption = Annotated[
    OnInterrupt,
    typer.Option(
        "--on-interrupt", help="On Ctrl-C: ask (on a terminal) whether to cancel, cancel, or detach."
    ),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="train")


def finish(
    st: State,
    model_id: str,
    job: dict[str, Any],
    poll_seconds: float = 2.0,
    on_interrupt: OnInterrupt = OnInterrupt.ask,
) -> None:
    """Follow ``job`` to its end, print it, and exit with how it ended (0, 10 failed, 11 cancelled)."""
    done = follow(
        st.client, st.out, model_id, job, poll_seconds=poll_seconds, on_interrupt=on_interrupt, sleep=st.sleep
    )
    st.out.result(done, job_table(done))
    code = exit_code_of(done)
    if code == ExitCode.TRAINING_FAILED:
        error = done.get("error") or {}
        st.out.info(f"Training failed in {error.get('phase')}: {error.get('error')}: {error.get('cause')}")
        st.out.info(f"Retry it with `chronos jobs retry {model_id} {done['id']} --follow`")
    elif code == ExitCode.OK:
        st.out.info(f"Training completed; forecast with `chronos predict {model_id} {done['id']}`")
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


@app.command("start")
@command
def start(
    model_id: Annotated[str, typer.Argument(help="Model id.")],
    last_n: Annotated[
        int | None,
        typer.Option(min=1, help="Train on the most recent N points (default: every stored point)."),
    ] = None,
    follow_: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Show live progress until the job ends; the exit code says how."),
    ] = False,
    poll_interval: PollOption = 2.0,
    on_interrupt: InterruptOption = OnInterrupt.ask,
) -> None:
    """Start a training run (POST /models/{id}/training-jobs, operator).

    With --follow: exit 0 when it completed, 10 when it failed, 11 when it was cancelled,
    130 when you detached with Ctrl-C (the job keeps running).
    """
    st = state()
    body = {"last_n": last_n} if last_n is not None else {}
    job = st.client.post(jobs_path(model_id), body)
    st.out.info(f"Training job {job['id']} accepted (execution {(job.get('execution') or {}).get('name')})")
    if follow_:
        finish(st, model_id, job, poll_interval, on_interrupt)
        return
    st.out.result(job, job_table(job))


@app.command("follow")
@command
def follow_job(
    model_id: Annotated[str, typer.Argument(help="Model id.")],
    job_id: Annotated[str, typer.Argument(help="Training job id.")],
    poll_interval: PollOption = 2.0,
    on_interrupt: InterruptOption = OnInterrupt.ask,
) -> None:
    """Follow a running job (same progress and exit codes as `train start --follow`)."""
    st = state()
    job = st.client.get(jobs_path(model_id, job_id))
    finish(st, model_id, job, poll_interval, on_interrupt)
