"""Alert rules: create, read, list, change and delete, tenant-scoped like models; and a rule's
events.

A rule belongs to its model's tenant: a caller sees only the rules of the FIWARE services it
holds (another tenant's rule is "not found"). Validation names the field: ``model_id`` and
``job_id`` that the caller cannot see, ``channels[i]`` that is not a channel of the rule's
tenant, and every rule of :func:`~chronos_core.domain.monitoring.build_rule`.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

from chronos_core.application.monitoring.commands import (
    CreateRule,
    ListRuleEvents,
    ListRules,
    RuleCommand,
    UpdateRule,
)
from chronos_core.application.monitoring.deps import RuleAdminDeps
from chronos_core.application.ports.models import Page
from chronos_core.application.ports.monitoring import EvaluationRecord
from chronos_core.domain.auth import Principal
from chronos_core.domain.errors import NotFoundError, ValidationError
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.monitoring import (
    AlertEvent,
    AlertRule,
    RuleState,
    RuleStats,
    apply_rule_changes,
    build_rule,
    rule_stats,
)
from chronos_core.observability import logger


class RuleView(BaseModel):
    """A rule with where it stands: its state, its latest evaluation and its alerts' stats."""

    rule: AlertRule
    state: RuleState
    last_evaluation: EvaluationRecord | None = None
    stats: RuleStats


def create_rule(deps: RuleAdminDeps, command: CreateRule) -> RuleView:
    """Validate and store a rule on a model the caller may write to.

    Raises ValidationError naming the field (an invisible ``model_id`` or ``job_id``, an unknown
    channel, a rule broken) and PermissionDeniedError (the caller cannot write in the tenant).
    """
    draft = command.draft
    model = deps.models.get(ModelId(draft.model_id))
    if model is None or not command.principal.can_access(model.source.fiware_service):
        raise ValidationError(
            f"Model {draft.model_id} not found", details=[{"field": "model_id", "message": "no such model"}]
        )
    command.principal.require_tenant_for_write(model.source.fiware_service)
    if draft.job_id is not None:
        job = deps.jobs.get(JobId(draft.job_id))
        if job is None or job.model_id != model.id:
            raise ValidationError(
                f"Training job {draft.job_id} not found for model {model.id}",
                details=[{"field": "job_id", "message": "no such job of this model"}],
            )
    rule = build_rule(draft, model, created_by=command.principal.subject)
    _check_channels(deps, rule)
    deps.alert_rules.add(rule)
    logger.info(
        "Alert rule created", extra={"rule_id": rule.id, "type": rule.type.value, "model_id": model.id}
    )
    return _view(deps, rule)


def get_rule(deps: RuleAdminDeps, command: RuleCommand) -> RuleView:
    """The rule with its state, latest evaluation and stats. Raises NotFoundError."""
    return _view(deps, visible_rule(deps, command.principal, command.rule_id))


def list_rules(deps: RuleAdminDeps, command: ListRules) -> Page[AlertRule]:
    """The caller's rules matching the filters, newest first."""
    filters = replace(command.filters, services=command.principal.visible_services())
    return deps.alert_rules.list(filters, command.skip, command.limit)


def update_rule(deps: RuleAdminDeps, command: UpdateRule) -> RuleView:
    """Apply a partial update. Raises NotFoundError and ValidationError (as at creation)."""
    rule = visible_rule(deps, command.principal, command.rule_id)
    command.principal.require_tenant_for_write(rule.fiware_service)
    updated = apply_rule_changes(rule, command.changes)
    _check_channels(deps, updated)
    if not deps.alert_rules.replace(updated):
        raise NotFoundError(f"Alert rule {rule.id} not found")
    logger.info("Alert rule updated", extra={"rule_id": rule.id})
    return _view(deps, updated)


def delete_rule(deps: RuleAdminDeps, command: RuleCommand) -> None:
    """Delete the rule and its state; its active alert is resolved (not notified) and its
    history (alerts, events, notifications) is kept."""
    rule = visible_rule(deps, command.principal, command.rule_id)
    command.principal.require_tenant_for_write(rule.fiware_service)
    deps.alert_rules.delete(rule.id)
    deps.rule_states.delete(rule.id)
    deps.alerts.forget_rule(rule.id)
    logger.info("Alert rule deleted", extra={"rule_id": rule.id})


def rule_events(deps: RuleAdminDeps, command: ListRuleEvents) -> Page[AlertEvent]:
    """The rule's transitions, newest first."""
    rule = visible_rule(deps, command.principal, command.rule_id)
    return deps.alerts.events(rule_id=rule.id, skip=command.skip, limit=command.limit)


def visible_rule(deps: RuleAdminDeps, principal: Principal, rule_id: str) -> AlertRule:
    rule = deps.alert_rules.get(rule_id)
    if rule is None:
        raise NotFoundError(f"Alert rule {rule_id} not found")
    principal.require_tenant(rule.fiware_service, resource=f"Alert rule {rule_id}")
    return rule


def _check_channels(deps: RuleAdminDeps, rule: AlertRule) -> None:
    channels = deps.channels.get_many(rule.channels)
    for index, channel_id in enumerate(rule.channels):
        channel = channels.get(channel_id)
        if channel is None or channel.fiware_service != rule.fiware_service:
            raise ValidationError(
                f"Unknown channel {channel_id}",
                details=[
                    {
                        "field": f"channels[{index}]",
                        "message": f"no channel {channel_id} in {rule.fiware_service}",
                    }
                ],
            )


def _view(deps: RuleAdminDeps, rule: AlertRule) -> RuleView:
    state = deps.rule_states.get(rule.id) or RuleState(rule_id=rule.id, since=rule.created_at)
    return RuleView(
        rule=rule,
        state=state.model_copy(update={"reference": None, "recent": state.recent}),
        last_evaluation=deps.alert_evaluations.latest(rule.id),
        stats=rule_stats(deps.alerts.alerts_of_rule(rule.id)),
    )
