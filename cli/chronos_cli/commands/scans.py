"""``chronos scans``: the anomaly scans of a model (``/models/{id}/anomaly-scans``).

``start`` admits a scan (``--last-n`` or ``--from``/``--to``; ``--fdr`` or ``--sensitivity``) and,
with ``--follow``, shows its live progress: chunks scored, points scored, anomalies the chunks
flagged so far and the API's ETA (a Rich bar on a terminal, one plain line per change
elsewhere, e.g. ``running   50.0%  chunks 4/8  points 50000/100000  anomalies 3  ETA 0:00:05``).
``list``, ``show``, ``cancel``, ``retry``, ``events`` and ``quality`` read and steer scans.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from chronos_cli.client import ApiClient
from chronos_cli.commands.common import get_in
from chronos_cli.context import State, command, state
from chronos_cli.errors import ExitCode, UsageError
from chronos_cli.output import Output, Table
from chronos_cli.progress import Followed, OnInterrupt, follow_until_finished, format_eta

app = typer.Typer(
    help="Anomaly scans: start (and follow), list, show, cancel, retry, events, data quality.",
    no_args_is_help=True,
)

ModelArg = Annotated[str, typer.Argument(help="Model id.")]
ScanArg = Annotated[str, typer.Argument(help="Anomaly scan id.")]
PollOption = Annotated[float, typer.Option("--poll-interval", min=0.2, help="Seconds between status reads.")]
InterruptOption = Annotated[
    OnInterrupt,
    typer.Option(
        "--on-interrupt", help="On Ctrl-C: ask (on a terminal) whether to cancel, cancel, or detach."
    ),
]

#: Statuses after which a scan no longer changes.
FINISHED = frozenset({"completed", "completed_with_failures", "failed", "cancelled"})

SCAN_COLUMNS = [
    "id",
    "status",
    "phase",
    "percent",
    "chunks",
    "points scored",
    "anomalies",
    "events",
    "created_at",
]
EVENT_COLUMNS = [
    "#",
    "start",
    "end",
    "peak_time",
    "peak_value",
    "expected",
    "severity",
    "level",
    "points",
    "direction",
]
QUALITY_COLUMNS = ["kind", "start", "end", "points", "detail"]


class Sensitivity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="scans")


def scans_path(model_id: str, scan_id: str | None = None) -> str:
    return f"/models/{model_id}/anomaly-scans" + (f"/{scan_id}" if scan_id else "")


# ----------------------------------------------------------------------------- formatting


def chunks_text(scan: dict[str, Any]) -> str:
    p = scan.get("progress") or {}
    text = f"{p.get('chunks_done', 0)}/{p.get('chunks_total', 0)}"
    return text + (f" ({p['chunks_failed']} failed)" if p.get("chunks_failed") else "")


def anomalies(scan: dict[str, Any]) -> Any:
    """The final count once combined (the summary's flagged points), else the chunks' count so far."""
    flagged = get_in(scan, "summary", "flagged_points")
    return flagged if flagged is not None else get_in(scan, "progress", "anomalies_so_far")


def scan_row(scan: dict[str, Any]) -> list[Any]:
    return [
        scan["id"],
        scan["status"],
        scan.get("phase"),
        get_in(scan, "progress", "percent"),
        chunks_text(scan),
        get_in(scan, "progress", "points_scored"),
        anomalies(scan),
        get_in(scan, "summary", "events"),
        scan.get("created_at"),
    ]


def scan_table(scan: dict[str, Any]) -> Table:
    """The fields of one scan that people read; ``-o json`` has all of them."""
    p = scan.get("progress") or {}
    settings = scan.get("settings") or {}
    request = scan.get("request") or {}
    summary = scan.get("summary") or {}
    error = scan.get("error") or {}
    window = scan.get("window") or {}
    if request.get("last_n") is not None:
        asked = f"last {request['last_n']} points"
    else:
        asked = f"{request.get('date_from')} .. {request.get('date_to') or 'admission'}"
    rows: list[list[Any]] = [
        ["id", scan["id"]],
        ["model_id", scan.get("model_id")],
        ["job_id", scan.get("job_id")],
        ["status", scan["status"]],
        ["phase", scan.get("phase")],
        ["progress", f"{p.get('percent', 0)} %"],
        ["chunks", chunks_text(scan)],
        ["points scored", f"{p.get('points_scored', 0)}/{p.get('points_expected', 0)}"],
        ["anomalies so far", p.get("anomalies_so_far")],
        ["ETA", format_eta(p.get("eta_seconds")) if scan["status"] not in FINISHED else "-"],
        ["window asked", asked],
        ["window", f"{window.get('first')} .. {window.get('last')}" if window else None],
        ["false discovery rate", settings.get("false_discovery_rate")],
        ["min_event_points / merge_gap", f"{settings.get('min_event_points')} / {settings.get('merge_gap')}"],
    ]
    if summary:
        rows += [
            ["flagged points", summary.get("flagged_points")],
            ["p-value threshold", summary.get("p_value_threshold")],
            ["events", summary.get("events")],
            ["events by level", _pairs(summary.get("events_by_level"))],
            ["data-quality issues", _pairs(summary.get("quality_issues"))],
            ["published to Orion", summary.get("published")],
        ]
    for failed in scan.get("failed_chunks") or []:
        rows.append([f"failed chunk {failed.get('offset')}", f"{failed.get('error')}: {failed.get('cause')}"])
    if error:
        rows.append(["error", f"{error.get('error')} in {error.get('phase')}: {error.get('cause')}"])
    rows += [
        ["execution", get_in(scan, "execution", "name")],
        ["created_at", scan.get("created_at")],
        ["started_at", scan.get("started_at")],
        ["ended_at", scan.get("ended_at")],
        ["duration_seconds", scan.get("duration_seconds")],
    ]
    return Table(["field", "value"], rows, title=f"Anomaly scan {scan['id']}")


def _pairs(counts: Any) -> str | None:
    if not isinstance(counts, dict) or not counts:
        return None
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def detail(scan: dict[str, Any]) -> str:
    """Chunks, points scored and anomalies so far: what is known of the scan now."""
    p = scan.get("progress") or {}
    parts: list[str] = []
    if p.get("chunks_total"):
        parts.append(f"chunks {p.get('chunks_done', 0)}/{p['chunks_total']}")
        if p.get("chunks_failed"):
            parts.append(f"failed {p['chunks_failed']}")
    if p.get("points_expected") or p.get("points_scored"):
        parts.append(f"points {p.get('points_scored', 0)}/{p.get('points_expected', 0)}")
    found = anomalies(scan)
    if found is not None and (p.get("chunks_total") or scan.get("summary")):
        parts.append(f"anomalies {found}")
    return "  ".join(parts)


def plain_line(scan: dict[str, Any], with_eta: bool = True) -> str:
    percent = float(get_in(scan, "progress", "percent") or 0.0)
    line = f"{scan.get('status', '?'):<9} {percent:5.1f}%"
    if text := detail(scan):
        line += f"  {text}"
    if with_eta:
        eta = 0.0 if scan.get("status") in FINISHED else get_in(scan, "progress", "eta_seconds")
        line += f"  ETA {format_eta(eta)}"
    return line


# ----------------------------------------------------------------------------- following


class _Display:
    """A live bar on a terminal, one plain line per change elsewhere, nothing with ``--quiet``."""

    def __init__(self, out: Output, scan_id: str) -> None:
        self._out = out
        self._scan_id = scan_id
        self._last = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self) -> None:
        if self._out.quiet or not self._out.interactive:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.fields[status]:<9}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TextColumn("ETA {task.fields[eta]}"),
            console=self._out.err,
        )
        self._task = self._progress.add_task(
            self._scan_id, total=100, status="pending", detail="", eta="-:--:--"
        )
        self._progress.start()

    def update(self, scan: dict[str, Any]) -> None:
        if self._progress is not None and self._task is not None:
            eta = 0.0 if scan.get("status") in FINISHED else get_in(scan, "progress", "eta_seconds")
            self._progress.update(
                self._task,
                completed=float(get_in(scan, "progress", "percent") or 0.0),
                status=str(scan.get("status")),
                detail=detail(scan),
                eta=format_eta(eta),
            )
            return
        if self._out.quiet:
            return
        key = plain_line(scan, with_eta=False)
        if key != self._last:  # one line per change of the scan, not per poll
            self._last = key
            self._out.err.print(plain_line(scan), markup=False, highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def follow(
    client: ApiClient,
    out: Output,
    model_id: str,
    scan: dict[str, Any],
    *,
    poll_seconds: float = 2.0,
    on_interrupt: OnInterrupt = OnInterrupt.ask,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the scan until it has finished and return it. Ctrl-C cancels it (``cancel``, or
    ``ask`` answered yes; it is then followed until it stopped) or detaches (``Exit(130)``)."""
    followed = Followed(
        path=scans_path(model_id, str(scan["id"])),
        noun="scan",
        title="anomaly scan",
        again=f"chronos scans follow {model_id} {scan['id']}",
        finished=FINISHED,
    )
    return follow_until_finished(
        client,
        out,
        scan,
        followed,
        lambda scan_id: _Display(out, scan_id),
        poll_seconds=poll_seconds,
        on_interrupt=on_interrupt,
        sleep=sleep,
    )


def exit_code_of(scan: dict[str, Any]) -> ExitCode:
    """How the scan ended, as the exit code (the training's codes: 10 failed, 11 cancelled)."""
    return {
        "completed": ExitCode.OK,
        "completed_with_failures": ExitCode.OK,
        "failed": ExitCode.TRAINING_FAILED,
        "cancelled": ExitCode.TRAINING_CANCELLED,
    }.get(str(scan.get("status")), ExitCode.ERROR)


def finish(
    st: State,
    model_id: str,
    scan: dict[str, Any],
    poll_seconds: float = 2.0,
    on_interrupt: OnInterrupt = OnInterrupt.ask,
) -> None:
    """Follow ``scan`` to its end, print it, and exit with how it ended."""
    done = follow(
        st.client,
        st.out,
        model_id,
        scan,
        poll_seconds=poll_seconds,
        on_interrupt=on_interrupt,
        sleep=st.sleep,
    )
    st.out.result(done, scan_table(done))
    code = exit_code_of(done)
    if done.get("status") == "completed_with_failures":
        st.out.info(f"{len(done.get('failed_chunks') or [])} chunk(s) failed within the tolerated share")
    if code == ExitCode.TRAINING_FAILED:
        error = done.get("error") or {}
        st.out.info(f"Scan failed in {error.get('phase')}: {error.get('error')}: {error.get('cause')}")
        st.out.info(f"Resume it with `chronos scans retry {model_id} {done['id']} --follow`")
    elif code == ExitCode.OK:
        st.out.info(f"Events: `chronos scans events {model_id} {done['id']}`")
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


# ----------------------------------------------------------------------------- commands


def _instant(value: str | None, option: str) -> str | None:
    """An ISO-8601 instant passed on unchanged (the API reads it); a bad one is a usage error."""
    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} must be an ISO-8601 date or time, e.g. 2026-01-31T00:00:00Z") from None
    return value


