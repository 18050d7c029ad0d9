"""Deleting a model with everything its training jobs left behind."""

from __future__ import annotations

from typing import Protocol

from chronos_core.application.models.commands import DeleteModel, GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.ports.retraining import ModelEvents, RetrainingPolicies, RetrainingRuns
from chronos_core.application.training.deps import JobRemovalDeps
from chronos_core.application.training.removal import purge_model_jobs
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.model import ModelStatus
from chronos_core.observability import logger


class ModelRemovalDeps(JobRemovalDeps, Protocol):
    """Deleting a model: its jobs, and its retraining policy, run log and events."""

    @property
    def policies(self) -> RetrainingPolicies: ...

    @property
    def runs(self) -> RetrainingRuns: ...

    @property
    def events(self) -> ModelEvents: ...


def delete_model(deps: ModelRemovalDeps, command: DeleteModel) -> None:
    """Delete a model that is not training, after removing its jobs (artifacts, checkpoints,
    FIWARE resources) and its retraining policy, run log and events. The deletion takes the
    same claim as a training start, so of a deletion and a start that race, exactly one succeeds
    and no job is left without its model.

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
    deps.policies.delete(model.id)
    deps.runs.delete_for_model(model.id)
    deps.events.delete_for_model(model.id)
    deps.models.delete(model.id)
    logger.info("Model deleted", extra={"model_id": model.id})
