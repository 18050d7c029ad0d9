"""Helpers the command modules share: API paths, job lookup, confirmations."""

from __future__ import annotations

from typing import Any

import typer

from chronos_cli.context import State
from chronos_cli.errors import CliError, ExitCode, UsageError


def jobs_path(model_id: str, job_id: str | None = None) -> str:
    return f"/models/{model_id}/training-jobs" + (f"/{job_id}" if job_id else "")


def latest_completed_job(st: State, model_id: str) -> str:
    """The newest completed job of the model (what ``predict`` and ``forecasts`` use by default)."""
    skip = 0
    while True:
        page = st.client.get(jobs_path(model_id), skip=skip, limit=100)
        for job in page.get("items", []):
            if job.get("status") == "completed":
                return str(job["id"])
        skip += len(page.get("items", []))
        if not page.get("items") or skip >= int(page.get("total", 0)):
            raise CliError(
                f"Model {model_id} has no completed training job",
                ExitCode.NOT_FOUND,
                hints=[f"Train it with `chronos train start {model_id} --follow`"],
            )


def job_or_latest(st: State, model_id: str, job_id: str | None) -> str:
    if job_id:
        return job_id
    found = latest_completed_job(st, model_id)
    st.out.debug(f"using the newest completed job {found}")
    return found


def confirm(st: State, question: str, yes: bool) -> None:
    """Go on when ``--yes`` was given or the user agrees; without a terminal ``--yes`` is needed."""
    if yes:
        return
    if not st.out.interactive:
        raise UsageError(f"{question} Pass --yes to confirm without a terminal")
    if not typer.confirm(question, default=False, err=True):
        raise CliError("Aborted", ExitCode.ERROR)


def get_in(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
