"""Commands of the monitoring use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chronos_core.application.ports.monitoring import AlertFilter, RuleFilter
from chronos_core.domain.auth import Principal
from chronos_core.domain.monitoring import RuleChanges, RuleDraft, SilenceDraft
from chronos_core.domain.notifications import ChannelChanges, ChannelDraft


@dataclass(frozen=True, kw_only=True)
class CreateRule:
    principal: Principal
    draft: RuleDraft


@dataclass(frozen=True, kw_only=True)
class RuleCommand:
    """A command addressed to one rule."""

    principal: Principal
    rule_id: str


@dataclass(frozen=True, kw_only=True)
class UpdateRule(RuleCommand):
    changes: RuleChanges


@dataclass(frozen=True, kw_only=True)
class ListRules:
    principal: Principal
    filters: RuleFilter
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class ListRuleEvents(RuleCommand):
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class CreateChannel:
    principal: Principal
    draft: ChannelDraft


@dataclass(frozen=True, kw_only=True)
class ChannelCommand:
    principal: Principal
    channel_id: str


@dataclass(frozen=True, kw_only=True)
class UpdateChannel(ChannelCommand):
    changes: ChannelChanges
    correlation_id: str = "api"


@dataclass(frozen=True, kw_only=True)
class ListChannels:
    principal: Principal
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class CreateSilence:
    principal: Principal
    draft: SilenceDraft


@dataclass(frozen=True, kw_only=True)
class SilenceCommand:
    principal: Principal
    silence_id: str


@dataclass(frozen=True, kw_only=True)
class ListSilences:
    principal: Principal
    active_only: bool = True
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class ListAlerts:
    principal: Principal
    filters: AlertFilter
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class AlertCommand:
    principal: Principal
    alert_id: str


@dataclass(frozen=True, kw_only=True)
class AcknowledgeAlert(AlertCommand):
    comment: str = ""


@dataclass(frozen=True, kw_only=True)
class EvaluationTick:
    """One evaluator tick at ``now``; ``correlation_id`` goes with every notification it sends."""

    now: datetime
    correlation_id: str


@dataclass(frozen=True, kw_only=True)
class DeliverNotification:
    """One delivery attempt of a queued notification."""

    notification_id: str
    correlation_id: str
    now: datetime | None = None
