"""The sampling interval and season length of a model definition: ISO-8601 parsing and rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError as SchemaError

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.model import Model, ModelChanges, apply_update, build_model, flatten
from chronos_core.domain.sampling import (
    SamplingInterval,
    canonical_sampling_interval,
    parse_sampling_interval,
)
from chronos_core.ml.config import TrainingConfig, training_config_for

from .test_model_rules import draft


@pytest.mark.parametrize(
    ("text", "parsed", "canonical"),
    [
        ("PT30M", SamplingInterval("seconds", 1800.0), "PT30M"),
        ("PT1800S", SamplingInterval("seconds", 1800.0), "PT30M"),
        ("PT1H", SamplingInterval("seconds", 3600.0), "PT1H"),
        ("PT90M", SamplingInterval("seconds", 5400.0), "PT1H30M"),
        ("P1D", SamplingInterval("seconds", 86400.0), "P1D"),
        ("P1DT12H", SamplingInterval("seconds", 129600.0), "P1DT12H"),
        ("P7D", SamplingInterval("seconds", 604800.0), "P1W"),
        ("P1W", SamplingInterval("seconds", 604800.0), "P1W"),
        ("PT0.5S", SamplingInterval("seconds", 0.5), "PT0.5S"),
        ("P1M", SamplingInterval("months", 1.0), "P1M"),
        ("P3M", SamplingInterval("months", 3.0), "P3M"),
        ("P12M", SamplingInterval("months", 12.0), "P1Y"),
        ("P1Y", SamplingInterval("months", 12.0), "P1Y"),
        (" p1m ", SamplingInterval("months", 1.0), "P1M"),
    ],
)
def test_supported_durations_parse_to_one_canonical_spelling(
    text: str, parsed: SamplingInterval, canonical: str
) -> None:
    assert parse_sampling_interval(text) == parsed
    assert canonical_sampling_interval(text) == canonical


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a supported"),
        ("P", "not a supported"),
        ("PT", "not a supported"),
        ("1h", "not a supported"),
        ("-P1D", "not a supported"),
        ("P1.5M", "not a supported"),
        ("PT0.0001S", "not a supported"),
        ("P0D", "zero"),
        ("PT0S", "zero"),
        ("P1M2D", "mixes calendar months"),
        ("P1YT1H", "mixes calendar months"),
        ("P11Y", "longer than"),
    ],
)
def test_unsupported_durations_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_sampling_interval(text)


def test_a_definition_stores_the_canonical_interval_and_season() -> None:
    model = build_model(draft(sampling_interval="PT1800S", season_length=48))
    assert model.hyperparameters.sampling_interval == "PT30M"
    assert model.hyperparameters.season_length == 48
    config = training_config_for(model)
    assert (config.sampling_interval, config.season_length) == ("PT30M", 48)


def test_unset_interval_and_season_mean_detection() -> None:
    model = build_model(draft())
    assert model.hyperparameters.sampling_interval is None
    assert model.hyperparameters.season_length is None
    config = training_config_for(model)
    assert config.sampling_interval is None and config.season_length is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sampling_interval", "monthly"),
        ("sampling_interval", "P0D"),
        ("sampling_interval", "P1M15D"),
        ("sampling_interval", 3600),
        ("season_length", 0),
        ("season_length", 20_001),
        ("season_length", "24"),
        ("season_length", True),
    ],
)
def test_bad_values_name_their_field(field: str, value: Any) -> None:
    with pytest.raises(SchemaError) as err:
        draft(**{field: value})
    assert [e["loc"] for e in err.value.errors()] == [(field,)]
    # The same rule on an update of a stored definition: a domain ValidationError naming it.
    model = build_model(draft())
    with pytest.raises(ValidationError) as domain_err:
        apply_update(model, {field: value})
    assert [d["field"] for d in domain_err.value.details] == [field]


def test_a_partial_update_sets_and_keeps_the_interval() -> None:
    model = build_model(draft())
    monthly = apply_update(model, ModelChanges(sampling_interval="P1M").model_dump(exclude_unset=True))
    assert monthly.hyperparameters.sampling_interval == "P1M"
    kept = apply_update(monthly, ModelChanges(epochs=10).model_dump(exclude_unset=True))
    assert kept.hyperparameters.sampling_interval == "P1M"


def test_a_definition_stored_before_these_fields_still_loads() -> None:
    stored = flatten(build_model(draft()))
    hyper = {
        k: stored[k]
        for k in (
            "batch_size",
            "epochs",
            "learning_rate",
            "validation_ratio",
            "test_ratio",
            "rnn_layers",
            "dense_layers",
            "early_stopping_patience",
            "lookback_window",
            "forecast_horizon",
        )
    }
    model = Model.model_validate(
        {
            "name": "old",
            "description": "",
            "model_type": "lstm",
            "hyperparameters": hyper,
            "source": {
                "entity_type": "Sensor",
                "entity_id": "urn:ngsi-ld:Sensor:001",
                "feature": "temperature",
                "fiware_service": "smart",
            },
        }
    )
    assert model.hyperparameters.sampling_interval is None
    assert training_config_for(model).sampling_interval is None


def test_the_training_config_refuses_an_unsupported_interval() -> None:
    with pytest.raises(SchemaError) as err:
        TrainingConfig(sampling_interval="P1M1D")
    assert err.value.errors()[0]["loc"] == ("sampling_interval",)
    assert TrainingConfig(sampling_interval="P12M").sampling_interval == "P1Y"
