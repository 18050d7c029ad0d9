"""Model artifacts as the domain sees them: what a trained job stored, and how it is verified.

A job writes five files: the Keras model (``model``), the ONNX inference model (``inference``),
the two scalers (``x_scaler``, ``y_scaler``; JSON, never pickled) and the metadata document
(``metadata``). Every file carries an :class:`ArtifactMeta` with the sha256 of its bytes, checked
by :func:`verify` whenever it is read. :class:`ArtifactRefs` are the five ids a job keeps.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from chronos_core.domain.errors import ArtifactIntegrityError

METADATA_SCHEMA_VERSION: Final = 1


class ArtifactType(StrEnum):
    MODEL = "model"
    INFERENCE = "inference"
    X_SCALER = "x_scaler"
    Y_SCALER = "y_scaler"
    METADATA = "metadata"


#: (content_type, format, file extension) per artifact type.
ARTIFACT_FORMATS: dict[ArtifactType, tuple[str, str, str]] = {
    ArtifactType.MODEL: ("application/zip", "keras", "keras"),
    ArtifactType.INFERENCE: ("application/x-onnx", "onnx", "onnx"),
    ArtifactType.X_SCALER: ("application/json", "json", "json"),
    ArtifactType.Y_SCALER: ("application/json", "json", "json"),
    ArtifactType.METADATA: ("application/json", "json", "json"),
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ArtifactMeta(BaseModel):
    """Metadata stored with every artifact file."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model_id: str
    training_job_id: str
    artifact_type: ArtifactType
    content_type: str
    format: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    schema_version: int = METADATA_SCHEMA_VERSION
    created_at: datetime

    @classmethod
    def for_bytes(
        cls, data: bytes, artifact_type: ArtifactType, model_id: str, training_job_id: str
    ) -> ArtifactMeta:
        content_type, fmt, _ = ARTIFACT_FORMATS[artifact_type]
        return cls(
            model_id=model_id,
            training_job_id=training_job_id,
            artifact_type=artifact_type,
            content_type=content_type,
            format=fmt,
            sha256=sha256_hex(data),
            size=len(data),
            created_at=datetime.now(UTC),
        )

    def filename(self) -> str:
        extension = ARTIFACT_FORMATS[self.artifact_type][2]
        return f"{self.model_id}_{self.training_job_id}_{self.artifact_type.value}.{extension}"


class StoredArtifact(BaseModel):
    """An artifact as read back from a store."""

    model_config = ConfigDict(frozen=True)

    artifact_id: str
    data: bytes
    meta: ArtifactMeta


def verify(artifact: StoredArtifact, expected_type: ArtifactType | None = None) -> StoredArtifact:
    """Check size, sha256 (and type); raise :class:`ArtifactIntegrityError` on any mismatch."""
    digest = sha256_hex(artifact.data)
    if digest != artifact.meta.sha256 or len(artifact.data) != artifact.meta.size:
        raise ArtifactIntegrityError(
            f"Artifact {artifact.artifact_id} failed its integrity check.",
            details=[
                {
                    "artifact_id": artifact.artifact_id,
                    "expected_sha256": artifact.meta.sha256,
                    "actual_sha256": digest,
                }
            ],
        )
    if expected_type is not None and artifact.meta.artifact_type != expected_type:
        raise ArtifactIntegrityError(
            f"Artifact {artifact.artifact_id} is a {artifact.meta.artifact_type.value}, "
            f"not a {expected_type.value}.",
            details=[{"artifact_id": artifact.artifact_id}],
        )
    return artifact


class ArtifactRefs(BaseModel):
    """Ids of the five artifacts of one job (store-assigned strings, e.g. ObjectId hex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    inference: str
    x_scaler: str
    y_scaler: str
    metadata: str
