"""Bodies of the retraining routes (results are the use cases' own models)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.ids import JobId


class RetrainRequest(BaseModel):
    """Body of ``POST /models/{id}/retrain`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=500, description="Why, in plain text (kept on the run)."
    )


class ChampionRequest(BaseModel):
    """Body of ``PUT /models/{id}/champion``."""

    model_config = ConfigDict(extra="forbid")

    training_job_id: JobId = Field(min_length=1, max_length=64, description="A completed job of the model.")
    pinned: bool = Field(
        default=True, strict=True, description="Pinned: no challenger replaces it until it is unpinned."
    )
