"""Monitoring's side of retraining: a drift or live-accuracy rule that starts firing asks the
model's retraining policy for a retraining (a ``rule`` trigger).

Contracts:

* **When.** Only rules of :data:`RETRAINING_RULE_TYPES`, and only on a transition *into*
  ``firing`` (from ``ok``, ``pending``, ``no_data`` or ``error``); a rule that keeps firing, or
  fires again after ``recovering``, is the same episode and asks nothing more.
* **Once per firing.** The trigger's ``event_id`` is the episode's alert id, so the retraining
  side records one run per episode however often it is asked (a redelivered evaluation, a
  rule flapping through ``no_data``).
* **The policy decides.** Through the
  :class:`~chronos_core.application.ports.retraining.RetrainTrigger` port (the retraining
  capability implements it): the rule must be listed in the policy's ``trigger_rules`` (or
  ``*``), a training that runs absorbs the trigger, and the guards apply; a rule not listed is
  recorded ``skipped`` with the reason.
* **Best effort.** A trigger that fails (the model was deleted, STH is down) is logged; the
  evaluation that stored the alert is not undone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from chronos_core.application.monitoring.deps import RetrainRequestDeps
from chronos_core.application.ports.retraining import RuleFiring
from chronos_core.domain.monitoring import Alert, AlertRule, AlertState, Observation, RuleType, Transition
from chronos_core.observability import logger

#: The rule types whose firing asks for a retraining.
RETRAINING_RULE_TYPES: Final = frozenset({RuleType.INPUT_DRIFT, RuleType.LIVE_ACCURACY})


def firing_of(
    rule: AlertRule, transition: Transition, alert: Alert | None, observation: Observation, now: datetime
) -> RuleFiring | None:
    """The retraining request of a transition, or None when it asks for none."""
    if rule.type not in RETRAINING_RULE_TYPES or alert is None:
        return None
    if transition.to_state != AlertState.FIRING or transition.from_state == AlertState.RECOVERING:
        return None
    detail = observation.message or f"value {observation.value} against {observation.threshold}"
    return RuleFiring(
        model_id=rule.model_id,
        rule_id=rule.id,
        reason=f"rule {rule.name!r} ({rule.type.value}) fired: {detail}"[:500],
        at=now,
        event_id=f"alert:{alert.id}",
    )


def request_retrainings(deps: RetrainRequestDeps, firings: Sequence[RuleFiring]) -> int:
    """Send each firing to the retraining trigger; returns how many were answered (whatever
    the outcome: started, queued, attached or skipped)."""
    answered = 0
    for firing in firings:
        try:
            run = deps.retrain_trigger.trigger(firing)
        except Exception:  # one model's retraining never stops the evaluation of the others
            logger.exception(
                "A rule could not ask for a retraining",
                extra={"model_id": firing.model_id, "rule_id": firing.rule_id},
            )
            continue
        answered += 1
        logger.info(
            "A rule asked for a retraining",
            extra={
                "model_id": firing.model_id,
                "rule_id": firing.rule_id,
                "outcome": run.outcome,
                "outcome_reason": run.outcome_reason,
                "job_id": run.job_id,
            },
        )
    return answered
