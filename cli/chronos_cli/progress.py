"""Following a training job: a live Rich progress bar on a terminal, plain lines elsewhere.

The job's own progress fields drive the display: ``status`` and ``phase``, ``progress`` (chunks,
points, epoch/epochs, loss, val_loss, percent, training_phase) and the phase timings for the
ETA. On a non-terminal (a CI log, a pipe) each change prints one line of plain text without
escape codes or carriage returns, e.g.::

    collecting_data  40.0%  chunks 2/4  points 1600/4032  ETA 0:00:12

Ctrl-C: ``ask`` (the default) asks on a terminal whether to cancel the job; ``cancel`` cancels
without asking; ``detach`` (and ``ask`` without a terminal) leaves it running. After a cancel the
job is followed until it has stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import typer
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from chronos_cli.client import ApiClient
from chronos_cli.errors import CliError, ExitCode
from chronos_cli.output import Output

FINISHED = frozenset({"completed", "failed", "cancelled"})


class OnInterrupt(StrEnum):
    ask = "ask"
    cancel = "cancel"
    detach = "detach"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def eta_seconds(job: dict[str, Any], now: datetime) -> float | None:
    """Seconds left, from the job's progress: the epoch rate while training, else the overall
    percent rate since the job started. None when nothing can be estimated yet."""
    if job.get("status") in FINISHED:
        return 0.0
    progress = job.get("progress") or {}
    epoch, epochs = int(progress.get("epoch") or 0), int(progress.get("epochs") or 0)
    train_start = parse_time(((job.get("phases") or {}).get("train") or {}).get("started_at"))
    if epochs and epoch and train_start:
        per_epoch = max(0.0, (now - train_start).total_seconds()) / epoch
        return per_epoch * max(0, epochs - epoch)
    percent = float(progress.get("percent") or 0.0)
    started = parse_time(job.get("started_at")) or parse_time(job.get("created_at"))
    if started is None or percent <= 0.0 or percent >= 100.0:
        return None
    elapsed = max(0.0, (now - started).total_seconds())
    return elapsed * (100.0 - percent) / percent


def format_eta(seconds: float | None) -> str:
    """``H:MM:SS`` (hours may pass 24), ``-:--:--`` when unknown."""
    if seconds is None:
        return "-:--:--"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "-"


def phase_label(job: dict[str, Any]) -> str:
    progress = job.get("progress") or {}
    status = str(job.get("status") or "?")
    if status == "training" and progress.get("training_phase"):
        return f"training ({progress['training_phase']})"
    return status


def detail(job: dict[str, Any]) -> str:
    """Chunks, points, epoch and losses: what is known of the job so far."""
    p = job.get("progress") or {}
    parts: list[str] = []
    if p.get("chunks_total"):
        parts.append(f"chunks {p.get('chunks_done', 0)}/{p['chunks_total']}")
    if p.get("points_expected") or p.get("points_collected"):
        parts.append(f"points {p.get('points_collected', 0)}/{p.get('points_expected', 0)}")
    if p.get("epochs"):
        parts.append(f"epoch {p.get('epoch', 0)}/{p['epochs']}")
    if p.get("loss") is not None:
        parts.append(f"loss {_number(p['loss'])}")
    if p.get("val_loss") is not None:
        parts.append(f"val_loss {_number(p['val_loss'])}")
    return "  ".join(parts)


def plain_line(job: dict[str, Any], eta: str | None = None) -> str:
    percent = float((job.get("progress") or {}).get("percent") or 0.0)
    line = f"{phase_label(job):<16} {percent:5.1f}%"
    if text := detail(job):
        line += f"  {text}"
    if eta is not None:
        line += f"  ETA {eta}"
    return line


class _Display:
    """The live bar on a terminal, plain lines elsewhere, nothing with ``--quiet``."""

    def __init__(self, out: Output, job_id: str) -> None:
        self._out = out
        self._last = ""
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._job_id = job_id

    def start(self) -> None:
        if self._out.quiet or not self._out.interactive:
            return
        self._progress = Progress(
            TextColumn("[bold]{task.fields[phase]:<16}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"),
            TextColumn("ETA {task.fields[eta]}"),
            console=self._out.err,
            transient=False,
        )
        self._task = self._progress.add_task(
            self._job_id, total=100, phase="pending", detail="", eta="-:--:--"
        )
        self._progress.start()

    def update(self, job: dict[str, Any], now: datetime) -> None:
        eta = format_eta(eta_seconds(job, now))
        if self._progress is not None and self._task is not None:
            percent = float((job.get("progress") or {}).get("percent") or 0.0)
            self._progress.update(
                self._task, completed=percent, phase=phase_label(job), detail=detail(job), eta=eta
            )
            return
        if self._out.quiet:
            return
        line = plain_line(job)
        if line != self._last:  # one line per change of the job, not per poll
            self._last = line
            self._out.err.print(plain_line(job, eta), markup=False, highlight=False)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class LiveDisplay(Protocol):
    """What :func:`follow_until_finished` drives: started, updated with each polled item, stopped."""

    def start(self) -> None: ...

    def update(self, item: dict[str, Any]) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Followed:
    """One kind of long-running resource to follow: ``path`` is its URL (``/cancel`` appended
    cancels it), ``noun`` and ``title`` name it in messages ("job", "training job"), ``again``
    is the command that follows it again, ``finished`` its final statuses."""

    path: str
    noun: str
    title: str
    again: str
    finished: frozenset[str]


def follow_until_finished(
    client: ApiClient,
    out: Output,
    item: dict[str, Any],
    followed: Followed,
    display_of: Callable[[str], LiveDisplay],
    *,
    poll_seconds: float,
    on_interrupt: OnInterrupt,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """Poll ``item`` until its status is final and return it. Ctrl-C cancels it (``cancel``, or
    ``ask`` answered yes; it is then followed until it stopped) or detaches (``Exit(130)``)."""
    display = display_of(str(item["id"]))
    display.start()
    cancelled = False
    try:
        while True:
            try:
                display.update(item)
                if item.get("status") in followed.finished:
                    return item
                sleep(poll_seconds)
                item = client.get(followed.path)
            except KeyboardInterrupt:
                display.stop()
                if cancelled or not _should_cancel(out, on_interrupt, f"{followed.title} {item['id']}"):
                    out.info(
                        f"{followed.noun.capitalize()} {item['id']} keeps running; "
                        f"follow it with `{followed.again}`"
                    )
                    raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
                cancelled = True
                try:
                    item = client.post(f"{followed.path}/cancel")
                    out.info(f"Cancelling {followed.noun} {item['id']}...")
                except CliError as exc:
                    if exc.exit_code != ExitCode.CONFLICT:  # 409: it finished meanwhile
                        raise
                    item = client.get(followed.path)
                display = display_of(str(item["id"]))
                display.start()
    finally:
        display.stop()


def _should_cancel(out: Output, on_interrupt: OnInterrupt, what: str) -> bool:
    if on_interrupt == OnInterrupt.cancel:
        return True
    if on_interrupt == OnInterrupt.detach or not out.interactive:
        return False
    try:
        return bool(typer.confirm(f"Cancel {what}?", default=False, err=True))
    except (KeyboardInterrupt, EOFError, typer.Abort):
        return False


class _TimedDisplay:
    """The training's display, updated with the current time (its ETA needs it)."""

    def __init__(self, display: _Display, now: Callable[[], datetime]) -> None:
        self._display, self._now = display, now

    def start(self) -> None:
        self._display.start()

    def update(self, item: dict[str, Any]) -> None:
        self._display.update(item, self._now())

    def stop(self) -> None:
        self._display.stop()


def follow(
    client: ApiClient,
    out: Output,
    model_id: str,
    job: dict[str, Any],
    *,
    poll_seconds: float = 2.0,
    on_interrupt: OnInterrupt = OnInterrupt.ask,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Poll the job until it has finished and return it; a detach on Ctrl-C raises ``Exit(130)``."""
    followed = Followed(
        path=f"/models/{model_id}/training-jobs/{job['id']}",
        noun="job",
        title="training job",
        again=f"chronos train follow {model_id} {job['id']}",
        finished=FINISHED,
    )
    return follow_until_finished(
        client,
        out,
        job,
        followed,
        lambda job_id: _TimedDisplay(_Display(out, job_id), now),
        poll_seconds=poll_seconds,
        on_interrupt=on_interrupt,
        sleep=sleep,
    )


def exit_code_of(job: dict[str, Any]) -> ExitCode:
    """How the training ended, as the process exit code."""
    return {
        "completed": ExitCode.OK,
        "failed": ExitCode.TRAINING_FAILED,
        "cancelled": ExitCode.TRAINING_CANCELLED,
    }.get(str(job.get("status")), ExitCode.ERROR)
