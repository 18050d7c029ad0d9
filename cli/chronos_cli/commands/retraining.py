"""``chronos retraining`` (a model's retraining policy and its runs) and ``chronos retrain``
(a manual trigger): ``/models/{id}/retraining-policy``, ``/retraining-runs``, ``/retrain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from chronos_cli.commands.common import confirm
from chronos_cli.context import command, state
from chronos_cli.errors import UsageError
from chronos_cli.output import Table

app = typer.Typer(
    help="Retraining policies: show (with the next fire times), set, delete, runs.", no_args_is_help=True
)

ModelArg = Annotated[str, typer.Argument(help="Model id.")]

RUN_COLUMNS = ["at", "kind", "fire_time", "rule_id / user", "outcome", "job_id", "reason"]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="retraining")
    root.command("retrain")(retrain)


def policy_path(model_id: str) -> str:
    return f"/models/{model_id}/retraining-policy"


def run_row(run: dict[str, Any]) -> list[Any]:
    return [
        run.get("at"),
        run.get("kind"),
        run.get("fire_time"),
        run.get("rule_id") or run.get("user"),
        run.get("outcome"),
        run.get("job_id"),
        run.get("outcome_reason") or run.get("reason"),
    ]


def policy_table(view: dict[str, Any]) -> Table:
    """The policy's fields, its schedule in words and the next fire times (zone and UTC)."""
    policy = view.get("policy") or {}
    schedule = policy.get("schedule") or {}
    window = policy.get("window") or {}
    rows: list[list[Any]] = [
        ["model_id", view.get("model_id")],
        ["enabled", policy.get("enabled")],
        ["schedule", view.get("description") or "none (rules and users only)"],
        ["cron", schedule.get("cron")],
        ["timezone", schedule.get("timezone")],
        ["rate", schedule.get("rate")],
        ["window", f"last {window['last_n']} points" if window.get("last_n") else window.get("duration")],
        ["min_new_points", policy.get("min_new_points")],
        ["cooldown", policy.get("cooldown")],
        ["max_per_day", policy.get("max_per_day")],
        ["promotion_margin", policy.get("promotion_margin")],
        ["trigger_rules", policy.get("trigger_rules")],
        ["warm_start", policy.get("warm_start")],
    ]
    for k, fire in enumerate(view.get("next_fire_times") or [], start=1):
        rows.append([f"next fire {k}", f"{fire.get('local')}  ({fire.get('utc')} UTC)"])
    rows += [["DST", note] for note in view.get("dst_notes") or []]
    return Table(["field", "value"], rows, title=f"Retraining policy of model {view.get('model_id')}")


def policy_body(
    file: Path | None,
    *,
    cron: str | None,
    timezone: str | None,
    rate: str | None,
    start: str | None,
    end: str | None,
    last_n: int | None,
    duration: str | None,
    min_new_points: int | None,
    cooldown: str | None,
    max_per_day: int | None,
    margin: float | None,
    trigger_rules: list[str] | None,
    warm_start: bool | None,
    enabled: bool | None,
) -> dict[str, Any]:
    """The body of ``PUT``: the ``--file`` JSON (when given) with the flags given on top. The
    API validates it (a 422 names the field)."""
    body: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"--file {file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--file {file}: a JSON object is expected (the policy)")
        body = loaded
    schedule = dict(body.get("schedule") or {})
    for key, value in (
        ("cron", cron),
        ("timezone", timezone),
        ("rate", rate),
        ("start", start),
        ("end", end),
    ):
        if value is not None:
            schedule[key] = value
    if schedule:
        body["schedule"] = schedule
    if last_n is not None and duration is not None:
        raise UsageError("Give --last-n or --duration, not both")
    if last_n is not None:
        body["window"] = {"last_n": last_n}
    elif duration is not None:
        body["window"] = {"duration": duration}
    for key, flag in (
        ("min_new_points", min_new_points),
        ("cooldown", cooldown),
        ("max_per_day", max_per_day),
        ("promotion_margin", margin),
        ("warm_start", warm_start),
        ("enabled", enabled),
    ):
        if flag is not None:
            body[key] = flag
    if trigger_rules:
        body["trigger_rules"] = trigger_rules
    return body


