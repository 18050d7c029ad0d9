"""Typed failures of the FIWARE clients: one class per failure class.

Every class subclasses a domain error, so the API's single error table maps them without knowing
about FIWARE:

* :class:`FiwareUnavailableError` (:class:`DependencyUnavailableError`): the component could not be
  reached (connection refused or reset, DNS, timeout), after the retries.
* :class:`FiwareUpstreamError` (:class:`UpstreamError`) and subclasses: the component answered with
  an error status. ``message`` is written by us (component, operation, status and the upstream
  error *keyword* when it is a plain token); the upstream description is kept in
  ``upstream_description`` for logs only and is **never** part of ``message`` or ``details``.

  * :class:`FiwareBadRequestError` — 400 (and 411/413/415/406).
  * :class:`FiwareAuthError` — 401/403.
  * :class:`FiwareNotFoundError` — 404.
  * :class:`FiwareConflictError` — 409 (duplicates, several entities match) and 422 (Orion
    ``Already Exists`` / ``Unprocessable``).
  * :class:`FiwareRateLimitedError` — 429 after the retries.
  * :class:`FiwareServerError` — 5xx after the retries.
  * :class:`FiwareProtocolError` — a 2xx answer we cannot use (wrong status, unparseable body,
    missing ``Location``...).
"""

from __future__ import annotations

import re
from typing import Any

from chronos_core.domain.errors import DependencyUnavailableError, UpstreamError

_KEYWORD_RE = re.compile(r"^[A-Za-z_ ]{1,48}$")
_MAX_DESCRIPTION = 500


class FiwareUnavailableError(DependencyUnavailableError):
    """The component could not be reached (connection error or timeout), retries exhausted."""

    code = "fiware_unavailable"

    def __init__(self, component: str, operation: str, reason: str) -> None:
        super().__init__(
            f"{component} is unavailable ({operation}): {reason}",
            details=[{"component": component, "operation": operation, "reason": reason}],
        )
        self.component = component
        self.operation = operation
        self.reason = reason


class FiwareUpstreamError(UpstreamError):
    """The component answered with an error status (base class of the status-specific errors)."""

    code = "fiware_upstream_error"

    def __init__(
        self,
        component: str,
        operation: str,
        status_code: int,
        *,
        upstream_error: str | None = None,
        upstream_description: str | None = None,
        reason: str | None = None,
    ) -> None:
        keyword = upstream_error if upstream_error and _KEYWORD_RE.match(upstream_error) else None
        text = f"{component} answered HTTP {status_code} to {operation}"
        if keyword:
            text += f" ({keyword})"
        if reason:
            text += f": {reason}"
        detail: dict[str, Any] = {"component": component, "operation": operation, "status": status_code}
        if keyword:
            detail["upstream_error"] = keyword
        super().__init__(text, details=[detail])
        self.component = component
        self.operation = operation
        self.status_code = status_code
        self.upstream_error = keyword
        #: The upstream's own text, truncated; for logs only, never for API users.
        self.upstream_description = (upstream_description or "")[:_MAX_DESCRIPTION] or None


class FiwareBadRequestError(FiwareUpstreamError):
    """400-class rejection of our request (bad parameters, headers, payload)."""

    code = "fiware_bad_request"


class FiwareAuthError(FiwareUpstreamError):
    """401/403: the component refused the credentials or the tenant."""

    code = "fiware_forbidden"


class FiwareNotFoundError(FiwareUpstreamError):
    """404: the entity, attribute, subscription, device or group does not exist."""

    code = "fiware_not_found"


class FiwareConflictError(FiwareUpstreamError):
    """409/422: already exists, duplicate device or group, or several entities match."""

    code = "fiware_conflict"


class FiwareRateLimitedError(FiwareUpstreamError):
    """429 that persisted through the retries."""

    code = "fiware_rate_limited"


class FiwareServerError(FiwareUpstreamError):
    """5xx that persisted through the retries."""

    code = "fiware_server_error"


class FiwareProtocolError(FiwareUpstreamError):
    """A successful status with a response we cannot use (unexpected status or body shape)."""

    code = "fiware_protocol_error"


def error_for_status(status_code: int) -> type[FiwareUpstreamError]:
    """Return the error class for an HTTP error status."""
    if status_code in (401, 403):
        return FiwareAuthError
    if status_code == 404:
        return FiwareNotFoundError
    if status_code in (409, 422):
        return FiwareConflictError
    if status_code == 429:
        return FiwareRateLimitedError
    if status_code >= 500:
        return FiwareServerError
    if 400 <= status_code < 500:
        return FiwareBadRequestError
    return FiwareProtocolError
