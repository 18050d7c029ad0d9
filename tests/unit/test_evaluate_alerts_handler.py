"""The evaluator's entry point: the schedule evaluates at the current time, a direct invocation at
the time it names (``detail.evaluate_at``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chronos_core.application.monitoring.commands import EvaluationTick
from chronos_core.application.monitoring.evaluation import EvaluationResult
from tests.support.lambda_runtime import FakeLambdaContext, load_event, load_handler_module


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[EvaluationTick]]:
    module = load_handler_module("evaluate_alerts")
    seen: list[EvaluationTick] = []

    def evaluate_due(deps: object, command: EvaluationTick) -> EvaluationResult:
        seen.append(command)
        return EvaluationResult(rules=3)

    monkeypatch.setattr(module, "evaluate_due", evaluate_due)
    monkeypatch.setattr(module, "services", lambda: object())
    return module, seen


def test_the_scheduled_event_evaluates_now_with_its_id_as_correlation(ticks: Any) -> None:
    module, seen = ticks
    before = datetime.now(UTC) - timedelta(milliseconds=1)  # utcnow() keeps milliseconds
    event = load_event("evaluate_alerts.json")
    assert module.handler(event, FakeLambdaContext())["rules"] == 3
    assert seen[0].correlation_id == event["id"]
    assert before <= seen[0].now <= datetime.now(UTC)


def test_a_direct_invocation_evaluates_at_the_time_it_names(ticks: Any) -> None:
    module, seen = ticks
    at = datetime(2030, 5, 1, 12, 0, tzinfo=UTC) + timedelta(hours=2)
    module.handler({"detail": {"evaluate_at": "2030-05-01T16:00:00+02:00"}}, FakeLambdaContext())
    assert seen[0].now == at and seen[0].correlation_id


def test_a_naive_or_unreadable_time_is_refused(ticks: Any) -> None:
    module, seen = ticks
    for bad in ("2030-05-01T12:00:00", "tomorrow"):
        with pytest.raises(ValidationError, match="evaluate_at"):
            module.handler({"detail": {"evaluate_at": bad}}, FakeLambdaContext())
    assert seen == []
