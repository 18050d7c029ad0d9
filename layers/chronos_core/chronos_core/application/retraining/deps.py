"""What the retraining use cases depend on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.application.models.deps import ModelsDeps
from chronos_core.application.ports.retraining import (
    ModelEventListener,
    ModelEvents,
    RetrainingPolicies,
    RetrainingRuns,
)
from chronos_core.application.ports.training_jobs import PipelineJournal, TrainingJobs
from chronos_core.application.training.deps import TrainingControlDeps


class RetrainingSettings(BaseModel):
    """How many policies a tick reads, and how far back the guards look at trainings."""

    model_config = ConfigDict(frozen=True)

    max_policies_per_tick: int = Field(default=10_000, ge=1)
    #: Trainings created within this many days count for the cooldown and the daily cap.
    history_days: float = Field(default=2.0, gt=0)
    #: Fire times listed by the policy's preview.
    preview_count: int = Field(default=5, ge=1, le=50)


class PolicyDeps(ModelsDeps, Protocol):
    @property
    def policies(self) -> RetrainingPolicies: ...

    @property
    def runs(self) -> RetrainingRuns: ...


class RetrainDeps(TrainingControlDeps, PolicyDeps, Protocol):
    """Triggers and the scheduler tick: the policy, the log, the training lease and queue."""

    @property
    def retraining_settings(self) -> RetrainingSettings: ...


class PromotionDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> PipelineJournal: ...

    @property
    def policies(self) -> RetrainingPolicies: ...

    @property
    def events(self) -> ModelEvents: ...

    @property
    def model_event_listeners(self) -> Sequence[ModelEventListener]:
        """Told of the promotion's event (monitoring's informational alert)."""


class ChampionDeps(ModelsDeps, Protocol):
    @property
    def jobs(self) -> TrainingJobs: ...

    @property
    def events(self) -> ModelEvents: ...
