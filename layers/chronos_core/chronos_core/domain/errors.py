"""Domain errors. The API maps each class to one HTTP status in a single table."""

from __future__ import annotations

from typing import Any


class ChronosError(Exception):
    """Base class: ``code`` is the machine-readable error name sent to API clients."""

    code = "chronos_error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFoundError(ChronosError):
    """The addressed resource does not exist (or is not visible to the caller)."""

    code = "not_found"


class ConflictError(ChronosError):
    """The request contradicts the resource's current state (e.g. editing a trained model)."""

    code = "conflict"


class ValidationError(ChronosError):
    """A business rule rejected the input; ``details`` name the offending fields."""

    code = "validation_error"


class DependencyUnavailableError(ChronosError):
    """A required dependency (database, AWS service, FIWARE component) cannot be reached."""

    code = "dependency_unavailable"


class UpstreamError(ChronosError):
    """An upstream service answered with an error; the raw body is never forwarded."""

    code = "upstream_error"


class AuthenticationError(ChronosError):
    """Credentials are missing or invalid. The message never says which check failed."""

    code = "unauthorized"


class PermissionDeniedError(ChronosError):
    """The caller is authenticated but lacks the role for this operation."""

    code = "forbidden"


class RateLimitedError(ChronosError):
    """Too many requests (e.g. repeated authentication failures); retry after ``retry_after`` s."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InsufficientDataError(ValidationError):
    """A series is too short (or too fragmented) for the configured window and splits, or a
    forecast context is unusable. ``details`` carry the counts found and what would do."""

    code = "insufficient_data"


class TrainingCancelledError(ChronosError):
    """The job was cancelled while it trained; nothing was written."""

    code = "training_cancelled"


class ArtifactIntegrityError(ChronosError):
    """An artifact's bytes do not match the sha256 recorded when it was written."""

    code = "artifact_integrity"


class ArtifactNotFoundError(NotFoundError):
    """No artifact with this id exists in the store."""
