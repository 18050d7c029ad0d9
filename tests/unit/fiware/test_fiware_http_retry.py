"""Shared HTTP layer: path encoding, backoff, retry classes, typed errors, no body echo."""

from __future__ import annotations

import random

import httpx
import pytest

from chronos_core.adapters.fiware import (
    FiwareBadRequestError,
    FiwareConflictError,
    FiwareNotFoundError,
    FiwareRateLimitedError,
    FiwareServerError,
    FiwareUnavailableError,
    RetryPolicy,
    build_path,
    encode_path_segment,
)
from chronos_core.adapters.fiware.http import FiwareHttp
from chronos_core.domain.errors import DependencyUnavailableError, UpstreamError, ValidationError


def make(handler, *, attempts: int = 4) -> tuple[FiwareHttp, list[float]]:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    http = FiwareHttp(
        "Test",
        "http://upstream:1",
        retry=RetryPolicy(max_attempts=attempts, initial_delay=0.1, max_delay=1.0),
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rng=random.Random(1),
    )
    return http, sleeps


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [("Room1", "Room1"), ("../x", "..%2Fx"), ("a#b", "a%23b"), ("a?b=c", "a%3Fb%3Dc"), ("a b%", "a%20b%25")],
)
def test_encode_path_segment(raw: str, encoded: str) -> None:
    assert encode_path_segment(raw) == encoded


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_dot_segments_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        build_path("/v2/entities/{}", ("entity_id", bad))


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(initial_delay=0.1, multiplier=2, max_delay=0.5, jitter=False)
    assert [policy.backoff(n, random.Random()) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    jittered = RetryPolicy(initial_delay=0.1, max_delay=0.5)
    rng = random.Random(3)
    samples = [jittered.backoff(3, rng) for _ in range(200)]
    assert all(0 <= s <= 0.4 for s in samples) and len(set(samples)) > 100


def test_5xx_is_retried_then_succeeds() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500 if len(calls) < 3 else 200, json={})

    http, sleeps = make(handler)
    assert http.request("GET", "/x", operation="op").status_code == 200
    assert len(calls) == 3 and len(sleeps) == 2


def test_4xx_is_not_retried_and_body_is_not_echoed() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            400, json={"error": "BadRequest", "description": "SECRET upstream text <script>"}
        )

    http, _ = make(handler)
    with pytest.raises(FiwareBadRequestError) as info:
        http.request("GET", "/x", operation="op")
    assert len(calls) == 1
    error = info.value
    assert isinstance(error, UpstreamError) and error.status_code == 400
    assert error.upstream_error == "BadRequest"
    assert "SECRET" not in error.message and "SECRET" not in str(error.details)
    assert error.upstream_description is not None and "SECRET" in error.upstream_description


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (404, FiwareNotFoundError),
        (409, FiwareConflictError),
        (422, FiwareConflictError),
        (503, FiwareServerError),
    ],
)
def test_status_maps_to_typed_error(status: int, error_class: type[Exception]) -> None:
    http, _ = make(lambda request: httpx.Response(status, json={"name": "X", "message": "m"}), attempts=2)
    with pytest.raises(error_class):
        http.request("GET", "/x", operation="op")


def test_429_honours_retry_after_capped() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "30"}) if len(calls) == 1 else httpx.Response(200)

    http, sleeps = make(handler)
    http.request("GET", "/x", operation="op")
    assert sleeps == [1.0]


def test_persistent_429_is_rate_limited_error() -> None:
    http, sleeps = make(lambda request: httpx.Response(429), attempts=3)
    with pytest.raises(FiwareRateLimitedError):
        http.request("GET", "/x", operation="op")
    assert len(sleeps) == 2


def test_connection_errors_retried_then_unavailable() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    http, sleeps = make(handler, attempts=3)
    with pytest.raises(FiwareUnavailableError) as info:
        http.request("GET", "/x", operation="op")
    assert isinstance(info.value, DependencyUnavailableError)
    assert len(calls) == 3 and len(sleeps) == 2


def test_non_idempotent_not_retried_on_5xx_or_read_timeout() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)

    http, _ = make(handler)
    with pytest.raises(FiwareServerError):
        http.request("POST", "/x", operation="op", idempotent=False, ok=(201,))
    assert len(calls) == 1

    def timeout(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    http2, _ = make(timeout)
    calls.clear()
    with pytest.raises(FiwareUnavailableError):
        http2.request("POST", "/x", operation="op", idempotent=False, ok=(201,))
    assert len(calls) == 1


def test_unexpected_success_status_is_protocol_error() -> None:
    from chronos_core.adapters.fiware import FiwareProtocolError

    http, _ = make(lambda request: httpx.Response(201))
    with pytest.raises(FiwareProtocolError):
        http.request("POST", "/x", operation="op", ok=(204,))