@app.command("show")
@command
def show(model_id: ModelArg) -> None:
    """The model's policy, its schedule in words and the next five fire times."""
    st = state()
    view = st.client.get(policy_path(model_id))
    st.out.result(view, policy_table(view))


@app.command("set")
@command
def set_(
    model_id: ModelArg,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The policy as JSON (flags given override it).")
    ] = None,
    cron: Annotated[str | None, typer.Option(help="Five-field cron, e.g. '0 3 * * *'.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone the cron is read in.")] = None,
    rate: Annotated[str | None, typer.Option(help="A fixed rate: 'rate(6 hours)' or PT6H.")] = None,
    start: Annotated[str | None, typer.Option(help="No fire time before (ISO-8601).")] = None,
    end: Annotated[str | None, typer.Option(help="No fire time after (ISO-8601).")] = None,
    last_n: Annotated[int | None, typer.Option(min=1, help="Train on the last N points.")] = None,
    duration: Annotated[str | None, typer.Option(help="Train on the last duration, e.g. P90D.")] = None,
    min_new_points: Annotated[
        int | None, typer.Option(min=0, help="Skip while fewer new points arrived.")
    ] = None,
    cooldown: Annotated[str | None, typer.Option(help="Since the last start, e.g. PT6H.")] = None,
    max_per_day: Annotated[int | None, typer.Option(min=1, help="Trainings started per day.")] = None,
    margin: Annotated[
        float | None, typer.Option("--margin", help="Promotion margin (0.05: 5 % better).")
    ] = None,
    trigger_rule: Annotated[
        list[str] | None,
        typer.Option("--trigger-rule", help="Alert rule id that retrains (repeat; '*': any)."),
    ] = None,
    warm_start: Annotated[
        bool | None, typer.Option("--warm-start/--cold-start", help="Start from the champion's weights.")
    ] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", help="Enable the policy.")] = None,
) -> None:
    """Create or replace the policy (operator); prints it with the next fire times. Fields not
    given take the API's defaults (the policy is replaced, not patched)."""
    body = policy_body(
        file,
        cron=cron,
        timezone=timezone,
        rate=rate,
        start=start,
        end=end,
        last_n=last_n,
        duration=duration,
        min_new_points=min_new_points,
        cooldown=cooldown,
        max_per_day=max_per_day,
        margin=margin,
        trigger_rules=trigger_rule,
        warm_start=warm_start,
        enabled=enabled,
    )
    st = state()
    view = st.client.put(policy_path(model_id), body)
    st.out.result(view, policy_table(view))


@app.command("delete")
@command
def delete(
    model_id: ModelArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the policy (operator): cron and rule retraining stop; `chronos retrain` still works."""
    st = state()
    confirm(st, f"Delete the retraining policy of model {model_id}?", yes)
    st.client.delete(policy_path(model_id))
    st.out.result({"deleted": True, "model_id": model_id})


@app.command("runs")
@command
def runs(
    model_id: ModelArg,
    skip: Annotated[int, typer.Option(min=0, help="Runs to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Runs to list.")] = 20,
) -> None:
    """Every trigger and what came of it: started, queued, attached or skipped (with the reason)."""
    st = state()
    page = st.client.get(f"/models/{model_id}/retraining-runs", skip=skip, limit=limit)
    rows = [run_row(r) for r in page.get("items", [])]
    st.out.result(page, Table(RUN_COLUMNS, rows, footer=[f"{len(rows)} of {page.get('total')} run(s)"]))


@command
def retrain(
    model_id: ModelArg,
    reason: Annotated[str | None, typer.Option(help="Why (recorded on the run and the job).")] = None,
) -> None:
    """Retrain the model now (operator): starts, waits in the training queue, or joins the
    training that runs; the policy's cooldown, cap and data minimum do not apply."""
    st = state()
    run = st.client.post(f"/models/{model_id}/retrain", {"reason": reason} if reason else None)
    st.out.result(
        run,
        Table(
            ["field", "value"],
            [
                ["outcome", run.get("outcome")],
                ["job_id", run.get("job_id")],
                ["reason", run.get("outcome_reason") or run.get("reason")],
            ],
            title=f"Retraining of model {model_id}",
        ),
    )
