"""The :class:`~chronos_core.application.ports.retraining.RetrainTrigger` monitoring calls
when a drift or live-error rule fires."""

from __future__ import annotations

from chronos_core.application.ports.retraining import RuleFiring
from chronos_core.application.retraining.commands import RequestRetraining
from chronos_core.application.retraining.deps import RetrainDeps
from chronos_core.application.retraining.triggers import request_retraining
from chronos_core.domain.model import iso_z, utcnow
from chronos_core.domain.retraining import RetrainingRun, TriggerKind, run_key


class RuleRetrainTrigger:
    """A rule trigger through :func:`~chronos_core.application.retraining.triggers.request_retraining`:
    the policy must list the rule; a running training absorbs it; the guards apply. Idempotent
    per ``event_id`` (by default the rule and the firing's time to the second)."""

    def __init__(self, deps: RetrainDeps) -> None:
        self._deps = deps

    def trigger(self, firing: RuleFiring) -> RetrainingRun:
        at = firing.at or utcnow()
        event = firing.event_id or f"{firing.rule_id}|{iso_z(at.replace(microsecond=0))}"
        return request_retraining(
            self._deps,
            RequestRetraining(
                model_id=firing.model_id,
                kind=TriggerKind.RULE,
                at=at,
                key=run_key(firing.model_id, TriggerKind.RULE, event),
                rule_id=firing.rule_id,
                reason=firing.reason[:500],
            ),
        )
