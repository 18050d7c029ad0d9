"""FlowControl: the limit of requests in flight (AIMD on latency and errors), adaptive timeouts,
the circuit breaker, and how FiwareHttp uses them."""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest

from chronos_core.adapters.fiware import FiwareServerError, FiwareUnavailableError, RetryPolicy
from chronos_core.adapters.fiware.flow import CircuitOpenError, FlowControl, FlowSettings
from chronos_core.adapters.fiware.http import TIMEOUT_BACKOFF, FiwareHttp
from chronos_core.deadlines import deadline_in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settle(flow: FlowControl, latency: float, times: int) -> None:
    for _ in range(times):
        flow.acquire()
        flow.succeeded(latency)


def test_fast_successes_raise_the_limit_by_about_one_per_round_up_to_the_ceiling() -> None:
    flow = FlowControl(FlowSettings(ceiling=6, start=2))
    assert flow.limit == 2
    settle(flow, 1.0, 3)  # 2 + 1/2 + 1/2.5 + 1/2.9 = 3.24
    assert flow.limit == 3
    settle(flow, 1.0, 100)
    assert flow.limit == 6  # never above the ceiling


def test_a_timeout_or_a_server_error_halves_the_limit_but_never_below_one() -> None:
    flow = FlowControl(FlowSettings(ceiling=8, start=8))
    flow.acquire()
    flow.failed("timeout")
    assert flow.limit == 4
    flow.acquire()
    flow.failed("server")
    assert flow.limit == 2
    for _ in range(3):
        flow.acquire()
        flow.failed("transport")
    assert flow.limit == 1


def test_successes_slower_than_the_best_recent_ones_lower_the_limit() -> None:
    """A server whose pages get slower as more are in flight is queueing them: send fewer."""
    flow = FlowControl(FlowSettings(ceiling=8, start=6, queueing_factor=1.5))
    settle(flow, 1.0, 1)
    before = flow.limit
    settle(flow, 3.0, 10)  # three times the best latency: queued inside the server
    assert flow.limit < before
    assert flow.limit >= 1


def test_the_timeout_follows_the_observed_latency_between_the_base_and_the_cap() -> None:
    flow = FlowControl(FlowSettings(base_timeout=10, timeout_cap=60, timeout_factor=3))
    assert flow.timeout() == 10  # nothing observed yet
    settle(flow, 1.0, 20)
    assert flow.timeout() == 10  # 3 x 1 s is below the base
    settle(flow, 8.0, 20)
    assert flow.timeout() == 24  # 3 x the 90th percentile (8 s)
    settle(flow, 40.0, 40)
    assert flow.timeout() == 60  # capped


def test_callers_wait_for_a_free_slot_and_never_exceed_the_limit() -> None:
    flow = FlowControl(FlowSettings(ceiling=3, start=3))
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal in_flight, peak
        flow.acquire()
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.02)
        with lock:
            in_flight -= 1
        flow.succeeded(0.02)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak <= 3 and flow.peak_in_flight <= 3
    assert flow.attempts == 12


def test_acquire_gives_up_after_its_wait_when_no_slot_frees() -> None:
    flow = FlowControl(FlowSettings(ceiling=1, start=1))
    flow.acquire()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        flow.acquire(wait=0.05)
    assert time.monotonic() - started < 1


def test_the_circuit_opens_after_consecutive_failures_and_a_probe_closes_it() -> None:
    clock = Clock()
    flow = FlowControl(FlowSettings(breaker_threshold=3, breaker_cooldown=30), clock=clock)
    for _ in range(3):
        flow.acquire()
        flow.failed("timeout")
    with pytest.raises(CircuitOpenError) as raised:
        flow.acquire(wait=0)
    assert raised.value.retry_in == pytest.approx(30)
    clock.now += 31
    flow.acquire()  # half-open: one probe goes through...
    with pytest.raises(CircuitOpenError):
        flow.acquire(wait=0)  # ...and only one
    flow.succeeded(0.5)
    flow.acquire()  # closed again
    flow.succeeded(0.5)


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = Clock()
    flow = FlowControl(FlowSettings(breaker_threshold=2, breaker_cooldown=10), clock=clock)
    for _ in range(2):
        flow.acquire()
        flow.failed("server")
    clock.now += 11
    flow.acquire()
    flow.failed("timeout")
    with pytest.raises(CircuitOpenError):
        flow.acquire(wait=0)
    clock.now += 11
    flow.acquire()


