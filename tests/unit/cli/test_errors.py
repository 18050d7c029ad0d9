"""API errors become one clear message and a documented exit code; reads retry on 503."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from chronos_cli.client import backoff_seconds, retry_after_seconds
from chronos_cli.errors import ExitCode

from tests.unit.cli.conftest import Cli, FakeApi, error, model, token


def test_422_names_each_field(cli: Cli, api: FakeApi) -> None:
    api.on(
        "POST",
        "/models/",
        error(
            422,
            "validation_error",
            "Invalid request: epochs, lookback_window",
            [
                {"field": "epochs", "message": "Input should be less than or equal to 1000"},
                {"field": "lookback_window", "message": "not enough points"},
            ],
        ),
    )
    result = cli(
        "models", "create", "--entity-type", "T", "--entity-id", "e", "--feature", "f", "-s", "energy"
    )
    assert result.exit_code == ExitCode.INVALID == 3
    assert "Invalid input: epochs, lookback_window" in result.stderr
    assert "epochs: Input should be less than or equal to 1000" in result.stderr
    assert "lookback_window: not enough points" in result.stderr


def test_403_says_which_role_and_what_the_token_holds(cli: Cli, api: FakeApi) -> None:
    api.on("DELETE", "/models/m1", error(403, "permission_denied", "This operation needs the admin role"))
    result = cli("models", "delete", "m1", "-y", token_value=token(["reader"], ["energy"]))
    assert result.exit_code == ExitCode.FORBIDDEN == 5
    assert "needs the admin role" in result.stderr
    assert "roles: reader; tenants: energy" in result.stderr


def test_403_on_a_tenant(cli: Cli, api: FakeApi) -> None:
    api.on(
        "POST",
        "/models/",
        error(403, "permission_denied", "The token does not grant the FIWARE service 'water'"),
    )
    result = cli(
        "models", "create", "--entity-type", "T", "--entity-id", "e", "--feature", "f", "-s", "water",
        token_value=token(["admin"], ["energy"]),
    )  # fmt: skip
    assert result.exit_code == 5
    assert "does not grant the FIWARE service 'water'" in result.stderr
    assert "tenants: energy" in result.stderr


def test_409_says_what_it_conflicts_with(cli: Cli, api: FakeApi) -> None:
    api.on("PATCH", "/models/m1", error(409, "conflict", "Model m1 is trained; only draft models can change"))
    result = cli("models", "update", "m1", "--epochs", "3")
    assert result.exit_code == ExitCode.CONFLICT == 7
    assert "Conflict: Model m1 is trained; only draft models can change" in result.stderr


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [(401, "unauthorized", 4), (404, "not_found", 6), (502, "upstream_error", 9), (500, "internal_error", 1)],
)
def test_status_to_exit_code(cli: Cli, api: FakeApi, status: int, code: str, exit_code: int) -> None:
    api.on("GET", "/models/m1", error(status, code, "boom"))
    result = cli("models", "show", "m1")
    assert result.exit_code == exit_code
    assert "boom" in result.stderr


def test_json_errors_on_stderr_keep_the_api_body(cli: Cli, api: FakeApi) -> None:
    api.on("GET", "/models/m1", error(404, "not_found", "Model not found"))
    result = cli("models", "show", "m1", "-o", "json")
    assert result.stdout == ""
    body = json.loads(result.stderr)
    assert body["exit_code"] == 6
    assert body["api"] == {"status": 404, "error": "not_found", "message": "Model not found", "details": []}


def test_no_credentials_is_an_authentication_error(cli: Cli, api: FakeApi) -> None:
    result = cli("models", "list", token_value="")
    assert result.exit_code == ExitCode.AUTHENTICATION
    assert "chronos login" in result.stderr
    assert not api.requests


def test_reads_retry_on_503_honouring_retry_after(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET",
        "/models/m1",
        [
            error(503, "dependency_unavailable", "MongoDB is down", **{"Retry-After": "5"}),
            httpx.Response(200, json=model()),
        ],
    )
    result = cli("models", "show", "m1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert len(api.sent("GET", "/models/m1")) == 2
    assert cli.sleeps == [5.0]


def test_reads_give_up_after_the_attempts(cli: Cli, api: FakeApi) -> None:
    api.on(
        "GET", "/models/m1", error(503, "dependency_unavailable", "MongoDB is down", **{"Retry-After": "1"})
    )
    result = cli("models", "show", "m1")
    assert result.exit_code == ExitCode.UNAVAILABLE == 8
    assert len(api.sent("GET", "/models/m1")) == 4
    assert "MongoDB is down" in result.stderr and "Gave up after 4 attempts" in result.stderr


def test_writes_are_not_retried(cli: Cli, api: FakeApi) -> None:
    api.on("POST", "/models/m1/training-jobs", error(503, "dependency_unavailable", "down"))
    result = cli("train", "start", "m1")
    assert result.exit_code == 8
    assert len(api.sent("POST", "/models/m1/training-jobs")) == 1
    assert cli.sleeps == []


def test_connection_errors_are_retried_for_reads(cli: Cli, api: FakeApi) -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=model())

    api.on("GET", "/models/m1", refuse)
    result = cli("models", "show", "m1", "-o", "json")
    assert result.exit_code == 0, result.output
    assert len(calls) == 3 and len(cli.sleeps) == 2


def test_an_unreachable_api_is_unavailable(cli: Cli, api: FakeApi) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api.on("POST", "/models/m1/training-jobs", refuse)
    result = cli("train", "start", "m1")
    assert result.exit_code == 8
    assert "cannot be reached" in result.stderr


def test_retry_after_as_seconds_or_http_date() -> None:
    assert retry_after_seconds("7") == 7.0
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_seconds(1, lambda: 1.0) == 0.5
    assert backoff_seconds(3, lambda: 1.0) == 2.0
    assert backoff_seconds(10, lambda: 1.0) == 8.0
    assert backoff_seconds(2, lambda: 0.0) == 0.0


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("models", "show").exit_code == 2
    assert cli("models", "list", "--limit", "0").exit_code == 2
    assert cli("nosuchcommand").exit_code == 2
