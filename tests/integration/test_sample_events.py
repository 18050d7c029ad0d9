"""Every sample event in events/ is invoked against its handler, as `sam local invoke` would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.database import Database

from chronos_core import bootstrap
from chronos_core.adapters.mongo import Document
from tests.support.auth import TEST_SECRET, token
from tests.support.lambda_runtime import EVENTS, FakeLambdaContext, load_event, load_handler_module

pytestmark = pytest.mark.integration

# event file -> (function folder, expected outcome): an HTTP status for API events, the exact
# result for the others.
EXPECTED: dict[str, tuple[str, int | dict[str, Any]]] = {
    "api_health.json": ("api", 200),
    "api_info.json": ("api", 200),
    "api_list_models.json": ("api", 200),
    "api_model_types.json": ("api", 200),
    "api_create_model.json": ("api", 201),
    "api_create_model_invalid.json": ("api", 422),
    "api_get_model_missing.json": ("api", 404),
    # An empty database: nothing is due, nothing is claimed or sent (no queue needed).
    "schedule_forecasts.json": (
        "schedule_forecasts",
        {"due": 0, "claimed": 0, "enqueued": 0, "released": 0, "lost": 0},
    ),
    # A message for a job that does not exist is acknowledged and skipped (retrying could never
    # succeed), so it reports no batch item failure.
    "execute_forecast_missing_job.json": ("execute_forecast", {"batchItemFailures": []}),
    # An empty database: no running job, nothing to reconcile (Step Functions is not called).
    "reconcile_training.json": ("reconcile_training", {"checked": 0, "failed": [], "started": []}),
    # An empty database: no rule, nothing claimed, evaluated or queued (no queue needed).
    "evaluate_alerts.json": (
        "evaluate_alerts",
        {
            "rules": 0,
            "claimed": 0,
            "evaluated": 0,
            "transitions": 0,
            "firing": 0,
            "resolved": 0,
            "notifications": 0,
            "queued": 0,
            "errors": 0,
            "outcomes": 0,
            "resent": 0,
            "retrain_requests": 0,
        },
    ),  # fmt: skip
    # A message for a notification that does not exist is acknowledged and skipped.
    "deliver_notifications_missing.json": ("deliver_notifications", {"batchItemFailures": []}),
    # An empty database: no policy, nothing due (the event's "now" picks the tick's time).
    "schedule_retraining.json": (
        "schedule_retraining",
        {"policies": 0, "due": 0, "claimed": 0, "lost": 0, "deferred": 0, "outcomes": {}, "dispatched": 0},
    ),
}


@pytest.fixture
def configured(mongo_db: Database[Document], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CHRONOS_MONGODB_DATABASE", mongo_db.name)
    monkeypatch.setenv("CHRONOS_AUTH_JWT_SECRET", TEST_SECRET)
    monkeypatch.delenv("CHRONOS_AUTH_JWT_SECRET_PARAMETER", raising=False)
    for name in (
        "CHRONOS_DATA_BUCKET",
        "CHRONOS_TRAINING_STATE_MACHINE_ARN",
        "CHRONOS_FORECAST_QUEUE_URL",
        "CHRONOS_ALERT_QUEUE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    bootstrap.reset()
    yield
    bootstrap.reset()


def with_fresh_token(event: dict[str, Any]) -> dict[str, Any]:
    """Sample events carry a placeholder bearer token; a real one is minted per run."""
    for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
        if "Authorization" in headers:
            value = f"Bearer {token(['admin'], ['*'])}"
            headers["Authorization"] = value if isinstance(headers["Authorization"], str) else [value]
    return event


def test_every_event_file_has_an_expectation() -> None:
    """Each sample event is invoked here or, for the training steps (which need a job, a series
    and a bucket), by tests/integration/test_pipeline_handlers.py."""
    from tests.integration.test_anomaly_scan_handlers import ANOMALY_EVENTS
    from tests.integration.test_pipeline_handlers import PIPELINE_EVENTS

    assert not set(EXPECTED) & set(PIPELINE_EVENTS)
    assert not set(EXPECTED) & set(ANOMALY_EVENTS)
    covered = {*EXPECTED, *PIPELINE_EVENTS, *ANOMALY_EVENTS}
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(covered)


@pytest.mark.parametrize("event_name", sorted(EXPECTED))
def test_sample_event(event_name: str, configured: None) -> None:
    function, expected = EXPECTED[event_name]
    module = load_handler_module(function)
    result: dict[str, Any] = module.handler(with_fresh_token(load_event(event_name)), FakeLambdaContext())
    if isinstance(expected, dict):
        assert result == expected
        return
    assert result["statusCode"] == expected, result.get("body")
    body = json.loads(result["body"])
    if expected >= 400:
        assert body["error"] and body["message"]
