"""``chronos retraining``, ``retrain``, ``champion`` and ``queue`` against a fake API: the
requests they send (a policy from flags, from a file, or both), what they print (the next fire
times, runs, the champion, queue positions and waits) and their errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.unit.cli.conftest import Cli, FakeApi, error

POLICY = "/models/m1/retraining-policy"


def policy_view(**policy: Any) -> dict[str, Any]:
    return {
        "model_id": "m1",
        "policy": {
            "enabled": True,
            "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Madrid", "rate": None},
            "window": {"last_n": 5000, "duration": None},
            "min_new_points": 500,
            "cooldown": "PT6H",
            "max_per_day": 2,
            "promotion_margin": 0.05,
            "trigger_rules": ["drift-1"],
            "warm_start": False,
            **policy,
        },
        "description": "at 03:00 every day (Europe/Madrid)",
        "next_fire_times": [
            {"local": "2026-03-28T03:00:00+01:00", "utc": "2026-03-28T02:00:00Z"},
            {"local": "2026-03-29T03:00:00+02:00", "utc": "2026-03-29T01:00:00Z"},
        ],
        "dst_notes": ["2026-03-29: clocks spring forward"],
        "schedule_since": "2026-03-27T10:00:00Z",
        "created_at": "2026-03-27T10:00:00Z",
        "updated_at": "2026-03-27T10:00:00Z",
        "recent_runs": [],
    }


def test_show_prints_the_schedule_in_words_and_the_next_fire_times(cli: Cli, api: FakeApi) -> None:
    api.on("GET", POLICY, policy_view())
    result = cli("retraining", "show", "m1")
    assert result.exit_code == 0, result.output
    assert "at 03:00 every day (Europe/Madrid)" in result.stdout
    assert "2026-03-28T03:00:00+01:00  (2026-03-28T02:00:00Z UTC)" in result.stdout
    assert "2026-03-29T03:00:00+02:00" in result.stdout and "clocks spring forward" in result.stdout
    assert "last 5000 points" in result.stdout


def test_set_from_flags_sends_only_what_was_given(cli: Cli, api: FakeApi) -> None:
    api.on("PUT", POLICY, policy_view())
    result = cli(
        "retraining",
        "set",
        "m1",
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Madrid",
        "--last-n",
        "5000",
        "--cooldown",
        "PT6H",
        "--margin",
        "0.05",
        "--trigger-rule",
        "drift-1",
        "--trigger-rule",
        "*",
        "--warm-start",
    )
    assert result.exit_code == 0, result.output
    assert api.body("PUT", POLICY) == {
        "schedule": {"cron": "0 3 * * *", "timezone": "Europe/Madrid"},
        "window": {"last_n": 5000},
        "cooldown": "PT6H",
        "promotion_margin": 0.05,
        "trigger_rules": ["drift-1", "*"],
        "warm_start": True,
    }
    assert "next fire 1" in result.stdout and "2026-03-28T02:00:00Z" in result.stdout


def test_set_from_a_file_with_flags_on_top(cli: Cli, api: FakeApi, tmp_path: Path) -> None:
    api.on("PUT", POLICY, policy_view())
    file = tmp_path / "policy.json"
    file.write_text(
        json.dumps({"schedule": {"cron": "0 3 * * *"}, "max_per_day": 3, "window": {"last_n": 10}})
    )
    result = cli("retraining", "set", "m1", "--file", str(file), "--timezone", "UTC", "--duration", "P90D")
    assert result.exit_code == 0, result.output
    assert api.body("PUT", POLICY) == {
        "schedule": {"cron": "0 3 * * *", "timezone": "UTC"},
        "max_per_day": 3,
        "window": {"duration": "P90D"},
    }


def test_set_usage_errors_send_nothing(cli: Cli, api: FakeApi, tmp_path: Path) -> None:
    both = cli("retraining", "set", "m1", "--last-n", "10", "--duration", "P1D")
    assert both.exit_code == 2 and "--last-n or --duration" in both.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert cli("retraining", "set", "m1", "--file", str(bad)).exit_code == 2
    assert api.requests == []


def test_a_422_names_the_field(cli: Cli, api: FakeApi) -> None:
    api.on(
        "PUT",
        POLICY,
        error(422, "validation_error", "Invalid policy", [{"field": "schedule.cron", "message": "bad cron"}]),
    )
    result = cli("retraining", "set", "m1", "--cron", "61 * * * *")
    assert result.exit_code != 0 and "schedule.cron" in result.stderr


def test_delete_needs_yes_without_a_terminal(cli: Cli, api: FakeApi) -> None:
    api.on("DELETE", POLICY, httpx.Response(204))
    assert cli("retraining", "delete", "m1").exit_code == 2 and api.requests == []
    result = cli("retraining", "delete", "m1", "--yes", "-o", "json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"deleted": True, "model_id": "m1"}


def test_runs_lists_each_trigger_and_its_outcome(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/models/m1/retraining-runs",
        {
            "items": [
                {
                    "key": "k2",
                    "model_id": "m1",
                    "kind": "rule",
                    "at": "2026-03-28T02:05:00Z",
                    "rule_id": "drift-1",
                    "outcome": "attached",
                    "job_id": "j2",
                    "outcome_reason": "joined training j2",
                },
                {
                    "key": "k1",
                    "model_id": "m1",
                    "kind": "cron",
                    "at": "2026-03-28T02:00:10Z",
                    "fire_time": "2026-03-28T02:00:00Z",
                    "outcome": "skipped",
                    "outcome_reason": "not enough new data: 120 new points (at least 500)",
                },
            ],
            "total": 2,
            "skip": 0,
            "limit": 5,
        },
    )
    result = cli("retraining", "runs", "m1", "--limit", "5", "-o", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "at,kind,fire_time,rule_id / user,outcome,job_id,reason"
    assert lines[1].split(",")[1:6] == ["rule", "", "drift-1", "attached", "j2"]
    assert "not enough new data" in lines[2]
    assert dict(api.sent("GET", "/models/m1/retraining-runs")[0].url.params) == {"skip": "0", "limit": "5"}


def test_retrain_posts_the_reason_and_prints_the_outcome(cli: Cli, api: FakeApi) -> None:
    run = {
        "key": "k",
        "model_id": "m1",
        "kind": "manual",
        "at": "2026-03-28T02:00:00Z",
        "outcome": "queued",
        "job_id": "j9",
        "reason": "new sensor",
    }
    api.on("POST", "/models/m1/retrain", httpx.Response(202, json=run))
    result = cli("retrain", "m1", "--reason", "new sensor")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/models/m1/retrain") == {"reason": "new sensor"}
    assert "queued" in result.stdout and "j9" in result.stdout


def champion_view(**fields: Any) -> dict[str, Any]:
    return {
        "model_id": "m1",
        "champion": {
            "training_job_id": "j2",
            "model_version": 2,
            "serving": "network",
            "test_mae": 1.5,
            "promotion": None,
            "ended_at": None,
        },
        "pinned": False,
        "previous_champions": ["j1"],
        "challengers": [
            {
                "training_job_id": "j3",
                "model_version": 3,
                "serving": "blend",
                "test_mae": 2.5,
                "ended_at": None,
                "promotion": {"promoted": False, "reason": "challenger MAE 2.5 not below 0.95 x 1.5"},
            },
        ],
        **fields,
    }


def test_champion_show_lists_the_champion_and_the_kept_challengers(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/m1/champion", champion_view())
    result = cli("champion", "show", "m1")
    assert result.exit_code == 0, result.output
    assert "champion" in result.stdout and "j2" in result.stdout
    assert "not below 0.95 x 1.5" in result.stdout and "previous champions: j1" in result.stdout


def test_champion_pin_and_unpin_and_rollback(cli: Cli, api: FakeApi) -> None:
    api.on("PUT", "/models/m1/champion", champion_view(pinned=True))
    assert cli("champion", "pin", "m1", "j3").exit_code == 0
    assert api.body("PUT", "/models/m1/champion") == {"training_job_id": "j3", "pinned": True}
    assert cli("champion", "pin", "m1", "j3", "--unpin").exit_code == 0
    assert api.body("PUT", "/models/m1/champion") == {"training_job_id": "j3", "pinned": False}
    api.on(
        "POST", "/models/m1/champion/rollback", error(409, "conflict", "Model m1 has no previous champion")
    )
    rolled = cli("champion", "rollback", "m1")
    assert rolled.exit_code == 7 and "no previous champion" in rolled.stderr


def test_queue_shows_running_then_waiting_in_order_with_waits(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/training-queue",
        {
            "global_limit": 1,
            "tenant_limit": 0,
            "typical_duration_seconds": 120.0,
            "running": [
                {
                    "training_job_id": "r1",
                    "model_id": "m1",
                    "fiware_service": "energy",
                    "status": "training",
                    "started_at": "2026-03-28T02:00:00Z",
                }
            ],
            "waiting": [
                {
                    "training_job_id": "w2",
                    "model_id": "m3",
                    "fiware_service": "energy",
                    "position": 2,
                    "enqueued_at": "2026-03-28T02:02:00Z",
                    "blocked_by": "global",
                    "estimated_wait_seconds": 240.0,
                },
                {
                    "training_job_id": "w1",
                    "model_id": "m2",
                    "fiware_service": "energy",
                    "position": 1,
                    "enqueued_at": "2026-03-28T02:01:00Z",
                    "blocked_by": "global",
                    "estimated_wait_seconds": 120.0,
                },
            ],
        },
    )
    result = cli("queue", "-o", "csv")
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.strip().splitlines()[1:]]
    assert [(r[0], r[1], r[6]) for r in rows] == [
        ("running", "r1", ""),
        ("1", "w1", "120.0"),
        ("2", "w2", "240.0"),
    ]
    table = cli("queue")
    assert "limits: 1 at once, no limit per tenant; 1 running, 2 waiting" in table.stdout
    assert "about 120 s" in table.stdout


def test_the_retraining_commands_are_registered() -> None:
    from tests.unit.cli.test_commands import all_commands

    names = {" ".join(p) for p in all_commands()}
    assert {
        "retraining show",
        "retraining set",
        "retraining delete",
        "retraining runs",
        "retrain",
        "champion show",
        "champion pin",
        "champion rollback",
        "queue",
    } <= names
