"""`train start --follow`: progress well-formed on a non-terminal, exit codes, Ctrl-C."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from chronos_cli.app import app
from chronos_cli.client import ApiClient
from chronos_cli.context import State
from chronos_cli.output import Output
from chronos_cli.progress import eta_seconds, follow, format_eta, plain_line
from typer.testing import CliRunner

from tests.unit.cli.conftest import API, Cli, FakeApi, job, token

STATUS = r"(pending|collecting_data|preprocessing|queued|training( \([a-z_]+\))?|completed|failed|cancelled)"
LINE = re.compile(rf"^{STATUS} +\d{{1,3}}\.\d%(  [a-z_]+ [^ ]+)*  ETA (\d+:\d\d:\d\d|-:--:--)$")


def sequence(*jobs: dict[str, Any]) -> list[httpx.Response]:
    return [httpx.Response(200, json=j) for j in jobs]


def run_states(api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs", httpx.Response(202, json=job("pending")))
    collecting = job(
        "collecting_data", chunks_total=4, chunks_done=2, points_expected=4032, points_collected=2016
    )
    collecting["percent"] = 25.0
    api.on(
        "GET",
        "/models/m1/training-jobs/j1",
        sequence(
            job("collecting_data", chunks_total=4, chunks_done=2, points_expected=4032, points_collected=2016,
                percent=25.0),
            job("collecting_data", chunks_total=4, chunks_done=2, points_expected=4032, points_collected=2016,
                percent=25.0),  # unchanged: no new line
            job("training", epochs=30, epoch=3, loss=0.25, val_loss=0.3, training_phase="fit", percent=55.0),
            job("completed", epochs=30, epoch=30, loss=0.1, val_loss=0.12, percent=100.0),
        ),
    )  # fmt: skip


def test_follow_on_a_non_terminal_prints_one_plain_line_per_change(cli: Cli, api: FakeApi) -> None:
    run_states(api)
    result = cli("train", "start", "m1", "--follow", "--poll-interval", "0.5")
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if LINE.match(line)]
    assert [line.split()[0] for line in progress] == ["pending", "collecting_data", "training", "completed"]
    assert "chunks 2/4  points 2016/4032" in progress[1]
    assert "epoch 3/30  loss 0.25  val_loss 0.3" in progress[2]
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert cli.sleeps == [0.5] * 4
    assert "Training job j1 accepted" in result.stderr


def test_follow_with_json_output_prints_only_the_final_job_on_stdout(cli: Cli, api: FakeApi) -> None:
    run_states(api)
    result = cli("train", "start", "m1", "--follow", "-o", "json")
    assert json.loads(result.stdout)["status"] == "completed"


def test_quiet_follow_prints_no_progress(cli: Cli, api: FakeApi) -> None:
    run_states(api)
    result = cli("train", "start", "m1", "--follow", "-q", "-o", "json")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_exit_code_says_how_the_training_ended(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs", httpx.Response(202, json=job("pending")))
    failed = job("failed") | {
        "error": {"phase": "collect", "error": "UpstreamError", "cause": "STH answered 500"}
    }
    api.on("GET", "/models/m1/training-jobs/j1", failed)
    result = cli("train", "start", "m1", "--follow")
    assert result.exit_code == 10
    assert "Training failed in collect: UpstreamError: STH answered 500" in result.stderr
    api.on("GET", "/models/m1/training-jobs/j1", job("cancelled"))
    assert cli("train", "start", "m1", "--follow").exit_code == 11
    assert cli("train", "follow", "m1", "j1").exit_code == 11


def test_start_without_follow_returns_at_once(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs", httpx.Response(202, json=job("pending")))
    result = cli("train", "start", "m1", "--last-n", "500", "-o", "json")
    assert result.exit_code == 0
    assert api.body("POST", "/models/m1/training-jobs") == {"last_n": 500}
    assert not api.sent("GET", "/models/m1/training-jobs/j1")


def interrupted_run(api: FakeApi, *args: str) -> Any:
    api.on("POST", "/models/m1/training-jobs", httpx.Response(202, json=job("pending")))
    api.on("GET", "/models/m1/training-jobs/j1", job("cancelled"))
    api.on("POST", "/models/m1/training-jobs/j1/cancel", job("training"))
    calls = {"n": 0}

    def sleep(_: float) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    state = State(transport=httpx.MockTransport(api), sleep=sleep)
    env = {"CHRONOS_API_URL": API, "CHRONOS_TOKEN": token()}
    return CliRunner().invoke(app, ["train", "start", "m1", "--follow", *args], obj=state, env=env)


def test_ctrl_c_with_cancel_cancels_and_follows_to_the_end(api: FakeApi) -> None:
    result = interrupted_run(api, "--on-interrupt", "cancel")
    assert result.exit_code == 11, result.output
    assert len(api.sent("POST", "/models/m1/training-jobs/j1/cancel")) == 1


def test_ctrl_c_without_a_terminal_detaches(api: FakeApi) -> None:
    result = interrupted_run(api)  # ask, but there is no terminal to ask on
    assert result.exit_code == 130
    assert not api.sent("POST", "/models/m1/training-jobs/j1/cancel")
    assert "chronos train follow m1 j1" in result.stderr


def test_eta_from_epochs_while_training() -> None:
    running = job("training", epochs=10, epoch=2)
    running["phases"] = {
        "train": {"started_at": "2026-01-01T00:00:00.000Z", "ended_at": None, "seconds": None}
    }
    now = datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC)
    assert eta_seconds(running, now) == 80.0  # 10 s an epoch, 8 to go
    collecting = job("collecting_data", percent=25.0)
    assert eta_seconds(collecting, datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)) == 90.0
    assert eta_seconds(job("pending"), now) is None
    assert eta_seconds(job("completed"), now) == 0.0
    assert format_eta(100_000) == "27:46:40" and format_eta(None) == "-:--:--"


def test_plain_line_is_one_line_without_markup() -> None:
    line = plain_line(
        job("training", epochs=5, epoch=1, loss=0.5, training_phase="fit", percent=60.0), "0:00:10"
    )
    assert line == "training (fit)    60.0%  epoch 1/5  loss 0.5  ETA 0:00:10"
    assert LINE.match(line)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_live_bar_shows_phase_detail_and_eta(api: FakeApi) -> None:
    api.on(
        "GET",
        "/models/m1/training-jobs/j1",
        sequence(
            job("training", epochs=30, epoch=3, loss=0.25, percent=55.0),
            job("completed", epochs=30, epoch=30, loss=0.1, percent=100.0),
        ),
    )
    err = Terminal()
    out = Output("table", stdout=io.StringIO(), stderr=err)
    client = ApiClient(API, lambda: "t", transport=httpx.MockTransport(api))
    done = follow(client, out, "m1", job("pending"), poll_seconds=0, sleep=lambda _: None)
    assert done["status"] == "completed"
    text = err.getvalue()
    assert "completed" in text and "100%" in text and "ETA 0:00:00" in text
    assert "epoch 30/30" in text