def start_body(
    *,
    last_n: int | None,
    date_from: str | None,
    date_to: str | None,
    fdr: float | None,
    sensitivity: Sensitivity | None,
    job_id: str | None = None,
    min_event_points: int | None = None,
    merge_gap: int | None = None,
    horizon_steps: int | None = None,
    publish: bool | None = None,
) -> dict[str, Any]:
    """The body of ``POST .../anomaly-scans`` with only what was given; the window and the rate
    are checked here so that a wrong combination fails before any request."""
    if last_n is not None and (date_from or date_to):
        raise UsageError("Give either --last-n or --from/--to, not both")
    if last_n is None and not date_from:
        raise UsageError("Give the window: --last-n N, or --from DATE [--to DATE]")
    if date_to and not date_from:
        raise UsageError("--to needs --from")
    if fdr is not None and sensitivity is not None:
        raise UsageError("Give either --fdr or --sensitivity, not both")
    body: dict[str, Any] = {
        "last_n": last_n,
        "date_from": _instant(date_from, "--from"),
        "date_to": _instant(date_to, "--to"),
        "false_discovery_rate": fdr,
        "sensitivity": sensitivity.value if sensitivity is not None else None,
        "job_id": job_id,
        "min_event_points": min_event_points,
        "merge_gap": merge_gap,
        "horizon_steps": horizon_steps,
        "publish": publish,
    }
    return {k: v for k, v in body.items() if v is not None}


