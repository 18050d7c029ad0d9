"""The HTTP client of the API: authentication, retries for reads, one error per failure.

* Every request carries ``Authorization: Bearer <token>`` (resolved lazily, on the first call).
* Reads (``GET``, and requests marked ``retry=True`` such as ``predict``, which publishes
  nothing) are retried on 503/504 and on connection errors and timeouts, up to ``retries``
  attempts, waiting ``Retry-After`` when the API sends it (capped at :data:`MAX_RETRY_AFTER`),
  else an exponential backoff with full jitter. Writes are sent once.
* An error answer becomes one :class:`~chronos_cli.errors.ApiError` whose message says what went
  wrong in the API's own words, with hints: the fields of a 422, the token's roles and tenants on
  a 403, how to authenticate on a 401.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from chronos_cli import __version__
from chronos_cli.errors import ApiError, CliError, ExitCode

RETRYABLE_STATUS = frozenset({503, 504})
MAX_RETRY_AFTER = 30.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before retry ``attempt`` (1-based)."""
    return float(rng()) * min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1))


def error_from_response(
    response: httpx.Response, hint_403: Callable[[], list[str]] | None = None
) -> ApiError:
    """The API's uniform error body ``{error, message, details}`` as an :class:`ApiError`."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error") or f"http_{status}")
    message = api_message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
    details = [d for d in body.get("details") or [] if isinstance(d, dict)]
    hints: list[str] = []
    if status == 422:
        fields = [str(d.get("field", "body")) for d in details]
        if fields:
            message = f"Invalid input: {', '.join(dict.fromkeys(fields))}"
        hints = [f"{d.get('field', 'body')}: {d.get('message', 'invalid')}" for d in details]
    elif status == 401:
        message = f"Authentication failed: {message}"
        hints = ["Run `chronos login`, or set CHRONOS_TOKEN to a valid token (`chronos whoami` shows it)"]
    elif status == 403:
        message = f"Permission denied: {message}"
        hints = hint_403() if hint_403 else []
    elif status == 404:
        message = f"Not found: {message}"
    elif status == 409:
        message = f"Conflict: {message}"
    elif status == 429:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        message = f"Too many requests: {message}"
        if wait is not None:
            hints = [f"Retry after {wait:.0f} s"]
    elif status == 502:
        message = f"A FIWARE component failed: {message}"
    elif status in RETRYABLE_STATUS:
        message = f"Unavailable: {message}"
    return ApiError(status, code, message, details, hints, api_message)


class ApiClient:
    """A small synchronous client of the Chronos API."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        timeout: float = 60.0,
        retries: int = 4,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda _message: None,
        hint_403: Callable[[], list[str]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._retries = max(1, retries)
        self._sleep = sleep
        self._log = log
        self._hint_403 = hint_403
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": f"chronos-cli/{__version__}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry: bool | None = None,
        authenticated: bool = True,
    ) -> Any:
        """The decoded JSON answer (None for an empty one); raises :class:`CliError`."""
        method = method.upper()
        retry = method in ("GET", "HEAD") if retry is None else retry
        attempts = self._retries if retry else 1
        headers = {"Authorization": f"Bearer {self._token()}"} if authenticated else {}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            self._log(f"{method} {self.base_url}{path} {clean or ''}".rstrip())
            try:
                response = self._http.request(method, path, params=clean, json=json, headers=headers)
            except httpx.TransportError as exc:
                if attempt < attempts:
                    wait = backoff_seconds(attempt)
                    self._log(
                        f"  {type(exc).__name__}: {exc}; retrying in {wait:.1f} s ({attempt}/{attempts})"
                    )
                    self._sleep(wait)
                    continue
                what = "timed out" if isinstance(exc, httpx.TimeoutException) else "cannot be reached"
                raise CliError(
                    f"The API at {self.base_url} {what}: {exc}",
                    ExitCode.UNAVAILABLE,
                    hints=[f"Tried {attempts} time(s); check api_url (`chronos config show`)"],
                ) from None
            elapsed = (time.monotonic() - started) * 1000
            self._log(f"  -> {response.status_code} in {elapsed:.0f} ms")
            if response.status_code in RETRYABLE_STATUS and attempt < attempts:
                asked = retry_after_seconds(response.headers.get("retry-after"))
                wait = min(MAX_RETRY_AFTER, asked) if asked is not None else backoff_seconds(attempt)
                self._log(f"  unavailable; retrying in {wait:.1f} s ({attempt}/{attempts})")
                self._sleep(wait)
                continue
            if response.status_code >= 400:
                error = error_from_response(response, self._hint_403)
                if response.status_code in RETRYABLE_STATUS and attempts > 1:
                    error.hints.append(f"Gave up after {attempts} attempts")
                raise error
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise CliError(f"The API answered {method} {path} with a body that is not JSON") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def probe(self, path: str) -> tuple[int, Any]:
        """An unauthenticated GET answered whatever its status: ``(status, JSON or None)``."""
        try:
            response = self._http.get(path)
        except httpx.TransportError as exc:
            raise CliError(
                f"The API at {self.base_url} cannot be reached: {exc}", ExitCode.UNAVAILABLE
            ) from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, retry: bool = False) -> Any:
        return self.request("POST", path, json=body, retry=retry)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
