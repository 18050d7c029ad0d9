"""Argument parsing and output formats of the commands, against a fake API (MockTransport)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import typer
from chronos_cli.app import app

from tests.unit.cli.conftest import Cli, FakeApi, job, model


def all_commands() -> list[list[str]]:
    """Every command path of the application (groups and leaves)."""
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: Any, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "chronos")
def test_every_command_has_help(cli: Cli, path: list[str]) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_the_command_tree_mirrors_the_api() -> None:
    names = {" ".join(p) for p in all_commands()}
    expected = {
        "devices list",
        "models list",
        "models create",
        "models show",
        "models update",
        "models delete",
        "train start",
        "jobs list",
        "jobs show",
        "jobs cancel",
        "jobs retry",
        "jobs delete",
        "predict",
        "forecasts enable",
        "forecasts disable",
        "forecasts history",
        "login",
        "whoami",
    }
    assert expected <= names


def test_create_help_shows_the_api_defaults(cli: Cli) -> None:
    text = cli("models", "create", "--help").stdout
    for default in (
        "default: 32",
        "default: 100",
        "default: 0.001",
        "default: 0.15",
        "default: 24",
        "default: 1;",
    ):
        assert default in text, default


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, "total": len(items), "skip": 0, "limit": 100}


def test_models_list_json_is_the_api_body_unchanged(cli: Cli, api: FakeApi) -> None:
    body = page([model(), model(id="m2", status="trained")])
    api.on("GET", "/models/", body)
    result = cli("models", "list", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == body


def test_output_option_before_the_command_works_too(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/", page([model()]))
    result = cli("-o", "json", "models", "list")
    assert json.loads(result.stdout)["total"] == 1


def test_models_list_csv_has_a_header_and_one_row_per_model(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/", page([model(), model(id="m2", entity_id="urn:x,y")]))
    result = cli("models", "list", "--output", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:4] == ["id", "name", "type", "status"]
    assert [r[0] for r in rows[1:]] == ["m1", "m2"]
    assert rows[2][4] == "urn:x,y"  # quoted, not split


def test_models_list_table_on_a_non_terminal_has_no_escape_codes(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/", page([model()]))
    result = cli("models", "list")
    assert "m1" in result.stdout and "LSTM - demand" in result.stdout
    assert "\x1b" not in result.stdout + result.stderr


def test_models_list_sends_the_filters(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/", page([]))
    cli("models", "list", "--type", "gru", "--status", "trained", "--limit", "5")
    params = api.sent("GET", "/models/")[0].url.params
    assert params["model_type"] == "gru" and params["status"] == "trained" and params["limit"] == "5"
    assert "entity_id" not in params


def test_create_sends_only_the_options_given(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/", model())
    result = cli(
        "models", "create", "--entity-type", "ElectricityMeter", "--entity-id", "urn:e",
        "--feature", "demand", "--service", "energy", "--epochs", "30",
        "--rnn-layer", "32:0.0", "--rnn-layer", "16",
        "--dense-layer", "8:0.2:tanh", "--sampling-interval", "PT30M",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/models/") == {
        "model_type": "lstm",
        "rnn_layers": [{"units": 32, "dropout": 0.0}, {"units": 16}],
        "dense_layers": [{"units": 8, "dropout": 0.2, "activation": "tanh"}],
        "entity_type": "ElectricityMeter",
        "entity_id": "urn:e",
        "feature": "demand",
        "epochs": 30,
        "sampling_interval": "PT30M",
        "fiware_service": "energy",
        "fiware_servicepath": "/",
    }


def test_create_from_a_device_attribute_resolves_the_entity(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/devices/",
        {
            "service": "energy",
            "servicepath": "/demo",
            "total": 1,
            "devices": [
                {
                    "entity_type": "ElectricityMeter",
                    "entities": [
                        {
                            "entity_name": "urn:ngsi-ld:ElectricityMeter:taylor",
                            "device_id": "meter-1",
                            "attributes": [
                                {"name": "demand", "type": "Number"},
                                {"name": "t", "type": "Number"},
                            ],
                        }
                    ],
                }
            ],
        },
    )
    api.on("POST", "/models/", model())
    result = cli(
        "models", "create", "--device", "meter-1", "--attribute", "demand", "-s", "energy",
        "--servicepath", "/demo", "--type", "gru",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.sent("GET", "/devices/")[0].url.params["servicepath"] == "/demo"
    body = api.body("POST", "/models/")
    assert body["entity_type"] == "ElectricityMeter"
    assert body["entity_id"] == "urn:ngsi-ld:ElectricityMeter:taylor"
    assert body["feature"] == "demand" and body["model_type"] == "gru"
    assert body["fiware_service"] == "energy" and body["fiware_servicepath"] == "/demo"


def test_create_with_an_unknown_attribute_is_a_usage_error(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/devices/",
        {"service": "energy", "servicepath": "/", "total": 1, "devices": [
            {"entity_type": "T", "entities": [
                {"entity_name": "e", "device_id": "d", "attributes": [{"name": "a", "type": "N"}]}
            ]}
        ]},
    )  # fmt: skip
    result = cli("models", "create", "--device", "d", "--attribute", "zz", "-s", "energy")
    assert result.exit_code == 2
    assert "no attribute 'zz'" in result.stderr
    assert not api.sent("POST", "/models/")


def test_create_without_an_entity_is_a_usage_error_before_any_request(cli: Cli, api: FakeApi) -> None:
    result = cli("models", "create", "-s", "energy")
    assert result.exit_code == 2
    assert "Missing entity_type, entity_id, feature" in result.stderr
    assert not api.requests


def test_bad_layer_spec_is_a_click_usage_error(cli: Cli) -> None:
    result = cli("models", "create", "--rnn-layer", "many", "--entity-id", "e")
    assert result.exit_code == 2
    assert "UNITS" in result.output


def test_update_sends_a_partial_body(cli: Cli, api: FakeApi) -> None:
    api.on("PATCH", "/models/m1", model(epochs=5))
    result = cli("models", "update", "m1", "--epochs", "5", "--horizon", "12")
    assert result.exit_code == 0, result.output
    assert api.body("PATCH", "/models/m1") == {"epochs": 5, "forecast_horizon": 12}


def test_delete_without_a_terminal_needs_yes(cli: Cli, api: FakeApi) -> None:
    api.on("DELETE", "/models/m1", __import__("httpx").Response(204))
    refused = cli("models", "delete", "m1")
    assert refused.exit_code == 2 and not api.requests
    done = cli("models", "delete", "m1", "--yes", "-o", "json")
    assert done.exit_code == 0
    assert json.loads(done.stdout) == {"deleted": True, "model_id": "m1"}


def test_devices_list_uses_the_profile_tenant(cli: Cli, api: FakeApi, isolated_config: Any) -> None:
    assert cli("config", "set", "tenant", "energy").exit_code == 0
    api.on("GET", "/devices/", {"service": "energy", "servicepath": "/", "total": 0, "devices": []})
    result = cli("devices", "list")
    assert result.exit_code == 0, result.output
    assert api.sent("GET", "/devices/")[0].url.params["service"] == "energy"


def test_devices_list_without_a_tenant_is_a_usage_error(cli: Cli) -> None:
    result = cli("devices", "list")
    assert result.exit_code == 2
    assert "--service" in result.stderr


PREDICTION = {
    "model_id": "m1",
    "training_job_id": "j1",
    "generated_at": "2026-01-02T00:00:00.000Z",
    "interval_seconds": 1800.0,
    "lookback_window": 3,
    "forecast_horizon": 2,
    "last_observation": "2026-01-01T23:30:00.000Z",
    "serving": "network",
    "quality": {"status": "ok", "interpolated_points": 0, "reason": None},
    "context": [
        {"timestamp": "2026-01-01T22:30:00.000Z", "value": 1.0},
        {"timestamp": "2026-01-01T23:00:00.000Z", "value": 2.0},
        {"timestamp": "2026-01-01T23:30:00.000Z", "value": 3.0},
    ],
    "forecast": [
        {"step": 1, "value": 3.5, "target_timestamp": "2026-01-02T00:00:00.000Z",
         "lower": {"80": 3.0, "95": 2.5}, "upper": {"80": 4.0, "95": 4.5}},
        {"step": 2, "value": 4.0, "target_timestamp": "2026-01-02T00:30:00.000Z",
         "lower": {"80": 3.2, "95": 2.7}, "upper": {"80": 4.8, "95": 5.3}},
    ],
    "metadata": {},
}  # fmt: skip


def test_predict_table_shows_both_bounds(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs/j1/predict", PREDICTION)
    result = cli("predict", "m1", "j1", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0] == {
        "step": "1",
        "target_timestamp": "2026-01-02T00:00:00.000Z",
        "value": "3.5",
        "lower 95 %": "2.5",
        "lower 80 %": "3.0",
        "upper 80 %": "4.0",
        "upper 95 %": "4.5",
    }


def test_predict_defaults_to_the_newest_completed_job(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/models/m1/training-jobs",
        {
            "items": [job("failed") | {"id": "j3"}, job("completed") | {"id": "j2"}],
            "total": 2,
            "skip": 0,
            "limit": 100,
        },
    )
    api.on("POST", "/models/m1/training-jobs/j2/predict", PREDICTION)
    result = cli("predict", "m1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == PREDICTION


def test_predict_without_a_completed_job_is_not_found(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/m1/training-jobs", {"items": [job("failed")], "total": 1, "skip": 0, "limit": 100})
    result = cli("predict", "m1")
    assert result.exit_code == 6
    assert "no completed training job" in result.stderr


def test_predict_plot_on_a_non_terminal_is_plain_text(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs/j1/predict", PREDICTION)
    result = cli("predict", "m1", "j1", "--plot")
    assert result.exit_code == 0, result.output
    assert "forecast" in result.stdout and "95 % band" in result.stdout and "context" in result.stdout
    assert "\x1b" not in result.stdout


def test_predict_plot_with_json_keeps_stdout_parseable(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs/j1/predict", PREDICTION)
    result = cli("predict", "m1", "j1", "--plot", "-o", "json")
    assert json.loads(result.stdout) == PREDICTION
    assert "95 % band" in result.stderr


def test_forecasts_enable_and_history(cli: Cli, api: FakeApi) -> None:
    toggle = {
        "model_id": "m1",
        "training_job_id": "j1",
        "enabled": True,
        "interval_seconds": 1800,
        "entity_id": "urn:ngsi-ld:Chronos:Prediction:abc",
        "entity_type": "ChronosPrediction",
        "subscription_id": "s1",
        "next_prediction_at": "2026-01-02T00:00:00.000Z",
    }
    api.on("POST", "/models/m1/training-jobs/j1/prediction-toggle", toggle)
    result = cli("forecasts", "enable", "m1", "j1", "--interval-seconds", "1800", "-o", "json")
    assert result.exit_code == 0, result.output
    assert api.body("POST", "/models/m1/training-jobs/j1/prediction-toggle") == {
        "enabled": True,
        "interval_seconds": 1800,
    }
    assert cli("forecasts", "disable", "m1", "j1").exit_code == 0
    assert api.body("POST", "/models/m1/training-jobs/j1/prediction-toggle") == {"enabled": False}
    history = {
        "entity_id": toggle["entity_id"],
        "entity_type": "ChronosPrediction",
        "items": [
            {"generated_at": "2026-01-02T00:00:00.000Z", "horizon": 2,
             "points": [{"step": 1, "value": 3.5, "targetTimestamp": "2026-01-02T00:30:00.000Z"}]}
        ],
        "total": 1,
        "skip": 0,
        "limit": 20,
    }  # fmt: skip
    api.on("GET", "/models/m1/training-jobs/j1/predictions/history", history)
    shown = cli("forecasts", "history", "m1", "j1", "-o", "csv")
    rows = list(csv.reader(io.StringIO(shown.stdout)))
    assert rows == [
        ["generated_at", "horizon", "points", "first target", "first value"],
        ["2026-01-02T00:00:00.000Z", "2", "1", "2026-01-02T00:30:00.000Z", "3.5"],
    ]


def test_jobs_commands_call_their_routes(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/m1/training-jobs", {"items": [job()], "total": 1, "skip": 0, "limit": 100})
    api.on("GET", "/models/m1/training-jobs/j1", job("training"))
    api.on("POST", "/models/m1/training-jobs/j1/cancel", job("cancelled"))
    api.on("POST", "/models/m1/training-jobs/j1/retry", job("pending"))
    api.on("DELETE", "/models/m1/training-jobs/j1", __import__("httpx").Response(204))
    for args in (("list", "m1"), ("show", "m1", "j1"), ("cancel", "m1", "j1"), ("retry", "m1", "j1")):
        result = cli("jobs", *args, "-o", "json")
        assert result.exit_code == 0, (args, result.output)
        json.loads(result.stdout)
    assert cli("jobs", "delete", "m1", "j1", "-y").exit_code == 0
    assert [(r.method, r.url.path) for r in api.requests] == [
        ("GET", "/dev/models/m1/training-jobs"),
        ("GET", "/dev/models/m1/training-jobs/j1"),
        ("POST", "/dev/models/m1/training-jobs/j1/cancel"),
        ("POST", "/dev/models/m1/training-jobs/j1/retry"),
        ("DELETE", "/dev/models/m1/training-jobs/j1"),
    ]


def test_every_request_carries_the_bearer_token(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/", page([]))
    cli("models", "list", token_value="abc.def.ghi")
    assert api.requests[0].headers["authorization"] == "Bearer abc.def.ghi"
