"""Flow control for requests to one FIWARE endpoint: how many may be in flight, how long each may
take, and when to stop sending for a while.

A server such as STH-Comet does not get faster with more concurrent requests once its database
pool is busy: extra requests queue inside it, every one of them gets slower, clients time out and
retry, and the server keeps working on the requests its clients gave up (each retry *adds* load).
:class:`FlowControl` keeps the load where the server still answers well:

* **Pages in flight (AIMD with a latency signal).** The limit starts at ``start`` and may grow to
  ``ceiling``. A success that was about as fast as the best recent one (not queued: latency under
  ``queueing_factor`` × the best of the window) adds ``1 / limit``, so the limit grows by about one
  per round of successes; a slower success (the server queues) removes ``1 / limit``; a timeout,
  a 5xx or 429 or a transport error halves it. Callers wait for a free slot.
* **Timeouts that follow the server.** Each attempt may take ``max(base, factor × p90 of the
  recent latencies)`` seconds, never more than ``cap``: a server that is slow but working is not
  timed out (and retried) into overload.
* **Circuit breaker.** After ``breaker_threshold`` consecutive failures the circuit opens for
  ``breaker_cooldown`` seconds: nothing is sent, callers wait (within their own wait; past it
  they get :class:`CircuitOpenError`). Then one probe is let through (half-open) while the others
  keep waiting; its success closes the circuit and lets them go, its failure opens it again.

The client of an endpoint owns one instance, shared by all its threads (one client per warm
container: the bootstrap builds it once).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

Failure = Literal["timeout", "server", "transport"]
WINDOW: Final = 50


class CircuitOpenError(Exception):
    """The endpoint failed too often lately; nothing is sent until the cooldown ends."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"circuit open after repeated failures; retry in {retry_in:.0f} s")
        self.retry_in = retry_in


@dataclass(frozen=True)
class FlowSettings:
    ceiling: int = 5
    start: int = 2
    base_timeout: float = 10.0
    timeout_cap: float = 60.0
    timeout_factor: float = 3.0
    queueing_factor: float = 1.5
    breaker_threshold: int = 5
    breaker_cooldown: float = 10.0


class FlowControl:
    """See the module docstring. Thread-safe."""

    def __init__(self, settings: FlowSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._limit = float(max(1, min(settings.start, settings.ceiling)))
        self._in_flight = 0
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False
        self._cond = threading.Condition()
        #: Most attempts in flight at once since creation (for benchmarks).
        self.peak_in_flight = 0
        self.attempts = 0

    @property
    def limit(self) -> int:
        with self._cond:
            return int(self._limit)

    def timeout(self) -> float:
        """The time the next attempt may take."""
        s = self.settings
        with self._cond:
            if not self._latencies:
                return min(s.base_timeout, s.timeout_cap)
            ordered = sorted(self._latencies)
            p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return min(s.timeout_cap, max(s.base_timeout, s.timeout_factor * p90))

    def acquire(self, wait: float | None = None) -> None:
        """Wait (at most ``wait`` seconds, forever when None) for a free slot, and while the
        circuit is open for its cooldown to end and for the probe's outcome. Raises
        CircuitOpenError when the circuit is still open at the end of the wait, TimeoutError
        when no slot freed in time."""
        deadline = None if wait is None else self._clock() + wait
        with self._cond:
            while True:
                now = self._clock()
                left = None if deadline is None else deadline - now
                blocked_for = self._circuit_wait(now)
                if blocked_for is not None:
                    if left is not None and left <= 0:
                        raise CircuitOpenError(blocked_for)
                    self._cond.wait(timeout=min(x for x in (blocked_for or 1.0, left) if x is not None))
                    continue
                if self._in_flight < int(self._limit):
                    if self._open_until is not None:
                        self._probing = True  # half-open: this caller is the probe
                    self._in_flight += 1
                    self.attempts += 1
                    self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
                    return
                if left is not None and left <= 0:
                    raise TimeoutError("no free slot in time")
                self._cond.wait(timeout=left if left is not None else 1.0)

    def _circuit_wait(self, now: float) -> float | None:
        """None when a request may go (closed, or half-open with no probe out); else how long
        until the circuit may let one through (0 while a probe is out: wait for its outcome)."""
        if self._open_until is None:
            return None
        if now < self._open_until:
            return self._open_until - now
        return 0.0 if self._probing else None

    def succeeded(self, latency: float) -> None:
        with self._cond:
            self._release()
            best = min(self._latencies) if self._latencies else latency
            self._latencies.append(latency)
            if latency <= self.settings.queueing_factor * best:
                self._limit = min(float(self.settings.ceiling), self._limit + 1.0 / self._limit)
            else:
                self._limit = max(1.0, self._limit - 1.0 / self._limit)
            self._failures = 0
            self._open_until = None
            self._probing = False

    def failed(self, kind: Failure) -> None:
        with self._cond:
            self._release()
            self._limit = max(1.0, self._limit / 2.0)
            self._failures += 1
            if self._probing or self._failures >= self.settings.breaker_threshold:
                self._open_until = self._clock() + self.settings.breaker_cooldown
            self._probing = False

    def _release(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._cond.notify_all()
