"""The optional cost model of the STH double: what a raw-data query costs a real STH-Comet.

Real STH-Comet 2.11 answers every raw-data request (``lastN`` or ``hLimit``/``hOffset``, v1 or
v2, with or without ``count=true``) with a ``count`` of the attribute's documents matching the date
filter plus a sorted ``find … skip/limit`` over them, through a pool of 5 MongoDB connections;
queries beyond the pool wait for a connection, and a query whose client has given up still runs to
its end and keeps its connection. Measured on a real STH holding 20,000 points, one page took
1.5-2.7 s.

The model (off by default, switched through ``POST /_sandbox/faults``):

* cost (s) = ``sth_cost_base_ms`` + ``sth_cost_ms_per_document`` × documents matching the date
  filter (the count and the sort) + ``sth_cost_ms_per_skipped`` × ``min(hOffset, documents)`` (the
  skip; ``lastN`` ignores ``hOffset``, as STH does), all divided by 1000;
* at most ``sth_query_pool_size`` queries hold a slot at once; the others wait in FIFO order;
* the queries holding a slot share the database's CPU (processor sharing): with ``n`` of them
  running, each progresses at ``min(1, sth_db_parallelism / n)`` of its own speed, so a query
  costs its full cost alone and more when others run beside it;
* each query runs in a task of its own, detached from the request: a client that disconnects
  (times out) does not stop it, its slot stays busy until its work is done.

The database's parallelism is calibrated on the same measurement: with Chronos's client, 1, 2 and
4 pages in flight gave 47, 69 and 82 points/s (pages of 100 at ~2.1 s alone), so the server's
throughput levels off at about 1.5-1.7 pages alone-cost at once; 1.6 by default. Eight pages in
flight then make each one take about 6.5 s and the three that queue about 13 s: past a 10 s
timeout, as measured.

Calibration of the defaults (0.09 ms per document, 0.02 ms per skipped document, no base): a page
of a 20,000-point attribute costs 0.09 × 20,000 = 1.8 s at offset 0 and 1.8 + 0.02 × 19,900 =
2.2 s at offset 19,900 (2.0 s on average over a full read), inside the 1.5-2.7 s measured.

:class:`QueryPool` keeps the counters the control API reports (``GET /_sandbox/sth/stats``).
Everything here runs on the event loop; nothing blocks it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol


class CostSettings(Protocol):
    sth_cost_base_ms: float
    sth_cost_ms_per_document: float
    sth_cost_ms_per_skipped: float


def query_cost_seconds(settings: CostSettings, documents: int, skip: int) -> float:
    """Seconds a raw-data query over ``documents`` matching documents, skipping ``skip``, costs."""
    skipped = max(0, min(skip, documents))
    total_ms = (
        settings.sth_cost_base_ms
        + settings.sth_cost_ms_per_document * documents
        + settings.sth_cost_ms_per_skipped * skipped
    )
    return max(0.0, total_ms) / 1000.0


class SharedCpu:
    """Processor sharing among the running queries: each of ``n`` progresses at
    ``min(1, parallelism / n)``. Event driven (one timer for the next completion); exact."""

    def __init__(self, parallelism: Callable[[], float]) -> None:
        self._parallelism = parallelism
        self._jobs: dict[int, list[Any]] = {}  # id -> [work left in seconds, future]
        self._ids = 0
        self._last = time.perf_counter()
        self._timer: asyncio.TimerHandle | None = None

    def _rate(self) -> float:
        running = len(self._jobs)
        return 1.0 if running == 0 else min(1.0, max(self._parallelism(), 1e-6) / running)

    def _advance(self) -> None:
        now = time.perf_counter()
        spent = (now - self._last) * self._rate()
        self._last = now
        for job in self._jobs.values():
            job[0] -= spent

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for key in [k for k, job in self._jobs.items() if job[0] <= 1e-9]:
            future = self._jobs.pop(key)[1]
            if not future.done():
                future.set_result(None)
        if self._jobs:
            soonest = min(job[0] for job in self._jobs.values())
            self._timer = asyncio.get_running_loop().call_later(soonest / self._rate(), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._advance()
        self._schedule()

    async def run(self, seconds: float) -> None:
        """Do ``seconds`` of work (its cost alone), sharing the CPU with the other queries."""
        if seconds <= 0:
            return
        self._advance()
        self._ids += 1
        key = self._ids
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._jobs[key] = [seconds, future]
        self._schedule()
        try:
            await future
        finally:
            if key in self._jobs:  # cancelled before its end
                self._advance()
                self._jobs.pop(key, None)
                self._schedule()


class QueryPool:
    """A FIFO pool of query slots plus the counters of the raw-data queries.

    ``capacity`` is read on every acquire and release, so a pool size changed at run time applies
    to the queue at once (call :meth:`wake` after raising it). Queries run without a slot
    (cost model off) are counted in ``in_flight`` too but never wait.
    """

    def __init__(self, capacity: Callable[[], int], parallelism: Callable[[], float] = lambda: 1e9) -> None:
        self._capacity = capacity
        #: The database CPU the queries holding a slot share.
        self.cpu = SharedCpu(parallelism)
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.in_flight = 0
        self.raw_requests = 0
        self.served = 0
        self.abandoned = 0
        self.peak_in_flight = 0
        self.peak_queued = 0

    # -------------------------------------------------------------------------------- counters
    @property
    def queued(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    def stats(self) -> dict[str, int]:
        return {
            "raw_requests": self.raw_requests,
            "served": self.served,
            "abandoned": self.abandoned,
            "in_flight": self.in_flight,
            "queued": self.queued,
            "peak_in_flight": self.peak_in_flight,
            "peak_queued": self.peak_queued,
        }

    def reset(self) -> None:
        """Zero the totals; the peaks restart from what is in flight and queued now."""
        self.raw_requests = self.served = self.abandoned = 0
        self.peak_in_flight = self.in_flight
        self.peak_queued = self.queued

    # ----------------------------------------------------------------------------------- slots
    def _take(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    async def acquire(self) -> None:
        """Take a slot, waiting in FIFO order behind the queries already queued."""
        if not self._waiters and self.in_flight < self._capacity():
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.peak_queued = max(self.peak_queued, self.queued)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # the slot was handed over: give it back
                self.release()
            else:
                self._waiters.remove(waiter)
            raise

    def enter(self) -> None:
        """Count a query that runs without a slot (cost model off)."""
        self._take()

    def release(self) -> None:
        self.in_flight -= 1
        self.wake()

    def wake(self) -> None:
        """Hand free slots to the queue, oldest first."""
        while self._waiters and self.in_flight < self._capacity():
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._take()
            waiter.set_result(None)

    # ------------------------------------------------------------------------------------- run
    async def run_detached[T](self, job: Callable[[], Awaitable[T]]) -> T:
        """Run ``job`` in a task of its own and wait for it; cancelling the caller leaves it running."""
        task = asyncio.ensure_future(job())
        self._tasks.add(task)  # a strong reference until it ends
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)


async def run_query[T](
    pool: QueryPool,
    compute: Callable[[], Awaitable[T]],
    *,
    pooled: bool,
    cost: Callable[[T], float],
    client_gone: Callable[[], Awaitable[bool]],
    report: Callable[[float, float, bool], None],
) -> T:
    """One raw-data query: queue for a slot (``pooled``), ``compute`` the answer, hold the slot
    until ``cost(answer)`` seconds have passed since the slot was taken, release it, then
    ``report(queue_ms, cost_ms, client_gone)``. Runs detached from the caller (see module doc)."""

    async def job() -> T:
        pool.raw_requests += 1
        queued_at = time.perf_counter()
        if pooled:
            await pool.acquire()
        else:
            pool.enter()
        started = time.perf_counter()
        cost_s = 0.0
        try:
            answer = await compute()
            if pooled:
                cost_s = cost(answer)
                remaining = cost_s - (time.perf_counter() - started)
                if remaining > 0:
                    await pool.cpu.run(remaining)
        finally:
            pool.release()
        pool.served += 1
        gone = await client_gone()
        if gone:
            pool.abandoned += 1
        report((started - queued_at) * 1000, cost_s * 1000, gone)
        return answer

    return await pool.run_detached(job)
