"""``chronos alerts``, ``rules``, ``channels`` and ``silences`` against a fake API: what each
command sends, and what it prints."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.unit.cli.conftest import Cli, FakeApi, error


def page(*items: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    return {"items": list(items), "total": len(items) if total is None else total, "skip": 0, "limit": 100}


def alert(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "a1", "status": "firing", "state": "firing", "severity": "high", "rule_id": "r1",
        "rule_name": "tank high", "rule_type": "observed_threshold", "entity_id": "urn:x:Tank:1",
        "value": 97.5, "threshold": 90.0, "message": "last of 1 point(s) is 97.5", "values": {"points": 1},
        "started_at": "2026-01-01T00:00:00Z", "resolved_at": None, "acknowledged_at": None, **overrides,
    }  # fmt: skip


def rule(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "r1", "name": "tank high", "type": "observed_threshold", "severity": "high", "model_id": "m1",
        "job_id": None, "params": {"threshold": 90.0, "direction": "above"},
        "evaluation_interval_seconds": 60, "channels": ["c1"], "enabled": True, **overrides,
    }  # fmt: skip


def channel(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "c1", "name": "ops", "type": "webhook", "fiware_service": "energy", "status": "active",
        "config": {"url": "https://ops.example.com/hook"}, "secret_set": True,
        "stats": {"times_sent": 7, "delivered": 5, "failed": 2, "consecutive_failures": 1,
                  "last_success": "2026-01-01T00:00:00Z", "last_failure_reason": "HTTP 503"},
        **overrides,
    }  # fmt: skip


# ------------------------------------------------------------------------------------- alerts


def test_alerts_list_sends_the_filters_and_shows_each_alert(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/alerts", page(alert(), total=3))
    result = cli("alerts", "list", "--severity", "high", "--model-id", "m1")
    assert result.exit_code == 0, result.output
    params = api.sent("GET", "/alerts")[0].url.params
    assert (params["status"], params["severity"], params["model_id"]) == ("firing", "high", "m1")
    assert "tank high" in result.stdout and "97.5" in result.stdout and "1 of 3 alert(s)" in result.stdout


def test_alerts_list_refuses_an_unknown_status_before_calling(cli: Cli, api: FakeApi) -> None:
    result = cli("alerts", "list", "--status", "open")
    assert result.exit_code == 2 and not api.requests and "firing, resolved, all" in result.output


def test_alerts_show_lists_events_and_deliveries(cli: Cli, api: FakeApi) -> None:
    detail = {
        "alert": alert(),
        "events": [{"at": "2026-01-01T00:00:00Z", "from_state": "ok", "to_state": "firing",
                    "outcome": "breach", "message": "above"}],
        "deliveries": [{"id": "n1", "kind": "firing", "channel_type": "webhook", "channel_id": "c1",
                        "status": "delivered", "attempts": 3, "last_error": "HTTP 503"}],
    }  # fmt: skip
    api.on("GET", "/alerts/a1", detail)
    result = cli("alerts", "show", "a1")
    assert result.exit_code == 0, result.output
    assert "ok -> firing (breach)" in result.stdout
    assert "delivered after 3 attempt(s), last error HTTP 503" in result.stdout
    as_json = cli("alerts", "show", "a1", "-o", "json")
    assert json.loads(as_json.stdout) == detail


def test_alerts_ack_posts_the_comment(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/alerts/a1/ack", alert(acknowledged_at="2026-01-01T00:05:00Z"))
    result = cli("alerts", "ack", "a1", "--comment", "on it")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/alerts/a1/ack") == {"comment": "on it"}


def test_acknowledging_a_resolved_alert_shows_the_apis_conflict(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/alerts/a1/ack", error(409, "conflict", "Alert a1 is resolved"))
    result = cli("alerts", "ack", "a1")
    assert result.exit_code != 0 and "resolved" in result.stderr


# -------------------------------------------------------------------------------------- rules


def test_rules_create_from_flags(cli: Cli, api: FakeApi) -> None:
    view = {"rule": rule(), "state": {"state": "ok", "since": "2026-01-01T00:00:00Z"}, "stats": {"fired": 0}}
    api.on("POST", "/alert-rules", httpx.Response(201, json=view))
    result = cli(
        "rules", "create", "--type", "observed_threshold", "--model", "m1", "--param", "threshold=90",
        "--param", "direction=above", "--channel", "c1", "--severity", "high", "--interval", "300",
        "--no-notify-on-resolve",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/alert-rules") == {
        "type": "observed_threshold",
        "model_id": "m1",
        "params": {"threshold": 90, "direction": "above"},
        "channels": ["c1"],
        "severity": "high",
        "evaluation_interval_seconds": 300,
        "notify_on_resolve": False,
    }
    assert "tank high" in result.stdout


def test_rules_create_from_a_file_with_options_overriding_it(cli: Cli, api: FakeApi, tmp_path: Path) -> None:
    spec = tmp_path / "rule.json"
    spec.write_text(json.dumps({"type": "predicted_crossing", "model_id": "m1", "severity": "low",
                                "params": {"threshold": 95, "probability": 0.6}}))  # fmt: skip
    api.on("POST", "/alert-rules", httpx.Response(201, json={"rule": rule(), "state": {}, "stats": {}}))
    result = cli(
        "rules", "create", "--file", str(spec), "--severity", "critical", "--param", "horizon_steps=6"
    )
    assert result.exit_code == 0, result.output
    sent = api.body("POST", "/alert-rules")
    assert sent["severity"] == "critical" and sent["type"] == "predicted_crossing"
    assert sent["params"] == {"threshold": 95, "probability": 0.6, "horizon_steps": 6}


def test_rules_create_needs_a_type_and_a_model(cli: Cli, api: FakeApi) -> None:
    result = cli("rules", "create", "--model", "m1")
    assert result.exit_code == 2 and "--type" in result.output and not api.requests
    bad = cli("rules", "create", "--type", "observed_threshold", "--model", "m1", "--params", "[1]")
    assert bad.exit_code == 2 and "JSON object" in bad.output


def test_rules_create_shows_the_field_the_api_refused(cli: Cli, api: FakeApi) -> None:
    api.on(
        "POST",
        "/alert-rules",
        error(422, "validation_error", "Invalid alert rule",
              [{"field": "params.threshold", "message": "Field required"}]),
    )  # fmt: skip
    result = cli("rules", "create", "--type", "observed_threshold", "--model", "m1")
    assert result.exit_code != 0 and "params.threshold" in result.stderr


def test_rules_list_show_and_delete(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/alert-rules", page(rule(), rule(id="r2", enabled=False)))
    listed = cli("rules", "list", "--type", "observed_threshold", "--disabled")
    assert listed.exit_code == 0, listed.output
    params = api.sent("GET", "/alert-rules")[0].url.params
    assert params["type"] == "observed_threshold" and params["enabled"] == "false"
    assert "r2" in listed.stdout
    view = {"rule": rule(), "state": {"state": "firing", "since": "2026-01-01T00:00:00Z"},
            "last_evaluation": {"message": "above"}, "stats": {"fired": 2, "active": 1}}  # fmt: skip
    api.on("GET", "/alert-rules/r1", view)
    shown = cli("rules", "show", "r1")
    assert shown.exit_code == 0 and "firing" in shown.stdout and '"fired": 2' in shown.stdout
    api.on("DELETE", "/alert-rules/r1", httpx.Response(204))
    assert cli("rules", "delete", "r1").exit_code == 2  # no terminal: needs --yes
    deleted = cli("rules", "delete", "r1", "--yes", "-o", "json")
    assert json.loads(deleted.stdout) == {"deleted": True, "rule_id": "r1"}


# ----------------------------------------------------------------------------------- channels


def test_channels_list_shows_the_delivery_counters(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/alert-channels", page(channel()))
    result = cli("channels", "list", "-o", "csv")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.strip().splitlines()
    assert "consecutive_failures" in header and "HTTP 503" in row and ",7,5,2,1," in row


def test_channels_create_a_webhook_in_the_profile_tenant(cli: Cli, api: FakeApi) -> None:
    assert cli("config", "set", "tenant", "energy").exit_code == 0
    api.on("POST", "/alert-channels", httpx.Response(201, json=channel(secret="s" * 32)))
    result = cli("channels", "create", "--type", "webhook", "--name", "ops", "--url", "https://ops.example.com/hook",
                 "--header", "X-Team=ops", "--max-consecutive-failures", "5")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/alert-channels") == {
        "type": "webhook",
        "name": "ops",
        "fiware_service": "energy",
        "config": {"url": "https://ops.example.com/hook", "headers": {"X-Team": "ops"}},
        "max_consecutive_failures": 5,
    }
    assert "not shown again" in result.stderr and "s" * 32 in result.stdout


def test_channels_create_without_a_tenant_is_a_usage_error(cli: Cli, api: FakeApi) -> None:
    result = cli("channels", "create", "--type", "orion")
    assert result.exit_code == 2 and "--service" in result.stderr and not api.requests


def test_channels_show_and_delete(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/alert-channels/c1", channel())
    shown = cli("channels", "show", "c1")
    assert shown.exit_code == 0 and "stats.times_sent" in shown.stdout
    api.on("DELETE", "/alert-channels/c1", error(409, "conflict", "Rules r1 use channel c1"))
    refused = cli("channels", "delete", "c1", "--yes")
    assert refused.exit_code != 0 and "r1" in refused.stderr


# ----------------------------------------------------------------------------------- silences


def test_silences_create_for_a_rule_from_now(cli: Cli, api: FakeApi) -> None:
    created = {"id": "s1", "fiware_service": "energy", "rule_id": "r1", "model_id": None,
               "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01T02:00:00Z",
               "comment": "maintenance"}  # fmt: skip
    api.on("POST", "/silences", httpx.Response(201, json=created))
    before = datetime.now(UTC)
    result = cli("silences", "create", "--rule-id", "r1", "--for", "2h", "--comment", "maintenance")
    assert result.exit_code == 0, result.output
    sent = api.body("POST", "/silences")
    assert sent["rule_id"] == "r1" and "model_id" not in sent and sent["comment"] == "maintenance"
    ends = datetime.fromisoformat(sent["ends_at"])
    assert timedelta(hours=2) <= ends - before < timedelta(hours=2, minutes=1)


def test_silences_need_one_target_and_a_duration(cli: Cli, api: FakeApi) -> None:
    assert cli("silences", "create").exit_code == 2
    assert cli("silences", "create", "--rule-id", "r1", "--model-id", "m1").exit_code == 2
    assert cli("silences", "create", "--rule-id", "r1", "--for", "soon").exit_code == 2
    assert not api.requests


def test_silences_list_and_delete(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/silences", page())
    assert cli("silences", "list", "--all").exit_code == 0
    assert api.sent("GET", "/silences")[0].url.params["active"] == "false"
    api.on("DELETE", "/silences/s1", httpx.Response(204))
    assert cli("silences", "delete", "s1").exit_code == 0
