"""The ``model_artifacts`` store."""

from __future__ import annotations

from typing import Protocol

from chronos_core.domain.artifacts import ArtifactMeta, StoredArtifact


class ArtifactReader(Protocol):
    """Read access to the artifact store."""

    def get(self, artifact_id: str) -> StoredArtifact:
        """The artifact, its sha256 verified. Raises ArtifactNotFoundError / ArtifactIntegrityError."""


class ArtifactStore(ArtifactReader, Protocol):
    """Read-write access to the artifact store."""

    def put(self, data: bytes, meta: ArtifactMeta) -> str:
        """Store ``data``; return its id. Idempotent per (training_job_id, artifact_type): an
        earlier file of the same job and type is replaced (written first, old one deleted after)."""

    def delete_job(self, training_job_id: str) -> int:
        """Delete every artifact of a job; return how many files were removed."""
