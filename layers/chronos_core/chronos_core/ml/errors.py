"""Errors raised by the forecasting library; all are domain errors the API already maps.

The ones the application layer also handles (``InsufficientDataError``,
``TrainingCancelledError``, the artifact errors) are defined in :mod:`chronos_core.domain.errors`
and re-exported here.
"""

from __future__ import annotations

from chronos_core.domain.errors import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ChronosError,
    InsufficientDataError,
    TrainingCancelledError,
)

__all__ = [
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ExportParityError",
    "InsufficientDataError",
    "TrainingCancelledError",
    "UnsupportedArtifactError",
]


class ExportParityError(ChronosError):
    """The exported inference model disagrees with the Keras model beyond the tolerance."""

    code = "export_parity"


class UnsupportedArtifactError(ChronosError):
    """The artifact was written by an incompatible schema or runtime version."""

    code = "unsupported_artifact"
