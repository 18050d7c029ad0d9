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
    FIWARE resources). The deletion takes the same claim as a training start, so of a deletion and
    a start that race, exactly one succeeds and no job is left without its model.

    Raises NotFoundError (no such model for this caller) and ConflictError (a training runs or
    is starting).
    """
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    if model.status == ModelStatus.TRAINING:
        raise ConflictError(
            f"Model {model.id} is training; cancel its training job before deleting it",
            details=[{"field": "status", "message": "is training"}],
        )
    if not deps.models.claim_for_deletion(model.id):
        raise ConflictError(
            f"A training of model {model.id} is starting; retry once it has started, then cancel it",
            details=[{"field": "status", "message": "a training is starting"}],
        )
    try:
        purge_model_jobs(deps, model.id)
    except Exception:
        deps.models.release_claim(model.id)
        raise
    deps.models.delete(model.id)
    logger.info("Model deleted", extra={"model_id": model.id})
