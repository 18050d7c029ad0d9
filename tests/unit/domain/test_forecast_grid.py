"""The recurring-forecast grid: drift-free, catch-up without replay, millisecond precision; and
the message and idempotency key of a slot."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chronos_core.domain.forecasting import ForecastMessage, advance, forecast_entity_id, run_key
from chronos_core.domain.ids import JobId
from tests.support.builders import T0


@pytest.mark.parametrize(
    ("now_offset", "expected_slot", "expected_next"),
    [
        (0, 0, 60),  # exactly due
        (59.999, 0, 60),  # still the same slot
        (60, 60, 120),  # the next slot is due
        (61, 60, 120),
        (3600 * 24 + 5, 3600 * 24, 3600 * 24 + 60),  # a day of missed slots: one forecast, skip the rest
    ],
)
def test_advance_is_on_the_grid_and_skips_missed_slots(
    now_offset: float, expected_slot: float, expected_next: float
) -> None:
    slot, next_slot = advance(T0, 60, T0 + timedelta(seconds=now_offset))
    assert slot == T0 + timedelta(seconds=expected_slot)
    assert next_slot == T0 + timedelta(seconds=expected_next)
    assert next_slot > T0 + timedelta(seconds=now_offset)


def test_advance_does_not_drift_with_scheduler_latency() -> None:
    """Ticks arriving late by a random latency never move the grid."""
    stored = T0
    for tick in range(1, 500):
        now = T0 + timedelta(seconds=tick * 60 + (tick * 7919 % 50))  # 0..49 s late
        if stored <= now:
            _, stored = advance(stored, 60, now)
        assert (stored - T0).total_seconds() % 60 == 0
    assert stored == T0 + timedelta(seconds=500 * 60)


def test_advance_with_fractional_interval_stays_on_the_millisecond_grid() -> None:
    stored = T0
    for k in range(1, 1000):
        _, stored = advance(stored, 90.5, T0 + timedelta(seconds=k * 90.5 - 0.001))
    assert stored == T0 + timedelta(milliseconds=999 * 90_500)


def test_message_body_round_trip() -> None:
    message = ForecastMessage(job_id=JobId("job-1"), slot=T0 + timedelta(milliseconds=5))
    assert message.to_body() == {"job_id": "job-1", "slot": "2026-01-01T00:00:00.005Z"}
    assert ForecastMessage.model_validate(message.to_body()) == message
    assert message.key == "job-1|2026-01-01T00:00:00.005Z" == run_key(message.job_id, message.slot)


def test_forecast_entity_id_is_derived_from_the_job() -> None:
    assert forecast_entity_id(JobId("0f8fad5b-d9cb-469f-a165-70867728950e")) == (
        "urn:ngsi-ld:Chronos:Prediction:0f8fad5bd9cb"
    )
