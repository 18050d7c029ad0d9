"""The Orion payload of a published forecast and the subscription that feeds STH, against the
NGSI v2 contract of shared/research/fiware-contract.md §2.4-2.5."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chronos_core.adapters.fiware.orion import forecast_attributes, notification_subscription
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import validate_entity
from chronos_core.domain.forecasting import ForecastPoint, ForecastQuality, ForecastSeries, forecast_entity_id
from chronos_core.domain.ids import JobId


def test_forecast_payload_matches_the_ngsi_v2_contract() -> None:
    generated = datetime(2026, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    series = ForecastSeries(
        generated_at=generated,
        horizon=2,
        points=[
            ForecastPoint(step=1, value=1.5, target_timestamp=generated + timedelta(minutes=30)),
            ForecastPoint(step=2, value=2.5, target_timestamp=generated + timedelta(minutes=60)),
        ],
    )
    attributes = forecast_attributes("urn:ngsi-ld:Meter:1", "demand", series)
    entity: dict[str, Any] = {
        "id": forecast_entity_id(JobId("0f8fad5b-d9cb-469f-a165-70867728950e")),
        "type": "Prediction",
    }
    entity.update(attributes)
    validate_entity(entity)  # ids, attribute names, forbidden characters (contract §2.2)
    assert entity["id"] == "urn:ngsi-ld:Chronos:Prediction:0f8fad5bd9cb"
    assert set(attributes) == {"sourceEntity", "feature", "forecastSeries"}  # no quality given
    assert attributes["sourceEntity"] == {"type": "Relationship", "value": "urn:ngsi-ld:Meter:1"}
    assert attributes["feature"] == {"type": "Text", "value": "demand"}
    fs = attributes["forecastSeries"]
    assert fs["type"] == "StructuredValue"
    # DateTime metadata rendered as YYYY-MM-DDThh:mm:ss.sssZ (contract §2.5)
    assert fs["metadata"] == {"TimeInstant": {"type": "DateTime", "value": "2026-03-01T10:00:00.123Z"}}
    assert fs["value"] == {
        "generatedAt": "2026-03-01T10:00:00.123Z",
        "horizon": 2,
        "points": [
            {"step": 1, "value": 1.5, "targetTimestamp": "2026-03-01T10:30:00.123Z"},
            {"step": 2, "value": 2.5, "targetTimestamp": "2026-03-01T11:00:00.123Z"},
        ],
    }


def test_subscription_feeds_sth_in_legacy_format() -> None:
    body = notification_subscription(
        "urn:ngsi-ld:Chronos:Prediction:abc", "Prediction", "http://sth:8666/notify"
    )
    assert body["subject"]["entities"] == [{"id": "urn:ngsi-ld:Chronos:Prediction:abc", "type": "Prediction"}]
    assert body["notification"] == {
        "http": {"url": "http://sth:8666/notify"},
        "attrs": ["forecastSeries"],
        "attrsFormat": "legacy",
    }


def test_a_forecast_result_is_published_with_its_bounds_and_what_served_it() -> None:
    from chronos_core.adapters.fiware.orion import forecast_series_attribute
    from chronos_core.domain.forecasting import ForecastResult, IntervalBand

    last = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    result = ForecastResult(
        values=[1.0, 2.0],
        timestamps=[last + timedelta(minutes=30), last + timedelta(minutes=60)],
        last_observation=last,
        interval_seconds=1800,
        serving="seasonal_naive",
        intervals={"80": IntervalBand(lower=[0.5, 1.0], upper=[1.5, 3.0])},
    )
    series = ForecastSeries.of(result, generated_at=last)
    value = forecast_series_attribute(series)["value"]
    assert value["serving"] == "seasonal_naive" and value["horizon"] == 2
    assert value["points"][1] == {
        "step": 2,
        "value": 2.0,
        "targetTimestamp": "2026-03-01T11:00:00.000Z",
        "lower": {"80": 1.0},
        "upper": {"80": 3.0},
    }


def test_the_forecast_quality_is_published_beside_the_series() -> None:
    from chronos_core.domain.forecasting import ForecastResult

    last = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    quality = ForecastQuality(
        status="degraded",
        interpolated_points=5,
        reason="The latest 4 points follow a gap of 5 missing points (over the limit); bridged.",
    )
    result = ForecastResult(
        values=[1.0],
        timestamps=[last + timedelta(minutes=30)],
        last_observation=last,
        interval_seconds=1800,
        quality=quality,
    )
    series = ForecastSeries.of(result, generated_at=last)
    assert series.quality == quality
    attributes = forecast_attributes("urn:ngsi-ld:Meter:1", "demand", series)
    entity: dict[str, Any] = {"id": "urn:ngsi-ld:Chronos:Prediction:abc", "type": "Prediction", **attributes}
    validate_entity(entity)  # the reason lost the characters Orion forbids
    assert attributes["forecastQuality"] == {
        "type": "StructuredValue",
        "value": {
            "status": "degraded",
            "interpolatedPoints": 5,
            "reason": "The latest 4 points follow a gap of 5 missing points  over the limit   bridged.",
        },
        "metadata": {"TimeInstant": {"type": "DateTime", "value": "2026-03-01T10:00:00.000Z"}},
    }
    assert "quality" not in attributes["forecastSeries"]["value"]  # the series itself is unchanged
    ok = forecast_attributes(
        "urn:ngsi-ld:Meter:1", "demand", series.model_copy(update={"quality": ForecastQuality()})
    )
    assert ok["forecastQuality"]["value"] == {"status": "ok", "interpolatedPoints": 0}
    with pytest.raises(ValidationError, match="reserved"):
        forecast_attributes("urn:ngsi-ld:Meter:1", "demand", series, {"forecastQuality": "fine"})
