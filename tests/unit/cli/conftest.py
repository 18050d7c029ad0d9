"""Fixtures for the CLI's unit tests: an isolated config directory, a fake API behind httpx's
MockTransport, and a runner that invokes ``chronos`` with both."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from chronos_cli.app import app
from chronos_cli.context import State
from typer.testing import CliRunner, Result

API = "http://api.test/dev"


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT-shaped token (the CLI only decodes claims; the API verifies)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def token(roles: list[str] | None = None, tenants: list[str] | None = None, **claims: Any) -> str:
    now = int(time.time())
    return jwt(
        {
            "sub": "tester",
            "iss": "chronos-local",
            "aud": "chronos",
            "iat": now,
            "exp": now + 3600,
            "chronos:roles": roles if roles is not None else ["admin"],
            "chronos:tenants": tenants if tenants is not None else ["*"],
            **claims,
        }
    )


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeApi:
    """Routes ``(METHOD, path)`` to answers; records every request."""

    routes: dict[tuple[str, str], Handler | list[httpx.Response] | httpx.Response] = field(
        default_factory=dict
    )
    requests: list[httpx.Request] = field(default_factory=list)

    def on(
        self, method: str, path: str, answer: Handler | list[httpx.Response] | httpx.Response | Any
    ) -> None:
        if not (callable(answer) or isinstance(answer, list | httpx.Response)):
            answer = httpx.Response(200, json=answer)
        self.routes[(method, path)] = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/dev")
        answer = self.routes.get((request.method, path))
        if answer is None:
            return httpx.Response(
                404, json={"error": "not_found", "message": f"no route {path}", "details": []}
            )
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path.removeprefix("/dev") == path]

    def body(self, method: str, path: str) -> Any:
        return json.loads(self.sent(method, path)[-1].content)


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own config file and no credentials from the environment."""
    for name in (
        "CHRONOS_TOKEN",
        "CHRONOS_TOKEN_FILE",
        "CHRONOS_PROFILE",
        "CHRONOS_API_URL",
        "CHRONOS_TENANT",
        "CHRONOS_SERVICEPATH",
        "CHRONOS_OUTPUT",
        "CHRONOS_ISSUER",
    ):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "chronos" / "config.toml"
    monkeypatch.setenv("CHRONOS_CONFIG", str(path))
    monkeypatch.setenv("NO_COLOR", "1")
    yield path


@dataclass
class Cli:
    api: FakeApi
    sleeps: list[float]

    def __call__(self, *args: str, token_value: str | None = None, input: str | None = None) -> Result:
        env = {"CHRONOS_API_URL": API, "CHRONOS_TOKEN": token_value if token_value is not None else token()}
        state = State(transport=httpx.MockTransport(self.api), sleep=self.sleeps.append)
        return CliRunner().invoke(app, list(args), obj=state, env=env, input=input)


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def cli(api: FakeApi) -> Cli:
    return Cli(api, [])


def error(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None, **headers: str
) -> httpx.Response:
    return httpx.Response(
        status, json={"error": code, "message": message, "details": details or []}, headers=headers
    )


def model(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": "m1",
        "name": "LSTM - demand",
        "description": "d",
        "model_type": "lstm",
        "status": "draft",
        "batch_size": 32,
        "epochs": 100,
        "learning_rate": 0.001,
        "validation_ratio": 0.15,
        "test_ratio": 0.15,
        "rnn_layers": [{"units": 64, "dropout": 0.1, "recurrent_dropout": 0.0}],
        "dense_layers": [],
        "early_stopping_patience": 10,
        "lookback_window": 24,
        "forecast_horizon": 1,
        "sampling_interval": None,
        "season_length": None,
        "feature": "demand",
        "entity_type": "ElectricityMeter",
        "entity_id": "urn:ngsi-ld:ElectricityMeter:a",
        "fiware_service": "energy",
        "fiware_servicepath": "/",
        "has_successful_training": False,
        "serving": None,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
    }
    return {**body, **overrides}


def job(status: str = "pending", **progress: Any) -> dict[str, Any]:
    return {
        "id": "j1",
        "model_id": "m1",
        "status": status,
        "phase": None,
        "last_n": 100,
        "points_available": 100,
        "progress": {
            "chunks_total": 0,
            "chunks_done": 0,
            "points_expected": 0,
            "points_collected": 0,
            "epoch": 0,
            "epochs": 0,
            "loss": None,
            "val_loss": None,
            "training_phase": None,
            "percent": 0.0,
            **progress,
        },
        "phases": {},
        "metrics": None,
        "serving": None,
        "error": None,
        "execution": {"name": "j1-1", "arn": None, "attempt": 1, "console_url": None},
        "prediction_config": None,
        "next_prediction_at": None,
        "last_forecast": None,
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
        "started_at": "2026-01-01T00:00:00.000Z",
        "ended_at": None,
        "duration_seconds": None,
    }
