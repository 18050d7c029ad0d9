"""Silences: hold a rule's (or every rule of a model's) notifications back for a time window.
A silence belongs to the tenant of its rule or model."""

from __future__ import annotations

from chronos_core.application.monitoring.commands import CreateSilence, ListSilences, SilenceCommand
from chronos_core.application.monitoring.deps import SilenceDeps
from chronos_core.application.ports.models import Page
from chronos_core.domain.errors import NotFoundError, ValidationError
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import utcnow
from chronos_core.domain.monitoring import Silence, build_silence


def create_silence(deps: SilenceDeps, command: CreateSilence) -> Silence:
    """A silence on a rule or a model the caller sees. Raises ValidationError naming
    ``rule_id``/``model_id``/``ends_at`` and PermissionDeniedError."""
    draft, principal = command.draft, command.principal
    if draft.rule_id is not None:
        rule = deps.alert_rules.get(draft.rule_id)
        service = rule.fiware_service if rule else None
        field = "rule_id"
    else:
        model = deps.models.get(ModelId(draft.model_id or ""))
        service = model.source.fiware_service if model else None
        field = "model_id"
    if service is None or not principal.can_access(service):
        raise ValidationError(f"No such {field[:-3]}", details=[{"field": field, "message": "not found"}])
    principal.require_tenant_for_write(service)
    silence = build_silence(draft, service, principal.subject, utcnow())
    deps.silences.add(silence)
    return silence


def list_silences(deps: SilenceDeps, command: ListSilences) -> Page[Silence]:
    active_at = utcnow() if command.active_only else None
    return deps.silences.list(command.principal.visible_services(), active_at, command.skip, command.limit)


def delete_silence(deps: SilenceDeps, command: SilenceCommand) -> None:
    """End a silence now (it is deleted). Raises NotFoundError."""
    silence = deps.silences.get(command.silence_id)
    if silence is None:
        raise NotFoundError(f"Silence {command.silence_id} not found")
    command.principal.require_tenant(silence.fiware_service, resource=f"Silence {command.silence_id}")
    command.principal.require_tenant_for_write(silence.fiware_service)
    deps.silences.delete(silence.id)
