"""Reading, pinning and rolling back a model's champion (its serving job)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chronos_core.application.models.commands import GetModel
from chronos_core.application.models.definitions import get_model
from chronos_core.application.ports.models import Page
from chronos_core.application.retraining.commands import ListModelLog, ModelCommand, SetChampion
from chronos_core.application.retraining.deps import ChampionDeps
from chronos_core.domain.errors import ConflictError, NotFoundError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import Model, UtcDateTime, utcnow
from chronos_core.domain.retraining import ModelEvent, PromotionVerdict
from chronos_core.domain.training_job import TrainingJob, TrainingStatus


class JobSummary(BaseModel):
    """A completed training as the champion view lists it."""

    training_job_id: str
    model_version: int | None
    serving: str | None
    test_mae: float | None = Field(description="The served forecaster's H-step MAE on its own test split.")
    promotion: PromotionVerdict | None
    ended_at: UtcDateTime | None


class ChampionView(BaseModel):
    """The model's champion, whether it is pinned, the earlier champions (a rollback returns to
    the last one) and the latest challengers with the verdicts that kept them out."""

    model_id: str
    champion: JobSummary | None
    pinned: bool
    previous_champions: list[str]
    challengers: list[JobSummary]


def champion_view(deps: ChampionDeps, command: ModelCommand) -> ChampionView:
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    return _view(deps, model)


def set_champion(deps: ChampionDeps, command: SetChampion) -> ChampionView:
    """Serve ``job_id`` (a completed job of the model), pinned or not. The job that served until
    now becomes the previous champion. Raises NotFoundError, ConflictError."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    job = _completed_job(deps, model, command.job_id)
    current = model.champion_job_id
    previous = list(model.previous_champions)
    if current and current != job.id:
        previous.append(current)
    previous = [p for p in previous if p != job.id]
    if not deps.models.set_champion(
        model.id, job.serving_summary(), previous_champions=previous, pinned=command.pinned, expected=current
    ):
        raise ConflictError(f"The champion of model {model.id} changed meanwhile; reload and retry")
    kind = "pinned" if command.pinned else "unpinned"
    _event(deps, model.id, kind, job.id, f"Training {job.id} serves, {kind} by {command.principal.subject}")
    return _view(deps, _reload(deps, model.id))


def rollback_champion(deps: ChampionDeps, command: ModelCommand) -> ChampionView:
    """Serve the previous champion again (unpinned). Raises NotFoundError, ConflictError (no
    previous champion that still exists)."""
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    previous = list(model.previous_champions)
    while previous:
        candidate = previous.pop()
        job = deps.jobs.get(JobId(candidate))
        if job is None or job.status != TrainingStatus.COMPLETED or job.serving_summary() is None:
            continue
        if not deps.models.set_champion(
            model.id,
            job.serving_summary(),
            previous_champions=previous,
            pinned=False,
            expected=model.champion_job_id,
        ):
            raise ConflictError(f"The champion of model {model.id} changed meanwhile; reload and retry")
        _event(
            deps,
            model.id,
            "rolled_back",
            job.id,
            f"Rolled back from {model.champion_job_id} to {job.id} by {command.principal.subject}",
        )
        return _view(deps, _reload(deps, model.id))
    raise ConflictError(
        f"Model {model.id} has no previous champion to roll back to",
        details=[{"field": "previous_champions", "message": "empty"}],
    )


def list_events(deps: ChampionDeps, command: ListModelLog) -> Page[ModelEvent]:
    model = get_model(deps, GetModel(principal=command.principal, model_id=command.model_id))
    return deps.events.list_for_model(model.id, command.skip, command.limit)


def _completed_job(deps: ChampionDeps, model: Model, job_id: JobId) -> TrainingJob:
    job = deps.jobs.get(job_id)
    if job is None or job.model_id != model.id:
        raise NotFoundError(f"Training job {job_id} not found for model {model.id}")
    if job.status != TrainingStatus.COMPLETED or job.serving_summary() is None:
        raise ConflictError(
            f"Training job {job_id} is {job.status.value}; only a completed job can serve",
            details=[{"field": "training_job_id", "message": "must be a completed job"}],
        )
    return job


def _reload(deps: ChampionDeps, model_id: ModelId) -> Model:
    model = deps.models.get(model_id)
    if model is None:
        raise NotFoundError(f"Model {model_id} not found")
    return model


def _event(deps: ChampionDeps, model_id: str, kind: str, job_id: str, message: str) -> None:
    deps.events.add(
        ModelEvent.model_validate(
            {"model_id": model_id, "at": utcnow(), "kind": kind, "message": message, "job_id": job_id,
             "champion_job_id": job_id}
        )
    )  # fmt: skip


def _summary(job: TrainingJob) -> JobSummary:
    served = job.metrics.served if job.metrics else None
    return JobSummary(
        training_job_id=job.id,
        model_version=job.model_version,
        serving=job.serving,
        test_mae=served.mae if served else None,
        promotion=job.promotion,
        ended_at=job.ended_at,
    )


def _view(deps: ChampionDeps, model: Model) -> ChampionView:
    champion_id = model.champion_job_id
    champion = deps.jobs.get(JobId(champion_id)) if champion_id else None
    page = deps.jobs.list_for_model(model.id, 0, 20)
    challengers = [
        _summary(j)
        for j in page.items
        if j.status == TrainingStatus.COMPLETED
        and j.id != champion_id
        and j.promotion
        and not j.promotion.promoted
    ]
    return ChampionView(
        model_id=model.id,
        champion=_summary(champion) if champion else None,
        pinned=model.champion_pinned,
        previous_champions=list(model.previous_champions),
        challengers=challengers[:10],
    )
