"""What the training use cases need from the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.retraining import ConcurrencyLimits


class TrainingQueueSettings(BaseModel):
    """Concurrency limits and how long a dispatcher waits for the queue's lease."""

    model_config = ConfigDict(frozen=True)

    limits: ConcurrencyLimits = Field(default_factory=ConcurrencyLimits)
    lease_seconds: float = Field(default=60.0, gt=0)
    wait_seconds: float = Field(default=5.0, ge=0)
    #: Completed trainings whose durations estimate the wait.
    duration_samples: int = Field(default=20, ge=1)
