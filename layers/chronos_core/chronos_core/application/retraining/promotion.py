"""Champion or challenger: decided when a training completes (the Finalize step).

The model's champion is its serving job (``model.serving``). A completed training becomes the
champion when the model has none; otherwise it is a challenger, scored next to the champion on
the challenger's own test split by the trainer (:class:`~chronos_core.domain.retraining.HoldoutComparison`),
and promoted only if it beats the champion by the policy's ``promotion_margin`` (0 without a
policy: it must be strictly better) while the champion is not pinned. Either way an
informational event says what happened and why. Recurring forecasts follow the champion, so a
promotion changes which forecaster publishes on the same entity and slot grid, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from chronos_core.application.ports.retraining import ModelEventListener
from chronos_core.application.retraining.deps import PromotionDeps
from chronos_core.domain.errors import NotFoundError
from chronos_core.domain.model import Model, utcnow
from chronos_core.domain.retraining import ModelEvent, PromotionVerdict, decide_promotion
from chronos_core.domain.training_job import TrainingJob
from chronos_core.observability import logger


def settle_challenger(deps: PromotionDeps, job: TrainingJob) -> PromotionVerdict:
    """Decide and record whether ``job`` (trained, finalizing) becomes the champion; give it the
    model's next version; promote it (compare and set on the champion it was scored against)."""
    model = deps.models.get(job.model_id)
    if model is None:
        raise NotFoundError(f"Model {job.model_id} of training job {job.id} not found")
    stored = deps.policies.get(model.id)
    current = model.champion_job_id
    verdict = decide_promotion(
        job.comparison,
        champion_job_id=current,
        margin=stored.policy.promotion_margin if stored else 0.0,
        pinned=model.champion_pinned,
        now=utcnow(),
    )
    if verdict.promoted:
        previous = [*model.previous_champions, current] if current else list(model.previous_champions)
        summary = job.serving_summary()
        if summary is None or not deps.models.set_champion(
            model.id, summary, previous_champions=previous, pinned=False, expected=current
        ):
            verdict = verdict.model_copy(
                update={"promoted": False, "reason": "the champion changed while this training was decided"}
            )
    deps.jobs.record_promotion(job.id, verdict, deps.models.next_version(model.id))
    event = ModelEvent(
        model_id=model.id,
        at=verdict.decided_at or utcnow(),
        kind="promoted" if verdict.promoted else "challenger_kept",
        message=(
            f"Training {job.id} is the champion: {verdict.reason}"
            if verdict.promoted
            else f"Training {job.id} stays a challenger: {verdict.reason}"
        ),
        job_id=job.id,
        champion_job_id=job.id if verdict.promoted else current,
    )
    deps.events.add(event)
    tell_listeners(deps.model_event_listeners, model, event)
    logger.info(
        "Champion decided",
        extra={
            "job_id": job.id,
            "model_id": model.id,
            "promoted": verdict.promoted,
            "reason": verdict.reason,
        },
    )
    return verdict


def tell_listeners(listeners: Sequence[ModelEventListener], model: Model, event: ModelEvent) -> None:
    """Tell each listener of a recorded event; a listener's failure is logged, never raised (the
    decision is recorded already)."""
    for listener in listeners:
        try:
            listener.model_event(model, event)
        except Exception:
            logger.exception(
                "A model event listener failed", extra={"model_id": model.id, "kind": event.kind}
            )
