"""What the monitoring use cases depend on."""

from __future__ import annotations

from typing import Protocol

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.monitoring.settings import MonitoringSettings
from chronos_core.application.ports.monitoring import (
    AlertRules,
    AlertStore,
    ChannelStore,
    EvaluatedJobs,
    EvaluationLog,
    ForecastLog,
    ForecastRunHistory,
    MonitoredJobs,
    NotificationQueue,
    NotificationStore,
    Notifier,
    ObservedSeries,
    RuleStates,
    SilenceStore,
)
from chronos_core.application.ports.retraining import RetrainTrigger


class MonitoringSettingsDeps(Protocol):
    @property
    def monitoring_settings(self) -> MonitoringSettings: ...


class AlertQueryDeps(Protocol):
    """Reading alerts, their events and deliveries; acknowledging them."""

    @property
    def alerts(self) -> AlertStore: ...

    @property
    def notifications(self) -> NotificationStore: ...


class DispatchDeps(AlertQueryDeps, MonitoringSettingsDeps, Protocol):
    """Creating notifications and queueing them."""

    @property
    def channels(self) -> ChannelStore: ...

    @property
    def notification_queue(self) -> NotificationQueue: ...


class RuleAdminDeps(ModelsDeps, AlertQueryDeps, Protocol):
    """Creating, reading, changing and deleting rules."""

    @property
    def jobs(self) -> MonitoredJobs: ...

    @property
    def alert_rules(self) -> AlertRules: ...

    @property
    def rule_states(self) -> RuleStates: ...

    @property
    def alert_evaluations(self) -> EvaluationLog: ...

    @property
    def channels(self) -> ChannelStore: ...


class ChannelAdminDeps(DispatchDeps, Protocol):
    """Creating, reading, changing (re-enabling) and deleting channels."""

    @property
    def alert_rules(self) -> AlertRules: ...


class SilenceDeps(ModelsDeps, Protocol):
    @property
    def silences(self) -> SilenceStore: ...

    @property
    def alert_rules(self) -> AlertRules: ...


class RetrainRequestDeps(Protocol):
    """How a firing drift or live-accuracy rule asks for a retraining (implemented by the
    retraining capability; see :mod:`~chronos_core.application.monitoring.retraining`)."""

    @property
    def retrain_trigger(self) -> RetrainTrigger: ...


class EvaluationDeps(ModelsDeps, DispatchDeps, RetrainRequestDeps, Protocol):
    """The evaluator: rules, their data, their states, alerts and notifications."""

    @property
    def jobs(self) -> EvaluatedJobs: ...

    @property
    def alert_rules(self) -> AlertRules: ...

    @property
    def rule_states(self) -> RuleStates: ...

    @property
    def alert_evaluations(self) -> EvaluationLog: ...

    @property
    def silences(self) -> SilenceStore: ...

    @property
    def observed_series(self) -> ObservedSeries: ...

    @property
    def forecast_log(self) -> ForecastLog: ...

    @property
    def forecast_runs(self) -> ForecastRunHistory: ...


class DeliveryDeps(DispatchDeps, Protocol):
    """Delivering one notification."""

    @property
    def notifier(self) -> Notifier: ...
