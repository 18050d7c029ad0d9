"""What retraining needs: stored policies, the log of triggers (whose insert is the claim of a
fire time), the model events, and the port monitoring calls to ask for a retraining."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from chronos_core.application.ports.models import Page
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import Model
from chronos_core.domain.retraining import ModelEvent, RetrainingRun, StoredPolicy


class RetrainingPolicies(Protocol):
    """One retraining policy per model."""

    def put(self, stored: StoredPolicy) -> None:
        """Create or replace the model's policy."""

    def get(self, model_id: ModelId) -> StoredPolicy | None: ...

    def delete(self, model_id: ModelId) -> bool:
        """Delete the model's policy; True if there was one."""

    def scheduled(self, limit: int) -> list[StoredPolicy]:
        """Enabled policies that have a schedule (at most ``limit``, oldest first)."""


class RetrainingRuns(Protocol):
    """The log of triggers. Inserting a run is claiming its key: of any number of concurrent
    callers inserting the same key exactly one succeeds."""

    def claim(self, runs: Sequence[RetrainingRun]) -> list[bool]:
        """Insert each run unless its key exists; True where this call inserted it."""

    def existing(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that are recorded already."""

    def record(self, run: RetrainingRun) -> None:
        """Store the run's outcome (insert or replace by key)."""

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[RetrainingRun]:
        """The model's runs, newest first."""

    def delete_for_model(self, model_id: ModelId) -> int: ...


class ModelEvents(Protocol):
    """Informational events about a model's serving, newest first."""

    def add(self, event: ModelEvent) -> None: ...

    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[ModelEvent]: ...

    def delete_for_model(self, model_id: ModelId) -> int: ...


class ModelEventListener(Protocol):
    """Told of each model event once it is recorded (monitoring raises an informational alert
    on the model's tenant channels for a kept challenger). The caller logs and swallows what a
    listener raises: an event is never lost to a listener's failure."""

    def model_event(self, model: Model, event: ModelEvent) -> None: ...


@dataclass(frozen=True, kw_only=True)
class RuleFiring:
    """A monitoring rule asks for a retraining of ``model_id``: ``rule_id`` fired at ``at``
    because of ``reason`` (plain text, e.g. "drift p=0.003 on demand"). ``event_id`` makes the
    call idempotent (the same firing delivered twice is one trigger); by default the rule and
    ``at`` to the second."""

    model_id: ModelId
    rule_id: str
    reason: str
    at: datetime | None = None
    event_id: str | None = None


class RetrainTrigger(Protocol):
    """How monitoring asks for a retraining (the ``rule`` trigger). The model's policy decides:
    the rule must be one of its ``trigger_rules``; a training that runs or waits absorbs it as
    one more reason; cooldown, daily cap and the minimum of new data apply. Returns the run as
    recorded (its ``outcome`` and ``reason``)."""

    def trigger(self, firing: RuleFiring) -> RetrainingRun: ...
