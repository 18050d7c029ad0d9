"""`chronos scans`: the bodies sent, the window and rate checks, live progress on a
non-terminal, exit codes, and the read commands, against a fake API (MockTransport)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.unit.cli.conftest import Cli, FakeApi, error

PATH = "/models/m1/anomaly-scans"
LINE = re.compile(
    r"^(pending|queued|running|completed|completed_with_failures|failed|cancelled) +\d{1,3}\.\d%"
    r"(  [a-z]+ [^ ]+)*  ETA (\d+:\d\d:\d\d|-:--:--)$"
)


def scan(status: str = "pending", summary: dict[str, Any] | None = None, **progress: Any) -> dict[str, Any]:
    return {
        "id": "s1",
        "model_id": "m1",
        "job_id": "j1",
        "status": status,
        "phase": "score" if status == "running" else None,
        "request": {"last_n": 1000, "date_from": None, "date_to": None},
        "settings": {"false_discovery_rate": 0.05, "min_event_points": 1, "merge_gap": 2},
        "window": None,
        "interval_seconds": 1800.0,
        "progress": {
            "chunks_total": 0,
            "chunks_done": 0,
            "chunks_failed": 0,
            "points_expected": 0,
            "points_read": 0,
            "points_scored": 0,
            "anomalies_so_far": 0,
            "percent": 0.0,
            "eta_seconds": None,
            **progress,
        },
        "phases": {},
        "summary": summary,
        "failed_chunks": [],
        "error": None,
        "execution": {"name": "s1", "arn": None, "attempt": 1, "console_url": None},
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
        "started_at": None,
        "ended_at": None,
        "duration_seconds": None,
    }


def responses(*scans: dict[str, Any]) -> list[httpx.Response]:
    return [httpx.Response(200, json=s) for s in scans]


@pytest.mark.parametrize(
    ("args", "body"),
    [
        (["--last-n", "5000"], {"last_n": 5000}),
        (
            ["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-31T00:00:00Z", "--fdr", "0.01"],
            {
                "date_from": "2026-01-01T00:00:00Z",
                "date_to": "2026-01-31T00:00:00Z",
                "false_discovery_rate": 0.01,
            },
        ),
        (
            [
                "--from",
                "2026-01-01",
                "--sensitivity",
                "high",
                "--merge-gap",
                "0",
                "--no-publish",
                "--job",
                "j7",
            ],
            {
                "date_from": "2026-01-01",
                "sensitivity": "high",
                "merge_gap": 0,
                "publish": False,
                "job_id": "j7",
            },
        ),
    ],
)
def test_start_sends_only_what_was_given(
    cli: Cli, api: FakeApi, args: list[str], body: dict[str, Any]
) -> None:
    api.on("POST", PATH, httpx.Response(202, json=scan()))
    result = cli("scans", "start", "m1", *args, "-o", "json")
    assert result.exit_code == 0, result.output
    assert api.body("POST", PATH) == body
    assert json.loads(result.stdout)["id"] == "s1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Give the window"),
        (["--last-n", "10", "--from", "2026-01-01"], "either --last-n or --from/--to"),
        (["--to", "2026-01-01"], "Give the window"),
        (["--last-n", "10", "--fdr", "0.05", "--sensitivity", "low"], "either --fdr or --sensitivity"),
        (["--from", "yesterday"], "--from must be an ISO-8601"),
    ],
)
def test_a_wrong_window_or_rate_is_a_usage_error_before_any_request(
    cli: Cli, api: FakeApi, args: list[str], message: str
) -> None:
    result = cli("scans", "start", "m1", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert api.requests == []


def test_an_fdr_out_of_range_is_refused_by_the_option(cli: Cli, api: FakeApi) -> None:
    result = cli("scans", "start", "m1", "--last-n", "10", "--fdr", "0.9")
    assert result.exit_code == 2
    assert api.requests == []


def test_follow_prints_chunks_points_anomalies_and_eta_once_per_change(cli: Cli, api: FakeApi) -> None:
    api.on("POST", PATH, httpx.Response(202, json=scan("pending")))
    running = {"chunks_total": 8, "points_expected": 100_000}
    api.on(
        "GET",
        f"{PATH}/s1",
        responses(
            scan("running", **running, chunks_done=2, points_scored=25_000, anomalies_so_far=1, percent=23.8,
                 eta_seconds=12.0),
            scan("running", **running, chunks_done=2, points_scored=25_000, anomalies_so_far=1, percent=23.8,
                 eta_seconds=11.0),  # only the ETA changed: no new line
            scan("running", **running, chunks_done=6, points_scored=75_000, anomalies_so_far=4, percent=71.2,
                 eta_seconds=3.0),
            scan("completed", {"flagged_points": 3, "events": 2}, **running, chunks_done=8,
                 points_scored=99_952, anomalies_so_far=4, percent=100.0),
        ),
    )  # fmt: skip
    result = cli("scans", "start", "m1", "--last-n", "100000", "--follow", "--poll-interval", "0.5")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if LINE.match(line)]
    assert [line.split()[0] for line in lines] == ["pending", "running", "running", "completed"]
    assert "chunks 2/8  points 25000/100000  anomalies 1  ETA 0:00:12" in lines[1]
    assert "chunks 6/8  points 75000/100000  anomalies 4  ETA 0:00:03" in lines[2]
    assert "anomalies 3  ETA 0:00:00" in lines[3]  # the final count: Benjamini-Hochberg's
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert cli.sleeps == [0.5] * 4
    assert "chronos scans events m1 s1" in result.stderr


@pytest.mark.parametrize(
    ("status", "code"), [("failed", 10), ("cancelled", 11), ("completed_with_failures", 0)]
)
def test_follow_exits_with_how_the_scan_ended(cli: Cli, api: FakeApi, status: str, code: int) -> None:
    ended = scan(status)
    if status == "failed":
        ended["error"] = {"error": "FiwareUnavailableError", "cause": "STH down", "phase": "score"}
    if status == "completed_with_failures":
        ended["failed_chunks"] = [{"offset": 3, "error": "FiwareServerError", "cause": "500"}]
    api.on("POST", PATH, httpx.Response(202, json=scan("pending")))
    api.on("GET", f"{PATH}/s1", ended)
    result = cli("scans", "start", "m1", "--last-n", "10", "-f")
    assert result.exit_code == code, result.output
    if status == "failed":
        assert "chronos scans retry m1 s1 --follow" in result.stderr
    if status == "completed_with_failures":
        assert "1 chunk(s) failed" in result.stderr


def test_ctrl_c_with_cancel_cancels_and_follows_to_the_end(cli: Cli, api: FakeApi) -> None:
    calls = {"n": 0}

    def get(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return httpx.Response(200, json=scan("cancelled"))

    api.on("POST", PATH, httpx.Response(202, json=scan("running")))
    api.on("GET", f"{PATH}/s1", get)
    api.on("POST", f"{PATH}/s1/cancel", scan("running"))
    result = cli("scans", "start", "m1", "--last-n", "10", "-f", "--on-interrupt", "cancel")
    assert result.exit_code == 11, result.output
    assert len(api.sent("POST", f"{PATH}/s1/cancel")) == 1


def test_ctrl_c_on_a_non_terminal_detaches(cli: Cli, api: FakeApi) -> None:
    def get(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    api.on("POST", PATH, httpx.Response(202, json=scan("running")))
    api.on("GET", f"{PATH}/s1", get)
    result = cli("scans", "start", "m1", "--last-n", "10", "-f")
    assert result.exit_code == 130
    assert "chronos scans follow m1 s1" in result.stderr
    assert api.sent("POST", f"{PATH}/s1/cancel") == []


def test_list_show_cancel_retry_and_events_call_their_routes(cli: Cli, api: FakeApi) -> None:
    done = scan("completed", {"flagged_points": 5, "events": 2, "events_by_level": {"high": 2}},
                chunks_total=3, chunks_done=3, points_scored=2900, percent=100.0)  # fmt: skip
    api.on("GET", PATH, {"items": [done], "total": 1, "skip": 0, "limit": 100})
    api.on("GET", f"{PATH}/s1", done)
    api.on("POST", f"{PATH}/s1/cancel", error(409, "conflict", "The scan has finished"))
    api.on("POST", f"{PATH}/s1/retry", httpx.Response(202, json=scan("queued")))
    event = {
        "index": 0,
        "start": "2026-01-02T00:00:00Z",
        "end": "2026-01-02T01:00:00Z",
        "peak_time": "2026-01-02T00:30:00Z",
        "peak_value": 42.5,
        "expected": 10.1,
        "p_value": 1e-6,
        "severity": 88,
        "level": "high",
        "points": 3,
        "direction": "above",
        "breaches": [],
    }
    api.on("GET", f"{PATH}/s1/events", {"scan_id": "s1", "items": [event], "total": 7, "skip": 5, "limit": 1})
    listed = cli("scans", "list", "m1", "-o", "csv")
    assert listed.exit_code == 0, listed.output
    header, row = listed.stdout.strip().splitlines()
    assert header.startswith("id,status,phase,percent,chunks,points scored,anomalies,events")
    assert row.startswith("s1,completed,") and ",3/3,2900,5,2," in row
    shown = cli("scans", "show", "m1", "s1")
    assert shown.exit_code == 0 and "high 2" in shown.stdout
    assert cli("scans", "cancel", "m1", "s1").exit_code == 7  # finished: 409
    assert cli("scans", "retry", "m1", "s1", "-o", "json").exit_code == 0
    events = cli("scans", "events", "m1", "s1", "--skip", "5", "--limit", "1", "-o", "csv")
    assert events.exit_code == 0, events.output
    assert events.stdout.splitlines()[1].startswith("0,2026-01-02T00:00:00Z,2026-01-02T01:00:00Z,")
    assert ",88,high,3,above" in events.stdout
    assert dict(api.sent("GET", f"{PATH}/s1/events")[0].url.params) == {"skip": "5", "limit": "1"}
    assert [(r.method, r.url.path.removeprefix("/dev")) for r in api.requests] == [
        ("GET", PATH),
        ("GET", f"{PATH}/s1"),
        ("POST", f"{PATH}/s1/cancel"),
        ("POST", f"{PATH}/s1/retry"),
        ("GET", f"{PATH}/s1/events"),
    ]


def test_the_scans_group_is_in_the_command_tree(cli: Cli) -> None:
    result = cli("scans", "--help")
    assert result.exit_code == 0
    for name in ("start", "list", "show", "cancel", "retry", "events", "follow", "quality"):
        assert name in result.stdout
