"""What monitoring needs: rules and their states, the evaluation claims and log, alerts and
their events, notifications and their queue, channels, silences, and the live data rules are
evaluated on (published forecasts, observed points, forecast runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from chronos_core.application.ports.models import Page
from chronos_core.application.ports.pipeline import TimedPoint
from chronos_core.application.ports.training_jobs import JobLookup
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.live_metrics import PublishedForecast
from chronos_core.domain.model import FiwareSource, UtcDateTime
from chronos_core.domain.monitoring import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertState,
    AlertStatus,
    Outcome,
    RuleState,
    RuleType,
    Severity,
    Silence,
)
from chronos_core.domain.notifications import Channel, ChannelStats, DeliveryOutcome, Notification
from chronos_core.domain.training_job import TrainingJob


@dataclass(frozen=True)
class RuleFilter:
    """Exact-match filters for listing rules; ``services`` restricts the tenants (None: all)."""

    services: frozenset[str] | None = None
    model_id: str | None = None
    job_id: str | None = None
    type: RuleType | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class AlertFilter:
    """Filters for listing alerts: ``status`` None lists both active and resolved ones."""

    services: frozenset[str] | None = None
    status: AlertStatus | None = None
    rule_id: str | None = None
    model_id: str | None = None
    severity: Severity | None = None


class EvaluationRecord(BaseModel):
    """One evaluation of a rule, as the log keeps it (the API shows the latest)."""

    model_config = ConfigDict(extra="ignore")

    rule_id: str
    slot: str
    at: UtcDateTime
    outcome: Outcome
    state: AlertState
    value: float | None = None
    message: str = ""


class AlertRules(Protocol):
    """Rule definitions (their states live apart: an edit never races an evaluation)."""

    def add(self, rule: AlertRule) -> None: ...

    def get(self, rule_id: str) -> AlertRule | None: ...

    def replace(self, rule: AlertRule) -> bool:
        """Store a changed rule; False when it no longer exists."""

    def delete(self, rule_id: str) -> bool: ...

    def enabled(self, limit: int) -> list[AlertRule]:
        """Every enabled rule (the evaluator's tick), at most ``limit``."""

    def for_model(self, model_id: ModelId, types: Sequence[RuleType]) -> list[AlertRule]:
        """The model's enabled rules of these types (after a forecast is published)."""

    def using_channel(self, channel_id: str) -> list[str]:
        """Ids of the rules that name the channel."""

    def list(self, filters: RuleFilter, skip: int, limit: int) -> Page[AlertRule]:
        """Matching rules, newest first, with the total."""


class RuleStates(Protocol):
    def get(self, rule_id: str) -> RuleState | None: ...

    def get_many(self, rule_ids: Sequence[str]) -> dict[str, RuleState]: ...

    def save(self, state: RuleState) -> None: ...

    def save_many(self, states: Sequence[RuleState]) -> None:
        """Store each state, as :meth:`save` would, in as few calls as the store allows (the
        evaluator writes every changed state of a tick at once)."""

    def delete(self, rule_id: str) -> None: ...


class EvaluationLog(Protocol):
    """Claims of evaluation slots and the evaluations made."""

    def claim(self, keys: Sequence[str]) -> list[bool]:
        """Claim each key (``<rule_id>|<slot>``): True for exactly one of any number of
        concurrent callers claiming the same key; one result per key."""

    def record(self, evaluations: Sequence[EvaluationRecord]) -> None: ...

    def latest(self, rule_id: str) -> EvaluationRecord | None: ...


class AlertStore(Protocol):
    """Alerts (one per episode) and the events of every transition."""

    def add_alert(self, alert: Alert) -> None: ...

    def add_alerts(self, alerts: Sequence[Alert]) -> None:
        """Store new alerts, as :meth:`add_alert` would each, in as few calls as the store allows."""

    def save_alert(self, alert: Alert) -> None: ...

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def get_alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]: ...

    def list_alerts(self, filters: AlertFilter, skip: int, limit: int) -> Page[Alert]:
        """Matching alerts, most recently started first."""

    def alerts_of_rule(self, rule_id: str, limit: int = 10_000) -> list[Alert]: ...

    def undecided_outcomes(self, rule_id: str) -> list[Alert]:
        """Predicted-crossing alerts of the rule whose outcome is not known yet."""

    def undecided_outcomes_of(self, rule_ids: Sequence[str]) -> dict[str, list[Alert]]:
        """:meth:`undecided_outcomes` of each rule in one read (rules without any are absent)."""

    def active_with_fingerprint(self, fingerprint: str) -> Alert | None: ...

    def add_events(self, events: Sequence[AlertEvent]) -> None: ...

    def events(
        self, *, rule_id: str | None = None, alert_id: str | None = None, skip: int = 0, limit: int = 100
    ) -> Page[AlertEvent]:
        """Events of a rule or of an alert, newest first."""

    def forget_rule(self, rule_id: str) -> None:
        """Resolve the rule's active alerts (the rule is being deleted); history is kept."""


