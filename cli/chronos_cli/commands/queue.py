"""``chronos queue``: the training queue (``GET /training-queue``): the limits, the trainings
holding slots and those waiting, with their positions and estimated waits."""

from __future__ import annotations

from typing import Any

import typer

from chronos_cli.context import command, state
from chronos_cli.output import Table

COLUMNS = [
    "position",
    "training_job_id",
    "model_id",
    "tenant",
    "status",
    "blocked_by",
    "est. wait s",
    "since",
]


def register(root: typer.Typer) -> None:
    root.command("queue")(queue)


def limit_text(value: Any) -> str:
    return "no limit" if not value else str(value)


def queue_rows(snapshot: dict[str, Any]) -> list[list[Any]]:
    """Running trainings first (no position), then the waiting ones in order."""
    rows: list[list[Any]] = [
        ["running", r.get("training_job_id"), r.get("model_id"), r.get("fiware_service"), r.get("status"),
         None, None, r.get("started_at")]
        for r in snapshot.get("running") or []
    ]  # fmt: skip
    waits = sorted(snapshot.get("waiting") or [], key=lambda w: w.get("position") or 0)
    rows += [
        [w.get("position"), w.get("training_job_id"), w.get("model_id"), w.get("fiware_service"), "queued",
         w.get("blocked_by"), w.get("estimated_wait_seconds"), w.get("enqueued_at")]
        for w in waits
    ]  # fmt: skip
    return rows


@command
def queue() -> None:
    """The training queue: trainings running and waiting (position, why, estimated wait)."""
    st = state()
    snapshot = st.client.get("/training-queue")
    typical = snapshot.get("typical_duration_seconds")
    st.out.result(
        snapshot,
        Table(
            COLUMNS,
            queue_rows(snapshot),
            title="Training queue",
            footer=[
                f"limits: {limit_text(snapshot.get('global_limit'))} at once, "
                f"{limit_text(snapshot.get('tenant_limit'))} per tenant; "
                f"{len(snapshot.get('running') or [])} running, {len(snapshot.get('waiting') or [])} waiting"
                + (f"; a training takes about {typical:.0f} s" if isinstance(typical, int | float) else "")
            ],
        ),
    )