def test_a_success_resets_the_consecutive_failures() -> None:
    flow = FlowControl(FlowSettings(breaker_threshold=3))
    for _ in range(2):
        flow.acquire()
        flow.failed("server")
    flow.acquire()
    flow.succeeded(0.1)
    for _ in range(2):
        flow.acquire()
        flow.failed("server")
    flow.acquire()  # two failures since the success: still closed
    flow.failed("server")
    with pytest.raises(CircuitOpenError):  # the third in a row opens it
        flow.acquire(wait=0)


# ----------------------------------------------------------------------------- through FiwareHttp


def flowing(handler, flow: FlowControl, attempts: int = 4) -> tuple[FiwareHttp, list[float]]:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    http = FiwareHttp(
        "STH-Comet",
        "http://sth:1",
        retry=RetryPolicy(max_attempts=attempts, initial_delay=1.0, max_delay=8.0, jitter=False),
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rng=random.Random(1),
        flow=flow,
    )
    return http, sleeps


def test_retries_back_off_harder_after_a_timeout_than_after_an_error_answer() -> None:
    calls = {"n": 0}

    def times_out_then_answers(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("slow", request=request)
        if calls["n"] == 2:
            return httpx.Response(503)
        return httpx.Response(200, json={})

    flow = FlowControl(FlowSettings(ceiling=4, start=4, breaker_threshold=10))
    http, sleeps = flowing(times_out_then_answers, flow)
    assert http.request("GET", "/x", operation="page").status_code == 200
    assert sleeps == [1.0 * TIMEOUT_BACKOFF, 2.0]
    assert flow.limit == 2  # halved twice (4 -> 2 -> 1), then a fast success adds 1/1
    assert flow.attempts == 3


def test_an_open_circuit_holds_requests_back_until_its_cooldown_then_lets_one_probe_through() -> None:
    sent: list[float] = []
    state = {"up": False}

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return httpx.Response(200, json={}) if state["up"] else httpx.Response(502)

    flow = FlowControl(FlowSettings(breaker_threshold=2, breaker_cooldown=0.4))
    http, _ = flowing(server, flow, attempts=2)
    with pytest.raises(FiwareServerError):
        http.request("GET", "/x", operation="page")  # two 502s open the circuit
    opened = time.monotonic()
    assert len(sent) == 2
    state["up"] = True
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(http.request("GET", "/x", operation="page").status_code)
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 4
    assert len(sent) == 6
    assert min(sent[2:]) - opened >= 0.35  # nothing was sent during the cooldown


def test_an_open_circuit_fails_at_once_when_the_budget_cannot_wait_for_its_cooldown() -> None:
    sent: list[httpx.Request] = []

    def down(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(502)

    flow = FlowControl(FlowSettings(breaker_threshold=2, breaker_cooldown=60))
    http, _ = flowing(down, flow, attempts=2)
    with pytest.raises(FiwareServerError):
        http.request("GET", "/x", operation="page")
    started = time.monotonic()
    with deadline_in(0.6), pytest.raises(FiwareUnavailableError) as raised:
        http.request("GET", "/x", operation="page")
    assert "circuit open" in raised.value.reason
    assert time.monotonic() - started < 2
    assert len(sent) == 2  # nothing more reached the server


def test_the_attempt_uses_the_adaptive_timeout() -> None:
    seen: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"]["read"])
        return httpx.Response(200, json={})

    flow = FlowControl(FlowSettings(base_timeout=5, timeout_cap=50, timeout_factor=3))
    settle(flow, 7.0, 10)
    http, _ = flowing(record, flow)
    http.request("GET", "/x", operation="page")
    assert seen == [21.0]