@app.command("start")
@command
def start(
    model_id: ModelArg,
    last_n: Annotated[
        int | None, typer.Option("--last-n", min=1, help="Scan the most recent N points.")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="Scan from this instant (ISO-8601; with --to, up to it).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Scan up to this instant, excluded (default: now).")
    ] = None,
    fdr: Annotated[
        float | None,
        typer.Option("--fdr", min=0.0001, max=0.5, help="Target false-discovery rate (default 0.05)."),
    ] = None,
    sensitivity: Annotated[
        Sensitivity | None,
        typer.Option("--sensitivity", help="low, medium or high: a false-discovery rate of 1 %, 5 %, 10 %."),
    ] = None,
    job_id: Annotated[
        str | None, typer.Option("--job", help="Training job whose forecaster scores (default: serving).")
    ] = None,
    min_event_points: Annotated[
        int | None, typer.Option(min=1, help="Flagged points an event needs at least.")
    ] = None,
    merge_gap: Annotated[
        int | None, typer.Option(min=0, help="Slots between flagged points still merged into one event.")
    ] = None,
    horizon_steps: Annotated[
        int | None, typer.Option(min=1, help="Forecast steps each point is scored from.")
    ] = None,
    publish: Annotated[
        bool | None,
        typer.Option("--publish/--no-publish", help="Upsert events into Orion as Anomaly entities."),
    ] = None,
    follow_: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Show live progress until the scan ends; the exit code says how."
        ),
    ] = False,
    poll_interval: PollOption = 2.0,
    on_interrupt: InterruptOption = OnInterrupt.ask,
) -> None:
    """Start an anomaly scan (POST /models/{id}/anomaly-scans, operator).

    With --follow: exit 0 when it completed (with or without tolerated chunk failures), 10 when
    it failed, 11 when it was cancelled, 130 when you detached with Ctrl-C (it keeps running).
    """
    body = start_body(
        last_n=last_n,
        date_from=date_from,
        date_to=date_to,
        fdr=fdr,
        sensitivity=sensitivity,
        job_id=job_id,
        min_event_points=min_event_points,
        merge_gap=merge_gap,
        horizon_steps=horizon_steps,
        publish=publish,
    )
    st = state()
    scan = st.client.post(scans_path(model_id), body)
    st.out.info(f"Anomaly scan {scan['id']} accepted (job {scan.get('job_id')})")
    if follow_:
        finish(st, model_id, scan, poll_interval, on_interrupt)
        return
    st.out.result(scan, scan_table(scan))


