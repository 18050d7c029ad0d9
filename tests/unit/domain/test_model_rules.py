"""Rules of a model definition: defaults, validation and partial updates."""

from __future__ import annotations

from typing import Any

import pytest

from chronos_core.domain.errors import ValidationError
from chronos_core.domain.model import (
    ModelChanges,
    ModelDraft,
    ModelStatus,
    ModelType,
    apply_update,
    build_model,
    default_patience,
)


def draft(**overrides: Any) -> ModelDraft:
    values: dict[str, Any] = {
        "model_type": "lstm",
        "rnn_layers": [{"units": 32}],
        "feature": "temperature",
        "entity_type": "Sensor",
        "entity_id": "urn:ngsi-ld:Sensor:001",
        "fiware_service": "Smart",
        "fiware_servicepath": "/city/",
    }
    values.update(overrides)
    return ModelDraft.model_validate(values)


def test_defaults_follow_the_reference() -> None:
    model = build_model(draft())
    hp = model.hyperparameters
    assert model.name == "LSTM - temperature"
    assert model.description == "LSTM model for temperature forecasting"
    assert model.status is ModelStatus.DRAFT
    assert (hp.batch_size, hp.epochs, hp.learning_rate) == (32, 100, 0.001)
    assert (hp.validation_ratio, hp.test_ratio) == (0.15, 0.15)
    assert (hp.lookback_window, hp.forecast_horizon) == (24, 1)
    assert hp.early_stopping_patience == 10
    assert hp.dense_layers == []
    assert hp.rnn_layers[0].dropout == 0.1 and hp.rnn_layers[0].recurrent_dropout == 0.0


def test_tenant_is_normalised() -> None:
    model = build_model(draft())
    assert model.source.fiware_service == "smart"
    assert model.source.fiware_servicepath == "/city"


@pytest.mark.parametrize(("epochs", "expected"), [(1, 1), (4, 4), (30, 5), (100, 10), (200, 20), (1000, 20)])
def test_derived_patience_never_exceeds_epochs(epochs: int, expected: int) -> None:
    assert default_patience(epochs) == expected
    assert build_model(draft(epochs=epochs)).hyperparameters.early_stopping_patience == expected


def test_ratio_sum_must_stay_below_one() -> None:
    with pytest.raises(ValidationError) as info:
        build_model(draft(validation_ratio=0.5, test_ratio=0.5))
    assert "validation_ratio + test_ratio" in info.value.details[0]["message"]


def test_explicit_patience_above_epochs_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        build_model(draft(epochs=10, early_stopping_patience=11))
    assert "early_stopping_patience" in info.value.details[0]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entity_id", "bad id"),
        ("entity_id", "a/b"),
        ("entity_type", "x?y"),
        ("feature", "id"),
        ("fiware_service", "no-dash"),
    ],
)
def test_fiware_coordinates_are_validated(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_model(draft(**{field: value}))
    assert info.value.details[0]["field"] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [("lookback_window", 0), ("lookback_window", 8761), ("forecast_horizon", 0), ("rnn_layers", [])],
)
def test_schema_bounds(field: str, value: Any) -> None:
    from pydantic import ValidationError as SchemaError

    with pytest.raises(SchemaError):
        draft(**{field: value})


def test_dropout_must_be_below_one() -> None:
    from pydantic import ValidationError as SchemaError

    with pytest.raises(SchemaError):
        draft(rnn_layers=[{"units": 8, "dropout": 1.0}])


def test_update_regenerates_default_name_and_patience() -> None:
    model = build_model(draft())
    updated = apply_update(
        model, ModelChanges(model_type=ModelType.GRU, epochs=200).model_dump(exclude_unset=True)
    )
    assert updated.name == "GRU - temperature"
    assert updated.description == "GRU model for temperature forecasting"
    assert updated.hyperparameters.early_stopping_patience == 20
    assert updated.created_at == model.created_at
    assert updated.updated_at >= model.updated_at


def test_update_keeps_custom_name_and_explicit_patience() -> None:
    model = build_model(draft(name="Boiler", early_stopping_patience=7))
    updated = apply_update(model, {"feature": "pressure", "epochs": 300})
    assert updated.name == "Boiler"
    assert updated.hyperparameters.early_stopping_patience == 7
    assert updated.source.feature == "pressure"


def test_update_validates_the_merged_definition() -> None:
    model = build_model(draft(validation_ratio=0.4))
    with pytest.raises(ValidationError):
        apply_update(model, {"test_ratio": 0.6})