class NotificationStore(Protocol):
    def add_many(self, notifications: Sequence[Notification]) -> None: ...

    def get(self, notification_id: str) -> Notification | None: ...

    def save(self, notification: Notification) -> None: ...

    def for_alert(self, alert_id: str) -> list[Notification]: ...

    def claim_attempt(self, notification_id: str, attempt: int) -> bool:
        """Take attempt number ``attempt`` of a notification: True for exactly one caller."""

    def unsent(self, created_before: datetime, limit: int) -> list[Notification]:
        """Pending notifications never attempted, created before the instant (lost sends)."""

    def delivered_channels(self, alert_id: str) -> set[str]:
        """Channels that received a firing (or repeat) notification of the alert."""


class NotificationQueue(Protocol):
    """Where notifications wait for delivery (SQS, with its dead-letter queue)."""

    def send(self, notification_ids: Sequence[str], correlation_id: str) -> list[str]:
        """Send one message per id; return the ids that could not be sent."""


class ChannelStore(Protocol):
    def add(self, channel: Channel) -> None: ...

    def get(self, channel_id: str) -> Channel | None: ...

    def get_many(self, channel_ids: Sequence[str]) -> dict[str, Channel]: ...

    def save(self, channel: Channel) -> None:
        """Store a changed definition (name, config, secret, status); counters are kept."""

    def delete(self, channel_id: str) -> bool: ...

    def active_in(self, fiware_service: str) -> list[Channel]: ...

    def record_delivery(self, channel_id: str, outcome: DeliveryOutcome, at: datetime) -> ChannelStats | None:
        """Count one attempt (Orion-style counters; a success resets the consecutive failures)
        and return the counters after it (None: the channel is gone)."""

    def disable(self, channel_id: str, reason: str, at: datetime) -> bool:
        """Disable an active channel; True when this call disabled it."""

    def list(self, services: frozenset[str] | None, skip: int, limit: int) -> Page[Channel]: ...


class SilenceStore(Protocol):
    def add(self, silence: Silence) -> None: ...

    def get(self, silence_id: str) -> Silence | None: ...

    def delete(self, silence_id: str) -> bool: ...

    def active(self, fiware_service: str, at: datetime) -> list[Silence]: ...

    def list(
        self, services: frozenset[str] | None, active_at: datetime | None, skip: int, limit: int
    ) -> Page[Silence]: ...


class ForecastLog(Protocol):
    """The forecasts recurring runs published (what live accuracy and predicted crossings
    read), a bounded number per job."""

    def record(self, forecast: PublishedForecast) -> None: ...

    def recent(self, job_id: JobId, n: int) -> list[PublishedForecast]:
        """The job's last ``n`` forecasts (at most the log's bound), newest first."""

    def forget(self, job_id: JobId) -> None:
        """Remove every forecast of the job (it is being deleted)."""

    def recent_many(
        self, wanted: Mapping[JobId, int], newer_than: datetime | None = None
    ) -> dict[JobId, list[PublishedForecast]]:
        """:meth:`recent` of each job (``wanted`` maps a job to its ``n``), in few reads: every
        job is in the answer. ``newer_than`` is a hint that bounds what is read: the store may
        first read only forecasts generated after it, and reads the full log of each job that
        has fewer than its ``n`` there, so the answer never depends on the hint."""


class ObservedSeries(Protocol):
    """A model's observed points in STH-Comet, oldest first."""

    def recent(self, source: FiwareSource, n: int) -> list[TimedPoint]: ...

    def between(
        self, source: FiwareSource, date_from: datetime, date_to: datetime | None
    ) -> list[TimedPoint]:
        """Points received in ``[date_from, date_to)`` (None: up to the newest)."""

    def before(self, source: FiwareSource, date_to: datetime, n: int) -> list[TimedPoint]:
        """The last ``n`` points received at or before ``date_to``."""


class ForecastRunHistory(Protocol):
    def recent_statuses(self, job_id: JobId, n: int) -> list[str]:
        """Statuses of the job's last ``n`` finished forecast runs, newest slot first."""

    def recent_statuses_many(
        self, wanted: Mapping[JobId, int], newer_than: datetime | None = None
    ) -> dict[JobId, list[str]]:
        """:meth:`recent_statuses` of each job (``wanted`` maps a job to its ``n``) in few reads;
        ``newer_than`` bounds what is read first (slots after it), as for
        :meth:`ForecastLog.recent_many`: the answer never depends on it."""


class MonitoredJobs(JobLookup, Protocol):
    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[TrainingJob]: ...


class EvaluatedJobs(MonitoredJobs, Protocol):
    """The jobs as the evaluator reads them: a batch at a time."""

    def get_many(self, job_ids: Sequence[JobId]) -> dict[JobId, TrainingJob]:
        """The jobs that exist among ``job_ids``, in one storage call whatever their number, as
        ``RecurringForecastJobs.get_many`` answers them: their progress counters, epoch history
        and triggers are not read (no rule uses them)."""


class Notifier(Protocol):
    """Sends one notification through its channel."""

    def deliver(self, channel: Channel, notification: Notification) -> DeliveryOutcome:
        """One attempt; never raises for a delivery failure (the outcome says whether it may be
        retried)."""
