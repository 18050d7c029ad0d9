"""Creating, reading, listing and editing model definitions."""

from __future__ import annotations

from dataclasses import replace

from chronos_core.application.models.commands import CreateModel, GetModel, ListModels, UpdateModel
from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.models import Page
from chronos_core.domain.errors import ConflictError, NotFoundError
from chronos_core.domain.model import Model, ModelStatus, ModelType, apply_update, build_model
from chronos_core.observability import logger


def model_types() -> list[dict[str, str]]:
    """The recurrent cell types a model may use, with display labels."""
    return [{"value": t.value, "label": t.label} for t in ModelType]


def create_model(deps: ModelsDeps, command: CreateModel) -> Model:
    """Validate the draft, apply defaults and store it as a new ``draft`` model.

    Raises ValidationError (details name the fields) and PermissionDeniedError (the caller does
    not hold the model's FIWARE service).
    """
    model = build_model(command.draft)
    command.principal.require_tenant_for_write(model.source.fiware_service)
    hyper = model.hyperparameters
    if hyper.dense_layers and hyper.dense_layers[-1].units == 1:
        logger.warning(
            "The last dense layer has one unit; the output head is added on top of it",
            extra={"model_id": model.id},
        )
    deps.models.add(model)
    logger.info("Model created", extra={"model_id": model.id, "model_type": model.model_type.value})
    return model


def get_model(deps: ModelsDeps, command: GetModel) -> Model:
    """The model. Raises NotFoundError (also for another tenant's model)."""
    model = deps.models.get(command.model_id)
    if model is None:
        raise NotFoundError(f"Model {command.model_id} not found")
    command.principal.require_tenant(model.source.fiware_service, resource=f"Model {command.model_id}")
    return model


def list_models(deps: ModelsDeps, command: ListModels) -> Page[Model]:
    """One page of the caller's models matching the filters, newest first, with the total."""
    filters = replace(command.filters, services=command.principal.visible_services())
    return deps.models.list(filters, command.skip, command.limit)


def update_model(deps: ModelsDeps, command: UpdateModel) -> Model:
    """Apply a partial update to a ``draft`` model.

    Raises NotFoundError, ConflictError (the model is not in ``draft``), ValidationError (the
    merged definition breaks a rule) and PermissionDeniedError (it moves the model to a service
    the caller does not hold).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    if not model.is_editable():
        raise ConflictError(
            f"Model {model.id} cannot be edited in status {model.status.value}; only draft models can",
            details=[{"field": "status", "message": f"is {model.status.value}, must be draft"}],
        )
    updated = apply_update(model, command.changes.model_dump(exclude_unset=True))
    command.principal.require_tenant_for_write(updated.source.fiware_service)
    if not deps.models.replace_if_status(updated, ModelStatus.DRAFT):
        raise ConflictError(f"Model {model.id} changed status while being edited; retry")
    logger.info("Model updated", extra={"model_id": model.id})
    return updated
