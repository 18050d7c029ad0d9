"""HTTP plumbing shared by the three FIWARE clients: paths, retries, error mapping.

Contracts:

* **Paths.** :func:`build_path` percent-encodes every user-supplied segment with
  :func:`encode_path_segment` (``/``, ``?``, ``#``, ``%``, spaces, everything outside the RFC 3986
  unreserved set), and refuses the dot segments ``.`` and ``..`` and empty segments, so an id can
  never address a different upstream route.
* **Retries.** Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and
  full jitter (:class:`RetryPolicy`); other 4xx are never retried. A ``Retry-After`` in seconds is
  honoured, capped at ``RetryPolicy.max_delay``. Requests flagged ``idempotent=False`` are retried
  only when the request cannot have reached the server (connect errors) or on 429.
* **Errors.** After the retries a connection failure raises
  :class:`~.errors.FiwareUnavailableError`; an error status raises the class chosen by
  :func:`~.errors.error_for_status`. Upstream bodies go into ``upstream_description`` (logs) only.
* **Headers** are read through :class:`httpx.Headers`, which is case-insensitive.
* **Flow control.** A client given a :class:`~.flow.FlowControl` takes a slot for every attempt
  (waiting while the endpoint's limit of requests in flight is reached), uses its adaptive
  timeout, reports each outcome to it, waits :data:`TIMEOUT_BACKOFF` times longer before retrying
  after a timeout (an overloaded server needs time, not more requests), and fails at once with
  :class:`~.errors.FiwareUnavailableError` while its circuit is open.
* **Deadline.** Inside a time budget (:mod:`chronos_core.deadlines`, opened by the API for each
  request) every attempt's timeout is cut to what is left, a backoff that would not leave
  :data:`MIN_ATTEMPT_SECONDS` for another attempt is not taken, and a request that finds less than
  that left raises :class:`~.errors.FiwareUnavailableError` at once: the caller answers 503 with
  ``Retry-After`` in time instead of being cut off by its platform.

The :class:`FiwareHttp` wrapper owns one :class:`httpx.Client` (connection pool) and is safe to use
from several threads at once (the STH client's concurrent page fetches rely on it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self
from urllib.parse import quote

import httpx

from chronos_core.adapters.fiware.errors import (
    FiwareProtocolError,
    FiwareUnavailableError,
    error_for_status,
)
from chronos_core.adapters.fiware.flow import CircuitOpenError, FlowControl
from chronos_core.config import Settings
from chronos_core.deadlines import remaining
from chronos_core.domain.errors import ValidationError
from chronos_core.observability import logger

#: Statuses worth retrying: throttling and server-side failures.
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, *range(500, 600)})

#: Less time than this left in the budget: no (further) attempt is made.
MIN_ATTEMPT_SECONDS = 0.5
#: How much longer the backoff is after a timeout than after an error answer.
TIMEOUT_BACKOFF = 4.0

_SAFE_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError,)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter.

    Failed attempt ``n`` (1-based) waits ``uniform(0, bound)`` seconds, with
    ``bound = min(max_delay, initial_delay * multiplier**(n-1))`` (exactly ``bound`` when
    ``jitter`` is false), before attempt ``n + 1``. At most
    ``max_attempts`` attempts are made in total.
    """

    max_attempts: int = 4
    initial_delay: float = 0.2
    multiplier: float = 2.0
    max_delay: float = 5.0
    jitter: bool = True
    retry_statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("delays must be >= 0 and multiplier >= 1")

    @classmethod
    def none(cls) -> Self:
        """A policy that makes a single attempt (health probes)."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        bound = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return rng.uniform(0.0, bound) if self.jitter else bound


def encode_path_segment(value: str, field_name: str = "path segment") -> str:
    """Percent-encode one path segment; every reserved character is encoded (``safe=""``).

    Raises :class:`ValidationError` for ``""``, ``"."`` and ``".."``, which no encoding can keep
    from being collapsed by URL normalisation somewhere between us and the upstream route.
    """
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise ValidationError(
            f"invalid {field_name}: cannot be used in a URL path",
            details=[{"field": field_name, "message": "empty, '.' and '..' are not addressable"}],
        )
    return quote(value, safe="")


def build_path(template: str, *segments: str | tuple[str, str]) -> str:
    """Fill ``{}`` placeholders in ``template`` with encoded segments.

    Each segment is a value or a ``(field_name, value)`` pair (the name appears in validation
    errors). The template itself is trusted and is not encoded.
    """
    encoded: list[str] = []
    for segment in segments:
        if isinstance(segment, tuple):
            name, value = segment
            encoded.append(encode_path_segment(value, name))
        else:
            encoded.append(encode_path_segment(segment))
    return template.format(*encoded)


def parse_error_body(response: httpx.Response) -> tuple[str | None, str | None]:
    """Extract ``(keyword, description)`` from the three FIWARE error shapes.

    Orion and STH v2 send ``{error, description}``; STH v1 (hapi/Boom) sends
    ``{statusCode, error, message}``; the IoT Agent sends ``{name, message}``.
    """
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return None, text[:500] or None
    if not isinstance(body, dict):
        return None, None
    keyword = body.get("error") or body.get("name")
    description = body.get("description") or body.get("message")
    return (
        keyword if isinstance(keyword, str) else None,
        description if isinstance(description, str) else None,
    )


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


class FiwareHttp:
    """One component's HTTP access: base URL, pool, timeouts, retry policy and error mapping."""

    def __init__(
        self,
        component: str,
        base_url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 20,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        auth_token: str | None = None,
        flow: FlowControl | None = None,
    ) -> None:
        """Create the pool. ``transport`` is for tests (``httpx.MockTransport``). ``auth_token``
        is sent as ``X-Auth-Token`` (a FIWARE PEP proxy / Keyrock access token) when given;
        ``flow`` governs the attempts (see the module docstring)."""
        if not base_url:
            raise ValueError(f"{component}: base URL is not configured")
        self.component = component
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._timeout = timeout
        self._flow = flow
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
            follow_redirects=False,
            headers={"Accept": "application/json", **({"X-Auth-Token": auth_token} if auth_token else {})},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        ok: Collection[int] = (200,),
        idempotent: bool = True,
    ) -> httpx.Response:
        """Send one logical request, retrying per the policy, and return a response in ``ok``.

        ``path`` must come from :func:`build_path` (already encoded). A 2xx outside ``ok`` raises
        :class:`FiwareProtocolError`; an error status outside ``ok`` raises its typed error once
        the retries (for retryable statuses) are exhausted; transport failures raise
        :class:`FiwareUnavailableError`.
        """
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            timeout = self._attempt_timeout(operation, attempt)
            started = self._admit(operation, timeout)
            try:
                response = self._client.request(
                    method, path, params=params, headers=headers, json=json, timeout=timeout
                )
            except _TRANSPORT_ERRORS as exc:
                timed_out = isinstance(exc, httpx.TimeoutException)
                self._report(started, "timeout" if timed_out else "transport")
                retryable = idempotent or isinstance(exc, _SAFE_TRANSPORT_ERRORS)
                delay = policy.backoff(attempt, self._rng) * (TIMEOUT_BACKOFF if timed_out else 1.0)
                if retryable and attempt < policy.max_attempts and self._time_for(delay):
                    self._log_retry(operation, attempt, type(exc).__name__, delay)
                    self._sleep(delay)
                    continue
                raise FiwareUnavailableError(
                    self.component, operation, f"{type(exc).__name__} after {attempt} attempt(s)"
                ) from exc
            except BaseException:
                self._report(started, "transport")  # never keep a slot
                raise

            status = response.status_code
            self._report(started, "server" if status in RETRYABLE_STATUSES else None)
            if status in ok:
                return response
            retryable = status in policy.retry_statuses and (idempotent or status == 429)
            delay = policy.backoff(attempt, self._rng)
            hint = _retry_after(response)
            if hint is not None:
                delay = min(max(delay, hint), policy.max_delay)
            if retryable and attempt < policy.max_attempts and self._time_for(delay):
                self._log_retry(operation, attempt, f"HTTP {status}", delay)
                response.close()
                self._sleep(delay)
                continue
            raise self.error_from(response, operation)

    def _admit(self, operation: str, timeout: float) -> float:
        """Take a flow-control slot for one attempt; the attempt's start time. It waits for a slot
        and through an open circuit's cooldown until the time budget runs out (without a budget:
        the cooldown plus ``timeout``). Raises FiwareUnavailableError when it cannot."""
        if self._flow is not None:
            budget = remaining()
            wait = budget if budget is not None else self._flow.settings.breaker_cooldown + timeout
            try:
                self._flow.acquire(wait=wait)
            except CircuitOpenError as exc:
                raise FiwareUnavailableError(self.component, operation, str(exc)) from None
            except TimeoutError:
                raise FiwareUnavailableError(
                    self.component, operation, "no request slot freed in time"
                ) from None
        return time.monotonic()

    def _report(self, started: float, failure: Literal["timeout", "server", "transport"] | None) -> None:
        if self._flow is None:
            return
        if failure is None:
            self._flow.succeeded(time.monotonic() - started)
        else:
            self._flow.failed(failure)

    def _attempt_timeout(self, operation: str, attempt: int) -> float:
        """This attempt's timeout: the client's, cut to the budget left. Raises
        FiwareUnavailableError when the budget cannot fit another attempt."""
        own = self._flow.timeout() if self._flow is not None else self._timeout
        budget = remaining()
        if budget is None:
            return own
        if budget < MIN_ATTEMPT_SECONDS:
            raise FiwareUnavailableError(
                self.component, operation, f"the request's time budget ran out after {attempt - 1} attempt(s)"
            )
        return min(own, budget)

    @staticmethod
    def _time_for(delay: float) -> bool:
        """Whether waiting ``delay`` still leaves time for one more attempt."""
        budget = remaining()
        return budget is None or budget - delay >= MIN_ATTEMPT_SECONDS

    def error_from(self, response: httpx.Response, operation: str) -> Exception:
        """Build the typed error for an unexpected ``response`` (the body is never echoed)."""
        status = response.status_code
        if 200 <= status < 300:
            return FiwareProtocolError(self.component, operation, status, reason="unexpected success status")
        keyword, description = parse_error_body(response)
        error_class = error_for_status(status)
        logger.info(
            "fiware upstream error",
            extra={
                "component": self.component,
                "operation": operation,
                "status": status,
                "upstream_error": keyword,
                "upstream_description": (description or "")[:300],
            },
        )
        return error_class(
            self.component,
            operation,
            status,
            upstream_error=keyword,
            upstream_description=description,
        )

    def protocol_error(self, response: httpx.Response, operation: str, reason: str) -> FiwareProtocolError:
        """A usable-status response whose body or headers do not follow the contract."""
        return FiwareProtocolError(self.component, operation, response.status_code, reason=reason)

    def _log_retry(self, operation: str, attempt: int, cause: str, delay: float) -> None:
        logger.warning(
            "fiware request failed, retrying",
            extra={
                "component": self.component,
                "operation": operation,
                "attempt": attempt,
                "cause": cause,
                "retry_in_s": round(delay, 3),
            },
        )


