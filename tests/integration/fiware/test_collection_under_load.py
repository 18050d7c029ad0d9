"""Collection from an STH that costs what a real one costs (the sandbox's cost model): the
settings Chronos shipped before flow control fail the way they failed against a real STH-Comet
2.11, and the shipped defaults collect every point once without flooding it.

The measured failure (20,000 points, ~2 s a page, a pool of 5 database connections, 4 chunks x 8
pages in flight, a fixed 10 s timeout, 4 attempts) is reproduced at a tenth of its time scale with
the same queue: 4,000 points in pages of 20 (a server with ``MAX_PAGE_SIZE=20``) make the same 200
pages, each costing ~0.2 s, and the timeouts are a tenth (1 s fixed; 1.5 s base growing to 6 s).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chronos_core.adapters.fiware import FiwareUnavailableError, SthCometClient
from chronos_core.adapters.fiware.series_source import SthSeriesSource
from chronos_core.application.ports.pipeline import CollectedPart
from chronos_core.config import Settings
from chronos_core.domain.model import FiwareSource
from chronos_core.domain.training_job import ChunkSpec, pages_in_flight_per_chunk, plan_chunks, slice_by_time
from local.fiware_sandbox.testing import Sandbox

pytestmark = pytest.mark.integration

POINTS = 4000
PAGE = 20
CHUNKS = plan_chunks(0, POINTS, 1000)
MAP_CONCURRENCY = 4
COST = {  # ~0.2 s a page at 4,000 documents, a little more at the end of the series
    "sth_cost_model": True,
    "sth_cost_ms_per_document": 0.05,
    "sth_cost_ms_per_skipped": 0.01,
    "sth_query_pool_size": 5,
    "sth_max_page_size": PAGE,
}


def seed(sandbox: Sandbox, service: str) -> FiwareSource:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    points = [
        {
            "recvTime": (base + timedelta(minutes=i))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "attrValue": str(i),
        }
        for i in range(POINTS)
    ]
    sandbox.seed_sth(
        service=service,
        servicepath="/",
        entity_id="Meter1",
        entity_type="Meter",
        attr_name="power",
        points=points,
    )
    return FiwareSource(
        entity_type="Meter",
        entity_id="Meter1",
        feature="power",
        fiware_service=service,
        fiware_servicepath="/",
    )


def settle(sandbox: Sandbox, timeout: float = 60) -> None:
    """Wait until the server has finished every query, abandoned ones included."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = sandbox.sth_stats()
        if stats["in_flight"] == 0 and stats["queued"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"STH still busy: {sandbox.sth_stats()}")


def collect_all(
    sources: list[SthSeriesSource], source: FiwareSource, chunks: list[ChunkSpec], pages: int
) -> list[float]:
    """Collect the chunks as the Map does: up to MAP_CONCURRENCY at once, each with its own
    client (its own Lambda), each called again with its rest until complete."""

    def one(index: int) -> list[float]:
        values: list[float] = []
        todo: ChunkSpec | None = chunks[index]
        while todo is not None:
            part: CollectedPart = sources[index].collect(source, todo, pages_in_flight=pages)
            values.extend(v for _, v in part.points if v is not None)
            todo = part.rest
        return values

    with ThreadPoolExecutor(max_workers=MAP_CONCURRENCY) as pool:
        results = list(pool.map(one, range(len(chunks))))
    return [v for chunk in results for v in chunk]


def test_the_former_fixed_settings_time_out_and_flood_a_costly_sth(sandbox: Sandbox, service: str) -> None:
    source = seed(sandbox, service)
    settle(sandbox)
    sandbox.set_faults(**COST)
    sandbox.reset_sth_stats()
    fixed = Settings(
        sth_url=sandbox.sth_url,
        sth_adaptive=False,
        sth_paging="offset",
        sth_page_concurrency=8,
        sth_page_size=PAGE,
        fiware_timeout_seconds=1.0,
        fiware_max_attempts=4,
    )
    sources = [SthSeriesSource(SthCometClient.from_settings(fixed), paging="offset") for _ in CHUNKS]
    with pytest.raises(FiwareUnavailableError) as raised:
        collect_all(sources, source, CHUNKS, pages=8)
    assert "ReadTimeout" in raised.value.reason
    stats = sandbox.sth_stats()
    assert stats["abandoned"] > 0  # the server kept working for clients that had given up
    settle(sandbox)


def test_the_default_settings_collect_every_point_once_without_flooding_a_costly_sth(
    sandbox: Sandbox, service: str
) -> None:
    source = seed(sandbox, service)
    settle(sandbox)
    sandbox.set_faults(**COST)
    sandbox.reset_sth_stats()
    defaults = Settings(
        sth_url=sandbox.sth_url,
        fiware_timeout_seconds=Settings().fiware_timeout_seconds / 10,
        sth_timeout_cap_seconds=Settings().sth_timeout_cap_seconds / 10,
    )
    assert defaults.sth_adaptive and defaults.sth_paging == "time"
    sources = [
        SthSeriesSource(SthCometClient.from_settings(defaults), paging=defaults.sth_paging) for _ in CHUNKS
    ]
    started = time.monotonic()
    window = sources[0].time_window(source, 0, POINTS)
    assert window is not None
    chunks = slice_by_time(CHUNKS, window)
    share = pages_in_flight_per_chunk(defaults.sth_page_concurrency, len(chunks), MAP_CONCURRENCY)
    values = collect_all(sources, source, chunks, pages=share)
    elapsed = time.monotonic() - started
    assert values == [float(i) for i in range(POINTS)]  # every point, once, in order
    stats = sandbox.sth_stats()
    pages = POINTS / PAGE
    assert stats["abandoned"] == 0  # no request timed out
    assert stats["peak_in_flight"] <= COST["sth_query_pool_size"]  # never more than the pool
    # Time pages re-read their boundary point (one more page per 20 here); plus the two window
    # ends and one closing page per chunk: within 10 % of that.
    needed = POINTS / (PAGE - 1) + len(chunks) + 2
    assert stats["raw_requests"] <= 1.1 * needed, (stats, pages)
    assert elapsed < 30
