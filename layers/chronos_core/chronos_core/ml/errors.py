"""Errors raised by the forecasting library; all are domain errors the API already maps."""

from __future__ import annotations

from chronos_core.domain.errors import ChronosError, NotFoundError, ValidationError


class InsufficientDataError(ValidationError):
    """The series is too short (or too fragmented) for the configured window and splits.

    ``details`` carries the counts that were found and the number of points that would do.
    """

    code = "insufficient_data"


class ArtifactIntegrityError(ChronosError):
    """An artifact's bytes do not match the sha256 recorded when it was written."""

    code = "artifact_integrity"


class ArtifactNotFoundError(NotFoundError):
    """No artifact with this id exists in the store."""


class ExportParityError(ChronosError):
    """The exported inference model disagrees with the Keras model beyond the tolerance."""

    code = "export_parity"


class TrainingCancelledError(ChronosError):
    """The progress port asked the fit to stop; no artifact was written."""

    code = "training_cancelled"


class UnsupportedArtifactError(ChronosError):
    """The artifact was written by an incompatible schema or runtime version."""

    code = "unsupported_artifact"
