"""Rendering results as a table, JSON or CSV, and messages on stderr.

* Results go to stdout; messages, progress and errors to stderr, so ``-o json`` output pipes
  into ``jq`` whatever else is shown.
* ``json`` prints the API's own answer unchanged (its fields are the API's contract), indented,
  keys in the API's order; commands that answer nothing print a small object saying what was
  done. ``csv`` prints the table's columns with a header row, raw values (lists and objects as
  JSON). ``table`` is a Rich table.
* Colours follow the terminal: none when stdout/stderr is not a terminal, or with ``NO_COLOR``.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from chronos_cli.errors import CliError

NON_TERMINAL_WIDTH = 200


@dataclass
class Table:
    """Rows to show as a table or CSV."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None
    footer: list[str] = field(default_factory=list)


def cell(value: Any) -> str:
    """A value as a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def make_console(stream: TextIO) -> Console:
    terminal = stream.isatty()
    return Console(
        file=stream,
        width=None if terminal else NON_TERMINAL_WIDTH,
        highlight=False,
        soft_wrap=not terminal,
    )


class Output:
    """Where a command's results and messages go, in the chosen format."""

    def __init__(
        self,
        fmt: str = "table",
        *,
        quiet: bool = False,
        verbose: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.format = fmt
        self.quiet = quiet
        self.verbose = verbose
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.console = make_console(self.stdout)
        self.err = make_console(self.stderr)

    @property
    def interactive(self) -> bool:
        return self.stderr.isatty()

    def result(self, data: Any, table: Table | None = None) -> None:
        """Print a command's result: ``data`` for JSON, ``table`` for table and CSV."""
        if self.format == "json":
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            self.stdout.flush()
            return
        if table is None:
            table = Table(["field", "value"], [[k, v] for k, v in (data or {}).items()])
        if self.format == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(table.columns)
            writer.writerows([[csv_cell(v) for v in row] for row in table.rows])
            self.stdout.flush()
            return
        rich_table = RichTable(title=table.title, title_justify="left", header_style="bold")
        for column in table.columns:
            rich_table.add_column(column, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*[escape(cell(v)) for v in row])
        self.console.print(rich_table)
        for line in table.footer:
            self.console.print(escape(line))

    def text(self, text: str) -> None:
        """Free text on stdout (a chart), printed as is."""
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def info(self, message: str) -> None:
        """A message for people (stderr), hidden by ``--quiet``."""
        if not self.quiet:
            self.err.print(escape(message))

    def debug(self, message: str) -> None:
        """A detail shown with ``--verbose`` (stderr)."""
        if self.verbose:
            self.err.print(f"[dim]{escape(message)}[/dim]")

    def error(self, error: CliError) -> None:
        """The failure on stderr: plain text, or a JSON object with ``-o json``."""
        if self.format == "json":
            body: dict[str, Any] = {"error": error.message, "exit_code": int(error.exit_code)}
            if error.hints:
                body["hints"] = error.hints
            api = getattr(error, "as_json", None)
            if callable(api):
                body["api"] = api()
            self.stderr.write(json.dumps(body, ensure_ascii=False) + "\n")
            self.stderr.flush()
            return
        self.err.print(f"[bold red]Error:[/bold red] {escape(error.message)}")
        for hint in error.hints:
            self.err.print(f"  {escape(hint)}")
