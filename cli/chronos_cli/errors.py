"""Exit codes and the errors that carry them.

Every failure the CLI reports ends the process with one documented code (the README's table):
scripts branch on it without parsing messages.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The process exit codes of ``chronos``."""

    OK = 0
    ERROR = 1  # anything not listed below (an unexpected 5xx, a bad answer)
    USAGE = 2  # wrong arguments or options (Click's own code), missing configuration
    INVALID = 3  # the API refused the input (422, 413)
    AUTHENTICATION = 4  # no credentials, or the API refused them (401), or login failed
    FORBIDDEN = 5  # the token lacks the role or tenant (403)
    NOT_FOUND = 6  # no such model, job or device (404)
    CONFLICT = 7  # the state forbids it (409)
    UNAVAILABLE = 8  # the API or a dependency is down (503, 429, connection errors, timeouts)
    UPSTREAM = 9  # a FIWARE component failed (502)
    TRAINING_FAILED = 10  # `train start --follow`: the job ended failed
    TRAINING_CANCELLED = 11  # `train start --follow`: the job ended cancelled
    INTERRUPTED = 130  # Ctrl-C, the job left running


EXIT_BY_STATUS: dict[int, ExitCode] = {
    400: ExitCode.INVALID,
    401: ExitCode.AUTHENTICATION,
    403: ExitCode.FORBIDDEN,
    404: ExitCode.NOT_FOUND,
    409: ExitCode.CONFLICT,
    413: ExitCode.INVALID,
    422: ExitCode.INVALID,
    429: ExitCode.UNAVAILABLE,
    502: ExitCode.UPSTREAM,
    503: ExitCode.UNAVAILABLE,
    504: ExitCode.UNAVAILABLE,
}


class CliError(Exception):
    """A failure to report as ``message`` (and ``hints``, one per line) with ``exit_code``."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR, hints: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hints = hints or []


class UsageError(CliError):
    def __init__(self, message: str, hints: list[str] | None = None):
        super().__init__(message, ExitCode.USAGE, hints)


class AuthenticationRequired(CliError):
    def __init__(self, message: str, hints: list[str] | None = None):
        super().__init__(message, ExitCode.AUTHENTICATION, hints)


class ApiError(CliError):
    """An error answer of the API: its status, its ``error`` code, ``message`` and ``details``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        hints: list[str] | None = None,
        api_message: str | None = None,
    ):
        exit_code = EXIT_BY_STATUS.get(status, ExitCode.ERROR)
        super().__init__(message, exit_code, hints)
        self.api_message = message if api_message is None else api_message
        self.status = status
        self.code = code
        self.details = details or []

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.code,
            "message": self.api_message,
            "details": self.details,
        }
