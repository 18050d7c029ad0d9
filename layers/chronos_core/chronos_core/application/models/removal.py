"""Deleting a model with everything its training jobs left behind."""

from __future__ import annotations

from chronos_core.application.models.commands import DeleteModel, GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.training.deps import JobRemovalDeps
from chronos_core.application.training.removal import purge_model_jobs
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.model import ModelStatus
from chronos_core.observability import logger


def delete_model(deps: JobRemovalDeps, command: DeleteModel) -> None:
    """Delete a model that is not training, after removing its jobs (artifacts, checkpoints,
    FIWARE resources).

    Raises NotFoundError (no such model for this caller) and ConflictError (a training runs).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    if model.status == ModelStatus.TRAINING:
        raise ConflictError(
            f"Model {model.id} is training; cancel its training job before deleting it",
            details=[{"field": "status", "message": "is training"}],
        )
    purge_model_jobs(deps, model.id)
    deps.models.delete(model.id)
    logger.info("Model deleted", extra={"model_id": model.id})
