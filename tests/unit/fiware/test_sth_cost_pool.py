"""The sandbox STH's query pool (``local/fiware_sandbox/sth_cost.py``), on a bare event loop."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from local.fiware_sandbox.sth_cost import QueryPool, query_cost_seconds


def test_cost_formula_caps_the_skip_at_the_documents() -> None:
    settings = SimpleNamespace(
        sth_cost_base_ms=5.0, sth_cost_ms_per_document=0.09, sth_cost_ms_per_skipped=0.02
    )
    assert query_cost_seconds(settings, 20_000, 0) == 1.805
    assert round(query_cost_seconds(settings, 20_000, 19_900), 6) == 2.203
    assert query_cost_seconds(settings, 100, 10_000) == query_cost_seconds(settings, 100, 100)
    assert query_cost_seconds(settings, 0, 0) == 0.005


def test_fifo_slots_cancellation_and_a_larger_pool() -> None:
    capacity = {"n": 2}

    async def scenario() -> None:
        pool = QueryPool(lambda: capacity["n"])
        order: list[int] = []
        release = asyncio.Event()

        async def query(i: int) -> None:
            await pool.acquire()
            order.append(i)
            try:
                await release.wait()
            finally:
                pool.release()

        tasks = [asyncio.create_task(query(i)) for i in range(5)]
        await asyncio.sleep(0.01)
        assert (order, pool.in_flight, pool.queued) == ([0, 1], 2, 3)
        tasks[2].cancel()  # a query cancelled while queued leaves the queue
        await asyncio.sleep(0.01)
        assert pool.queued == 2
        capacity["n"] = 3
        pool.wake()  # a larger pool hands its new slot to the oldest waiter
        await asyncio.sleep(0.01)
        assert (order, pool.in_flight, pool.queued) == ([0, 1, 3], 3, 1)
        release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert order == [0, 1, 3, 4] and pool.in_flight == 0
        assert (pool.peak_in_flight, pool.peak_queued) == (3, 3)

    asyncio.run(scenario())


def test_a_detached_query_survives_its_caller() -> None:
    async def scenario() -> None:
        pool = QueryPool(lambda: 1)
        finished: list[str] = []

        async def job() -> str:
            await pool.acquire()
            try:
                await asyncio.sleep(0.05)
            finally:
                pool.release()
            finished.append("done")
            return "done"

        caller = asyncio.create_task(pool.run_detached(job))
        await asyncio.sleep(0.01)
        caller.cancel()
        await asyncio.sleep(0.01)
        assert caller.cancelled() and pool.in_flight == 1  # the caller is gone, the query is not
        await asyncio.sleep(0.06)
        assert finished == ["done"] and pool.in_flight == 0

    asyncio.run(scenario())
