"""Ports of the forecasting core: where progress goes and where artifacts live.

Adapters implement these (GridFS: :mod:`chronos_core.adapters.artifact_store`; progress: the
trainer's Mongo reporter); tests pass in-memory ones.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from chronos_core.ml.artifacts import ArtifactMeta, StoredArtifact


class EpochProgress(BaseModel):
    """One finished epoch. ``epoch`` is 1-based; losses are MSE in scaled units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epoch: int
    epochs: int
    loss: float | None
    val_loss: float | None
    learning_rate: float | None
    elapsed_seconds: float


class ProgressReporter(Protocol):
    """Receives live progress of a training job; may ask it to stop (cancellation)."""

    def phase(self, name: str) -> None:
        """A new phase started: ``preprocessing``, ``training``, ``exporting``, ``evaluating``,
        ``saving``."""

    def epoch(self, progress: EpochProgress) -> None:
        """An epoch finished. Must be cheap or throttle itself: it runs inside the fit loop."""

    def should_stop(self) -> bool:
        """True to stop the fit at the end of the current epoch (the job is then cancelled)."""


class NullProgress:
    """A reporter that ignores everything and never stops."""

    def phase(self, name: str) -> None:
        return None

    def epoch(self, progress: EpochProgress) -> None:
        return None

    def should_stop(self) -> bool:
        return False


class ArtifactReader(Protocol):
    """Read access to the ``model_artifacts`` bucket."""

    def get(self, artifact_id: str) -> StoredArtifact:
        """The artifact, its sha256 verified. Raises ArtifactNotFoundError / ArtifactIntegrityError."""


class ArtifactStore(ArtifactReader, Protocol):
    """Read-write access to the ``model_artifacts`` bucket."""

    def put(self, data: bytes, meta: ArtifactMeta) -> str:
        """Store ``data``; return its id. Idempotent per (training_job_id, artifact_type): an
        earlier file of the same job and type is replaced (written first, old one deleted after)."""

    def delete_job(self, training_job_id: str) -> int:
        """Delete every artifact of a job; return how many files were removed."""
