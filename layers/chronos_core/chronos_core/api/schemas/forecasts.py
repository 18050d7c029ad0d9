"""The body of the recurring-forecast toggle (results are the use cases' own models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.forecasting import MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS


class ToggleRequest(BaseModel):
    """Body of ``POST .../prediction-toggle``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(strict=True)
    interval_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=MIN_INTERVAL_SECONDS,
        le=MAX_INTERVAL_SECONDS,
        description="Seconds between forecasts; default: the training data's sampling interval "
        f"(at least {MIN_INTERVAL_SECONDS}).",
    )
    follow_champion: bool = Field(
        default=True,
        strict=True,
        description="Publish the forecasts of the model's champion (a promoted challenger takes over "
        "on this entity and slot grid) rather than always this job's.",
    )