@app.command("follow")
@command
def follow_scan(
    model_id: ModelArg,
    scan_id: ScanArg,
    poll_interval: PollOption = 2.0,
    on_interrupt: InterruptOption = OnInterrupt.ask,
) -> None:
    """Follow a running scan (same progress and exit codes as `scans start --follow`)."""
    st = state()
    scan = st.client.get(scans_path(model_id, scan_id))
    finish(st, model_id, scan, poll_interval, on_interrupt)


@app.command("list")
@command
def list_(
    model_id: ModelArg,
    skip: Annotated[int, typer.Option(min=0, help="Scans to skip (newest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Scans to list.")] = 100,
) -> None:
    """The model's anomaly scans, newest first."""
    st = state()
    page = st.client.get(scans_path(model_id), skip=skip, limit=limit)
    rows = [scan_row(s) for s in page["items"]]
    st.out.result(page, Table(SCAN_COLUMNS, rows, footer=[f"{len(rows)} of {page['total']} scan(s)"]))


@app.command("show")
@command
def show(model_id: ModelArg, scan_id: ScanArg) -> None:
    """One scan: status, progress with ETA, settings, summary, failed chunks, error."""
    st = state()
    scan = st.client.get(scans_path(model_id, scan_id))
    st.out.result(scan, scan_table(scan))


@app.command("cancel")
@command
def cancel(model_id: ModelArg, scan_id: ScanArg) -> None:
    """Stop a running scan (operator; exit 7 once it has finished)."""
    st = state()
    scan = st.client.post(f"{scans_path(model_id, scan_id)}/cancel")
    st.out.result(scan, scan_table(scan))


@app.command("retry")
@command
def retry(
    model_id: ModelArg,
    scan_id: ScanArg,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow the retried scan to its end.")
    ] = False,
    poll_interval: PollOption = 2.0,
    on_interrupt: InterruptOption = OnInterrupt.ask,
) -> None:
    """Resume a failed or cancelled scan; chunks already scored are not scored again (operator)."""
    st = state()
    scan = st.client.post(f"{scans_path(model_id, scan_id)}/retry")
    if follow_:
        finish(st, model_id, scan, poll_interval, on_interrupt)
        return
    st.out.result(scan, scan_table(scan))


@app.command("events")
@command
def events(
    model_id: ModelArg,
    scan_id: ScanArg,
    skip: Annotated[int, typer.Option(min=0, help="Events to skip (oldest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Events to list.")] = 100,
) -> None:
    """The scan's value-anomaly events, oldest first (empty until it has combined)."""
    st = state()
    page = st.client.get(f"{scans_path(model_id, scan_id)}/events", skip=skip, limit=limit)
    rows = [
        [
            e.get("index"),
            e.get("start"),
            e.get("end"),
            e.get("peak_time"),
            e.get("peak_value"),
            e.get("expected"),
            e.get("severity"),
            e.get("level"),
            e.get("points"),
            e.get("direction"),
        ]
        for e in page["items"]
    ]
    st.out.result(page, Table(EVENT_COLUMNS, rows, footer=[f"{len(rows)} of {page['total']} event(s)"]))


@app.command("quality")
@command
def quality(
    model_id: ModelArg,
    scan_id: ScanArg,
    skip: Annotated[int, typer.Option(min=0, help="Issues to skip (oldest first).")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Issues to list.")] = 100,
) -> None:
    """The scan's data-quality issues: gaps, flat lines, duplicate and out-of-order timestamps."""
    st = state()
    page = st.client.get(f"{scans_path(model_id, scan_id)}/data-quality", skip=skip, limit=limit)
    rows = [
        [i.get("kind"), i.get("start"), i.get("end"), i.get("points"), _pairs(i.get("detail"))]
        for i in page["items"]
    ]
    st.out.result(page, Table(QUALITY_COLUMNS, rows, footer=[f"{len(rows)} of {page['total']} issue(s)"]))
