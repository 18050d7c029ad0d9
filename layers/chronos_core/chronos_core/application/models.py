"""Use cases for model definitions: create, read, list, update and delete.

Every use case takes the calling :class:`Principal`: models of a FIWARE service the caller does
not hold are invisible (404), and creating one there is forbidden (403). Role checks happen at
the entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chronos_core.application.ports import ModelFilter, ModelRepository, Page
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import ConflictError, NotFoundError
from chronos_core.domain.model import (
    Model,
    ModelChanges,
    ModelDraft,
    ModelStatus,
    ModelType,
    apply_update,
    build_model,
)
from chronos_core.observability import logger


def model_types() -> list[dict[str, str]]:
    """The recurrent cell types a model may use, with display labels."""
    return [{"value": t.value, "label": t.label} for t in ModelType]


def create_model(repository: ModelRepository, principal: Principal, draft: ModelDraft) -> Model:
    """Validate ``draft``, apply defaults and store it as a new ``draft`` model.

    Raises:
        ValidationError: a rule failed (details name the fields).
        PermissionDeniedError: the caller does not hold the model's FIWARE service.
    """
    model = build_model(draft)
    principal.require_tenant_for_write(model.source.fiware_service)
    if model.hyperparameters.dense_layers and model.hyperparameters.dense_layers[-1].units == 1:
        logger.warning(
            "The last dense layer has one unit; the output head is added on top of it",
            extra={"model_id": model.id},
        )
    repository.add(model)
    logger.info("Model created", extra={"model_id": model.id, "model_type": model.model_type.value})
    return model


def get_model(repository: ModelRepository, principal: Principal, model_id: str) -> Model:
    """The model with ``model_id``. Raises NotFoundError (also for another tenant's model)."""
    model = repository.get(model_id)
    if model is None:
        raise NotFoundError(f"Model {model_id} not found")
    principal.require_tenant(model.source.fiware_service, resource=f"Model {model_id}")
    return model


def list_models(
    repository: ModelRepository, principal: Principal, filters: ModelFilter, skip: int, limit: int
) -> Page[Model]:
    """One page of the caller's models matching ``filters``, newest first, with the total."""
    return repository.list(replace(filters, services=principal.visible_services()), skip, limit)


def update_model(
    repository: ModelRepository, principal: Principal, model_id: str, changes: ModelChanges
) -> Model:
    """Apply a partial update to a ``draft`` model.

    Raises:
        NotFoundError: no such model (for this caller).
        ConflictError: the model is not in ``draft`` (it is training or trained).
        ValidationError: the merged definition breaks a rule.
        PermissionDeniedError: the update moves the model to a service the caller does not hold.
    """
    model = get_model(repository, principal, model_id)
    if not model.is_editable():
        raise ConflictError(
            f"Model {model_id} cannot be edited in status {model.status.value}; only draft models can",
            details=[{"field": "status", "message": f"is {model.status.value}, must be draft"}],
        )
    updated = apply_update(model, changes.model_dump(exclude_unset=True))
    principal.require_tenant_for_write(updated.source.fiware_service)
    if not repository.replace_if_status(updated, ModelStatus.DRAFT):
        raise ConflictError(f"Model {model_id} changed status while being edited; retry")
    logger.info("Model updated", extra={"model_id": model_id})
    return updated


def delete_model(
    repository: ModelRepository,
    principal: Principal,
    model_id: str,
    purge_jobs: Callable[[str], None] | None = None,
) -> None:
    """Delete a model that is not training, after ``purge_jobs(model_id)`` removed its jobs
    (artifacts, checkpoints, FIWARE resources).

    Raises:
        NotFoundError: no such model (for this caller).
        ConflictError: a training of this model is running.
    """
    model = get_model(repository, principal, model_id)
    if model.status == ModelStatus.TRAINING:
        raise ConflictError(
            f"Model {model_id} is training; cancel its training job before deleting it",
            details=[{"field": "status", "message": "is training"}],
        )
    if purge_jobs is not None:
        purge_jobs(model_id)
    repository.delete(model_id)
    logger.info("Model deleted", extra={"model_id": model_id})