class FiwareClient:
    """What the three FIWARE clients share: one :class:`FiwareHttp` pool, construction from
    settings, closing, and reading a JSON object (``/version``, ``/iot/about``)."""

    #: Component name used in errors and logs.
    component: ClassVar[str]
    #: Name of the :class:`Settings` field holding the component's base URL.
    url_setting: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 20,
        auth_token: str | None = None,
        flow: FlowControl | None = None,
    ) -> None:
        self._http = FiwareHttp(
            self.component,
            base_url,
            timeout=timeout,
            retry=retry,
            transport=transport,
            max_connections=max_connections,
            auth_token=auth_token,
            flow=flow,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        """Build from the component's URL setting, ``fiware_timeout_seconds`` and
        ``fiware_max_attempts``; keyword arguments override them."""
        url = getattr(settings, cls.url_setting)
        if not url:
            raise ValueError(f"CHRONOS_{cls.url_setting.upper()} is not configured")
        kwargs.setdefault("timeout", settings.fiware_timeout_seconds)
        kwargs.setdefault("retry", RetryPolicy(max_attempts=settings.fiware_max_attempts))
        return cls(url, **kwargs)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get_object(
        self,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``GET path`` whose body must be a JSON object."""
        response = self._http.request("GET", path, operation=operation, params=params, headers=headers)
        body = response.json()
        if not isinstance(body, dict):
            raise self._http.protocol_error(response, operation, "body is not a JSON object")
        return body
