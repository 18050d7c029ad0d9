"""``POST /v2/op/update`` against the sandbox, as ``fiware-contract.md`` §2.6 states it: 204 on
success, every item applied even when some fail, 422 ``PartialUpdate`` for mixed results, 404
``NotFound`` when none of the entities exist for update; and the forecast publisher's batch
(several forecast entities in one request, one per tenant)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from chronos_core.adapters.fiware import OrionClient, RetryPolicy
from chronos_core.adapters.fiware.forecasts import OrionForecastPublisher
from chronos_core.domain.fiware import FiwareTenant
from chronos_core.domain.forecasting import ForecastPoint, ForecastSeries
from chronos_core.domain.model import utcnow
from local.fiware_sandbox.testing import Sandbox
from tests.support.builders import prediction_config

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=2, initial_delay=0.01, max_delay=0.02)


def _batch(sandbox: Sandbox, service: str, action: str, entities: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(
        f"{sandbox.orion_url}/v2/op/update",
        json={"actionType": action, "entities": entities},
        headers={"Fiware-Service": service, "Fiware-ServicePath": "/"},
        timeout=10,
    )


def _entity(sandbox: Sandbox, service: str, entity_id: str) -> httpx.Response:
    return httpx.get(
        f"{sandbox.orion_url}/v2/entities/{entity_id}",
        params={"type": "Room"},
        headers={"Fiware-Service": service, "Fiware-ServicePath": "/"},
        timeout=10,
    )


def test_a_mixed_update_applies_every_item_it_can_and_answers_partial_update(
    sandbox: Sandbox, service: str
) -> None:
    room = {"id": "Room1", "type": "Room", "t": {"type": "Number", "value": 1}}
    assert _batch(sandbox, service, "append", [room]).status_code == 204
    missing_first = [
        {"id": "Missing", "type": "Room", "t": {"type": "Number", "value": 2}},
        {"id": "Room1", "type": "Room", "t": {"type": "Number", "value": 3}},
    ]
    response = _batch(sandbox, service, "update", missing_first)
    assert response.status_code == 422
    assert response.json()["error"] == "PartialUpdate"
    assert "Missing" in response.json()["description"]
    # The item after the failing one was applied (Orion goes on; the batch is not atomic).
    assert _entity(sandbox, service, "Room1").json()["t"]["value"] == 3


def test_an_update_of_entities_none_of_which_exist_is_not_found(sandbox: Sandbox, service: str) -> None:
    response = _batch(sandbox, service, "update", [{"id": "Nope", "type": "Room", "t": {"value": 1}}])
    assert response.status_code == 404 and response.json()["error"] == "NotFound"


def test_an_empty_batch_is_a_bad_request(sandbox: Sandbox, service: str) -> None:
    response = _batch(sandbox, service, "append", [])
    assert response.status_code == 400 and "empty entities vector" in response.json()["description"]


def test_the_publisher_sends_a_batch_of_forecasts_in_one_request_per_tenant(
    sandbox: Sandbox, service: str
) -> None:
    now = utcnow()
    series = ForecastSeries(
        generated_at=now,
        horizon=1,
        points=[ForecastPoint(step=1, value=1.5, target_timestamp=now + timedelta(minutes=1))],
    )
    configs = [
        prediction_config(fiware_service=service, fiware_servicepath="/", entity_id=f"urn:x:Prediction:{i}")
        for i in range(5)
    ]
    since = sandbox.requests("orion")[-1]["seq"] if sandbox.requests("orion") else 0
    with OrionClient(sandbox.orion_url, retry=FAST) as orion:
        results = OrionForecastPublisher(orion).publish_many([(config, series) for config in configs])
        assert results == [None] * 5
        for config in configs:
            entity = orion.get_entity(FiwareTenant(service, "/"), config.entity_id, entity_type="Prediction")
            assert entity["forecastSeries"]["value"]["points"][0]["value"] == 1.5
    writes = [r for r in sandbox.requests("orion", since=since) if r["method"] == "POST"]
    assert [r["path"] for r in writes] == ["/v2/op/update"]
    assert sorted(writes[0]["entities"]) == sorted(f"{c.entity_id}/Prediction" for c in configs)
