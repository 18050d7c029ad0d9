"""Model use cases over the fakes: tenant rules, defaults, edits only in draft, deletion with jobs."""

from __future__ import annotations

import pytest

from chronos_core.application.models.commands import (
    CreateModel,
    DeleteModel,
    GetModel,
    ListModels,
    UpdateModel,
)
from chronos_core.application.models.definitions import (
    create_model,
    get_model,
    list_models,
    model_types,
    update_model,
)
from chronos_core.application.models.removal import delete_model
from chronos_core.application.ports.models import ModelFilter
from chronos_core.domain.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import ModelChanges, ModelDraft, ModelStatus
from tests.support.builders import model, principal, trained_job
from tests.support.fakes import (
    InMemoryModelRepository,
    InMemoryObjectStore,
    InMemoryTrainingJobs,
    fake_services,
)

DRAFT = {
    "model_type": "lstm",
    "rnn_layers": [{"units": 8}],
    "feature": "level",
    "entity_type": "Tank",
    "entity_id": "urn:x:Tank:1",
    "fiware_service": "Water",
}


def test_create_applies_defaults_and_stores_a_draft() -> None:
    services = fake_services()
    created = create_model(
        services, CreateModel(principal=principal(), draft=ModelDraft.model_validate(DRAFT))
    )
    assert created.status == ModelStatus.DRAFT and created.name == "LSTM - level"
    assert created.source.fiware_service == "water"  # lowercased as Orion does
    assert services.models.get(created.id) == created


def test_create_in_a_tenant_the_caller_does_not_hold_is_forbidden() -> None:
    with pytest.raises(PermissionDeniedError):
        create_model(
            fake_services(),
            CreateModel(
                principal=principal(tenants=frozenset({"energy"})), draft=ModelDraft.model_validate(DRAFT)
            ),
        )


def test_another_tenants_model_is_not_found_and_not_listed() -> None:
    services = fake_services(
        models=InMemoryModelRepository(model("m-energy"), model("m-water", fiware_service="water"))
    )
    energy = principal(tenants=frozenset({"energy"}))
    with pytest.raises(NotFoundError):
        get_model(services, GetModel(principal=energy, model_id=ModelId("m-water")))
    page = list_models(services, ListModels(principal=energy, filters=ModelFilter()))
    assert [m.id for m in page.items] == ["m-energy"] and page.total == 1
    assert list_models(services, ListModels(principal=principal(), filters=ModelFilter())).total == 2


def test_update_only_in_draft_and_validated_as_a_whole() -> None:
    services = fake_services(
        models=InMemoryModelRepository(model("m1"), model("m2", status=ModelStatus.TRAINED))
    )
    command = UpdateModel(principal=principal(), model_id=ModelId("m1"), changes=ModelChanges(epochs=10))
    updated = update_model(services, command)
    assert updated.hyperparameters.epochs == 10 and updated.hyperparameters.early_stopping_patience == 5
    with pytest.raises(ConflictError):
        update_model(
            services, UpdateModel(principal=principal(), model_id=ModelId("m2"), changes=ModelChanges())
        )
    with pytest.raises(ValidationError):
        update_model(
            services,
            UpdateModel(
                principal=principal(), model_id=ModelId("m1"), changes=ModelChanges(validation_ratio=0.9)
            ),
        )


def test_delete_removes_the_jobs_and_what_they_left_then_the_model() -> None:
    objects = InMemoryObjectStore()
    objects.put_json("jobs/job-1/dataset.json", {})
    services = fake_services(
        models=InMemoryModelRepository(model(status=ModelStatus.TRAINED)),
        jobs=InMemoryTrainingJobs(trained_job()),
        objects=objects,
    )
    delete_model(services, DeleteModel(principal=principal(), model_id=ModelId("model-1")))
    assert services.models.get(ModelId("model-1")) is None
    assert services.jobs.ids_for_model(ModelId("model-1")) == []
    assert objects.objects == {}


def test_a_training_model_cannot_be_deleted() -> None:
    services = fake_services(models=InMemoryModelRepository(model(status=ModelStatus.TRAINING)))
    with pytest.raises(ConflictError):
        delete_model(services, DeleteModel(principal=principal(), model_id=ModelId("model-1")))
    assert services.models.get(ModelId("model-1")) is not None


def test_model_types_are_labelled() -> None:
    assert model_types() == [{"value": "lstm", "label": "LSTM"}, {"value": "gru", "label": "GRU"}]


def test_a_model_whose_training_is_starting_cannot_be_deleted_and_the_claim_is_given_back() -> None:
    from chronos_core.domain.training_job import TrainingStatus
    from tests.support.builders import job

    models = InMemoryModelRepository(model(status=ModelStatus.TRAINED))
    services = fake_services(models=models, jobs=InMemoryTrainingJobs(job(status=TrainingStatus.PENDING)))
    with pytest.raises(ConflictError):  # a job is running: the purge refuses, the claim goes back
        delete_model(services, DeleteModel(principal=principal(), model_id=ModelId("model-1")))
    assert models.claims == set() and models.get(ModelId("model-1")) is not None
    assert models.claim_for_deletion(ModelId("model-1"))  # a deletion in progress...
    with pytest.raises(ConflictError, match="starting"):
        delete_model(services, DeleteModel(principal=principal(), model_id=ModelId("model-1")))
    assert not models.claim_for_training(ModelId("model-1"))  # ...and no training can start
