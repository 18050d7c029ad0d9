"""Routes for alert rules: CRUD (tenant-scoped like models; the operator role writes) and each
rule's events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from chronos_core.api.deps import ServicesDep
from chronos_core.api.routing import AuthenticatedRoute
from chronos_core.api.schemas.errors import ErrorResponse
from chronos_core.api.schemas.monitoring import EventPage, RulePage, RuleView
from chronos_core.api.security import Operator, Reader
from chronos_core.application.monitoring import rules
from chronos_core.application.monitoring.commands import (
    CreateRule,
    ListRuleEvents,
    ListRules,
    RuleCommand,
    UpdateRule,
)
from chronos_core.application.ports.monitoring import RuleFilter
from chronos_core.domain.monitoring import RuleChanges, RuleDraft, RuleType

router = APIRouter(prefix="/alert-rules", tags=["Monitoring"], route_class=AuthenticatedRoute)

RuleIdPath = Annotated[str, Path(description="Alert rule id (UUID).", min_length=1, max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such rule (for this caller)."},
    422: {"model": ErrorResponse, "description": "Invalid rule; details name each field."},
}


@router.post("", status_code=201, response_model=RuleView, responses={422: _ERRORS[422]})
def create_rule(
    principal: Operator, services: ServicesDep, response: Response, draft: Annotated[RuleDraft, Body()]
) -> RuleView:
    """Create a rule on a model (or one of its jobs); 201 with the rule and its ``Location``."""
    view = rules.create_rule(services, CreateRule(principal=principal, draft=draft))
    response.headers["Location"] = f"/alert-rules/{view.rule.id}"
    return view


@router.get("", response_model=RulePage, responses={422: _ERRORS[422]})
def list_rules(
    principal: Reader,
    services: ServicesDep,
    model_id: Annotated[str | None, Query(max_length=64)] = None,
    job_id: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[RuleType | None, Query()] = None,  # noqa: A002 - the field's name
    enabled: Annotated[bool | None, Query()] = None,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RulePage:
    """The caller's rules matching every given filter, newest first."""
    filters = RuleFilter(model_id=model_id, job_id=job_id, type=type, enabled=enabled)
    page = rules.list_rules(services, ListRules(principal=principal, filters=filters, skip=skip, limit=limit))
    return RulePage(items=page.items, total=page.total, skip=page.skip, limit=page.limit)


@router.get("/{rule_id}", response_model=RuleView, responses={404: _ERRORS[404]})
def get_rule(principal: Reader, services: ServicesDep, rule_id: RuleIdPath) -> RuleView:
    """The rule, its state, its latest evaluation and its alerts' stats (fired, precision and
    median lead time of predicted crossings)."""
    return rules.get_rule(services, RuleCommand(principal=principal, rule_id=rule_id))


@router.patch("/{rule_id}", response_model=RuleView, responses=_ERRORS)
def update_rule(
    principal: Operator, services: ServicesDep, rule_id: RuleIdPath, changes: Annotated[RuleChanges, Body()]
) -> RuleView:
    """Change a rule (its model, job and type stay)."""
    return rules.update_rule(services, UpdateRule(principal=principal, rule_id=rule_id, changes=changes))


@router.delete("/{rule_id}", status_code=204, responses={404: _ERRORS[404]})
def delete_rule(principal: Operator, services: ServicesDep, rule_id: RuleIdPath) -> Response:
    """Delete a rule; its active alert is resolved, its history kept."""
    rules.delete_rule(services, RuleCommand(principal=principal, rule_id=rule_id))
    return Response(status_code=204)


@router.get("/{rule_id}/events", response_model=EventPage, responses={404: _ERRORS[404]})
def rule_events(
    principal: Reader,
    services: ServicesDep,
    rule_id: RuleIdPath,
    skip: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventPage:
    """The rule's state transitions, newest first, each with the values that caused it."""
    page = rules.rule_events(
        services, ListRuleEvents(principal=principal, rule_id=rule_id, skip=skip, limit=limit)
    )
    return EventPage(items=page.items, total=page.total, skip=page.skip, limit=page.limit)
