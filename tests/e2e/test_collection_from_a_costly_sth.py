"""Training through the deployed stack from a sandbox STH that costs what a real STH-Comet 2.11
costs (about 2 s a page at 20,000 documents, a pool of 5, a database that runs 1.6 queries at
full speed, queries that outlive their client). With the settings shipped before flow control
(4 chunks x 8 offset pages in flight, 10 s, 4 attempts) this job failed after 349 s with nothing
collected; with the template's defaults it completes without a single timeout."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import FINISHED, create_model, seed_series, start, wait_for

pytestmark = pytest.mark.e2e

POINTS = 20_000
COST = {
    "sth_cost_model": True,
    "sth_cost_ms_per_document": 0.09,
    "sth_cost_ms_per_skipped": 0.02,
    "sth_query_pool_size": 5,
    "sth_db_parallelism": 1.6,
}


def test_a_20000_point_job_completes_against_a_costly_sth_without_flooding_it(
    api: httpx.Client, sandbox: Any
) -> None:
    values = [20 + 5 * math.sin(2 * math.pi * i / 48) for i in range(POINTS)]
    entity_id = seed_series(sandbox, values, "costly-")
    model = create_model(api, entity_id, epochs=1, batch_size=512)
    sandbox.faults(**COST)
    try:
        sandbox.reset_sth_stats()
        job = start(api, model["id"], last_n=POINTS)
        done = wait_for(api, model["id"], job["id"], lambda j: j["status"] in FINISHED, timeout=600)
        stats = sandbox.sth_stats()
    finally:
        sandbox.clear_faults()
    assert done["status"] == "completed", done["error"]
    progress = done["progress"]
    assert progress["points_collected"] == POINTS
    assert progress["chunks_done"] == progress["chunks_total"]
    assert stats["abandoned"] == 0, stats  # no request timed out: none left STH working for nobody
    assert stats["peak_in_flight"] <= COST["sth_query_pool_size"], stats
    # Pages of 100 by time re-read their boundary point (99 new a page); plus one closing page
    # per chunk, the window's two ends and the admission's count: within 10 % of that.
    needed = math.ceil(POINTS / 99) + progress["chunks_total"] + 3
    assert stats["raw_requests"] <= 1.1 * needed, (stats, needed)
