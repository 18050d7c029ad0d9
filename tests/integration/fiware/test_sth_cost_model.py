"""The sandbox STH's cost model (a bounded query pool, a cost per matching and per skipped
document, queries that outlive their client), its page-size limit and the shape of its raw points.

Costs are configured small (ms per document) so that each test takes a second or two.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronos_core.adapters.fiware import SthCometClient
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from local.fiware_sandbox.testing import Sandbox

pytestmark = pytest.mark.integration

BASE = datetime(2024, 1, 1, tzinfo=UTC)
GUARD = "hLimit <= lastN <= config.maxPageSize"


def stamp(i: int) -> str:
    return (BASE + timedelta(minutes=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed(sandbox: Sandbox, service: str, n: int, entity_id: str = "Meter1", values: Any = None) -> None:
    points = [{"recvTime": stamp(i), "attrValue": values[i] if values else str(i)} for i in range(n)]
    sandbox.seed_sth(
        service=service,
        servicepath="/",
        entity_id=entity_id,
        entity_type="Meter",
        attr_name="power",
        points=points,
    )


def v2(
    sandbox: Sandbox,
    service: str,
    entity_id: str = "Meter1",
    *,
    timeout: float = 10.0,
    **params: Any,
) -> httpx.Response:
    with httpx.Client(timeout=timeout) as client:
        return client.get(
            f"{sandbox.sth_url}/STH/v2/entities/{entity_id}/attrs/power",
            params={"type": "Meter", **params},
            headers={"Fiware-Service": service, "Fiware-ServicePath": "/"},
        )


def v1(sandbox: Sandbox, service: str, entity_id: str = "Meter1", **params: Any) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.get(
            f"{sandbox.sth_url}/STH/v1/contextEntities/type/Meter/id/{entity_id}/attributes/power",
            params=params,
            headers={"Fiware-Service": service, "Fiware-ServicePath": "/"},
        )


def timed(call: Any, *args: Any, **kwargs: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call(*args, **kwargs)
    return time.perf_counter() - started, response


def last_record(sandbox: Sandbox, since: int) -> dict[str, Any]:
    records = sandbox.requests("sth", since=since, path_contains="/STH/")
    assert records, "no STH request logged"
    return records[-1]


def test_off_by_default_adds_no_latency(sandbox: Sandbox, service: str) -> None:
    faults = sandbox.faults()
    assert faults["sth_cost_model"] is False
    assert (faults["sth_cost_ms_per_document"], faults["sth_cost_ms_per_skipped"]) == (0.09, 0.02)
    assert (faults["sth_cost_base_ms"], faults["sth_query_pool_size"], faults["sth_max_page_size"]) == (
        0.0,
        5,
        None,
    )
    seed(sandbox, service, 5000)
    assert v2(sandbox, service, hLimit=100, hOffset=0).status_code == 200  # warms the series cache
    sandbox.reset_sth_stats()
    since = sandbox.last_seq()
    elapsed, response = timed(v2, sandbox, service, hLimit=100, hOffset=4900, count="true")
    assert response.status_code == 200 and response.headers["fiware-total-count"] == "5000"
    # With the defaults switched on this page would cost 0.09 x 5000 + 0.02 x 4900 = 548 ms.
    assert elapsed < 0.3
    record = last_record(sandbox, since)
    assert record["cost_ms"] == 0 and record["queue_ms"] < 5 and record["client_gone"] is False
    stats = sandbox.sth_stats()
    assert stats["cost_model"] is False and stats["pool_size"] == 5
    assert (stats["raw_requests"], stats["served"], stats["in_flight"], stats["queued"]) == (1, 1, 0, 0)


def test_cost_grows_with_collection_size_offset_and_date_filter(sandbox: Sandbox, service: str) -> None:
    seed(sandbox, service, 300, entity_id="Small")
    seed(sandbox, service, 1500, entity_id="Large")
    sandbox.set_faults(
        sth_cost_model=True, sth_cost_ms_per_document=0.2, sth_cost_ms_per_skipped=0.3, sth_cost_base_ms=10
    )
    cases: list[tuple[str, dict[str, Any], float]] = [
        ("Small", {"hLimit": 100, "hOffset": 0}, 10 + 0.2 * 300),  # 70 ms
        ("Large", {"hLimit": 100, "hOffset": 0}, 10 + 0.2 * 1500),  # 310 ms
        ("Large", {"hLimit": 100, "hOffset": 1400, "count": "true"}, 10 + 0.2 * 1500 + 0.3 * 1400),  # 730
        ("Large", {"hLimit": 1, "hOffset": 5000}, 10 + 0.2 * 1500 + 0.3 * 1500),  # skips what exists
        ("Large", {"lastN": 100, "hOffset": 1400}, 10 + 0.2 * 1500),  # lastN ignores hOffset
        ("Large", {"lastN": 100, "dateFrom": stamp(1200)}, 10 + 0.2 * 300),  # 300 match the filter
        ("Nope", {"hLimit": 100, "hOffset": 0, "count": "true"}, 10),  # no collection: the base
    ]
    for entity_id, params, expected_ms in cases:
        since = sandbox.last_seq()
        elapsed, response = timed(v2, sandbox, service, entity_id, **params)
        assert response.status_code == 200, response.text
        record = last_record(sandbox, since)
        assert record["cost_ms"] == pytest.approx(expected_ms), (entity_id, params)
        assert record["queue_ms"] < 20 and record["client_gone"] is False
        assert expected_ms / 1000 <= elapsed < expected_ms / 1000 + 0.25, (entity_id, params, elapsed)
    since = sandbox.last_seq()
    elapsed, response = timed(v1, sandbox, service, "Large", hLimit=100, hOffset=100, count="true")
    assert response.status_code == 200
    assert last_record(sandbox, since)["cost_ms"] == pytest.approx(10 + 0.2 * 1500 + 0.3 * 100)
    assert elapsed >= 0.34


def test_pool_bounds_concurrency_and_queues_the_rest(sandbox: Sandbox, service: str) -> None:
    seed(sandbox, service, 400)
    sandbox.set_faults(
        sth_cost_model=True,
        sth_query_pool_size=2,
        sth_cost_ms_per_document=1.0,
        sth_cost_ms_per_skipped=0,
        sth_db_parallelism=2,  # the two running queries do not slow each other down
    )
    one = 0.4  # 1 ms x 400 documents
    sandbox.reset_sth_stats()
    since = sandbox.last_seq()
    clients = [httpx.Client(timeout=10) for _ in range(6)]
    barrier = threading.Barrier(6)

    def page(i: int) -> tuple[float, httpx.Response]:
        barrier.wait()
        started = time.perf_counter()
        response = clients[i].get(
            f"{sandbox.sth_url}/STH/v2/entities/Meter1/attrs/power",
            params={"type": "Meter", "hLimit": 10, "hOffset": 10 * i},
            headers={"Fiware-Service": service, "Fiware-ServicePath": "/"},
        )
        return time.perf_counter() - started, response

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=6) as executor:
            results = list(executor.map(page, range(6)))
        total = time.perf_counter() - started
    finally:
        for client in clients:
            client.close()
    assert all(response.status_code == 200 for _, response in results)
    assert 3 * one <= total < 3 * one + 0.4
    latencies = sorted(elapsed for elapsed, _ in results)
    for rank, latency in enumerate(latencies):  # two at a time: 0.4, 0.4, 0.8, 0.8, 1.2, 1.2 s
        assert (rank // 2 + 1) * one - 0.1 <= latency < (rank // 2 + 1) * one + 0.3
    stats = sandbox.sth_stats()
    assert stats["peak_in_flight"] == 2 and stats["peak_queued"] == 4
    assert (stats["raw_requests"], stats["served"], stats["in_flight"], stats["queued"]) == (6, 6, 0, 0)
    records = sorted(sandbox.requests("sth", since=since, path_contains="/STH/"), key=lambda r: r["seq"])
    slot_taken = [record["time"] + record["queue_ms"] / 1000 for record in records]
    first = min(slot_taken)
    for rank, taken in enumerate(sorted(slot_taken)):  # slots taken at 0, 0, 0.4, 0.4, 0.8, 0.8 s
        assert (rank // 2) * one - 0.05 <= taken - first < (rank // 2) * one + 0.1
    assert all(b >= a - 0.03 for a, b in zip(slot_taken, slot_taken[1:], strict=False))  # FIFO


def test_a_query_outlives_its_client_and_keeps_its_slot(sandbox: Sandbox, service: str) -> None:
    seed(sandbox, service, 10)
    sandbox.set_faults(
        sth_cost_model=True,
        sth_query_pool_size=1,
        sth_cost_base_ms=800,
        sth_cost_ms_per_document=0,
        sth_cost_ms_per_skipped=0,
    )
    sandbox.reset_sth_stats()
    since = sandbox.last_seq()
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        v2(sandbox, service, timeout=0.2, hLimit=10, hOffset=0)
    stats = sandbox.sth_stats()
    assert stats["in_flight"] == 1 and stats["served"] == 0  # still running, client gone
    (abandoned,) = sandbox.requests("sth", since=since, path_contains="/STH/")
    assert abandoned["status"] == 0  # not answered yet
    elapsed, response = timed(v2, sandbox, service, hLimit=10, hOffset=0)
    assert response.status_code == 200 and len(response.json()["value"]) == 10
    # The second query waited for the abandoned one's slot (~0.6 s left of it), then cost 0.8 s.
    assert time.perf_counter() - started >= 1.6
    assert elapsed >= 1.6 - 0.2 - 0.05
    first, second = sandbox.requests("sth", since=since, path_contains="/STH/")
    assert first["seq"] == abandoned["seq"] and first["status"] == 200 and first["client_gone"] is True
    assert first["duration_ms"] >= 800 and first["cost_ms"] == 800
    assert second["client_gone"] is False and second["queue_ms"] >= 500
    stats = sandbox.sth_stats()
    assert (stats["raw_requests"], stats["served"], stats["abandoned"]) == (2, 2, 1)
    assert (stats["in_flight"], stats["peak_in_flight"], stats["peak_queued"]) == (0, 1, 1)
    assert sandbox.reset_sth_stats() == {
        **stats,
        "raw_requests": 0,
        "served": 0,
        "abandoned": 0,
        "peak_in_flight": 0,
        "peak_queued": 0,
    }


def test_page_size_limit_is_settable(sandbox: Sandbox, service: str) -> None:
    seed(sandbox, service, 600)
    assert sandbox.info()["max_page_size"] == 100
    response = v2(sandbox, service, hLimit=101, hOffset=0)
    assert response.status_code == 400
    assert response.json() == {"error": "BadRequest", "description": GUARD}
    assert sandbox.set_faults(sth_max_page_size=500)["sth_max_page_size"] == 500
    assert sandbox.info()["max_page_size"] == 500
    page = v2(sandbox, service, hLimit=500, hOffset=0)
    assert page.status_code == 200 and len(page.json()["value"]) == 500
    assert len(v2(sandbox, service, lastN=500).json()["value"]) == 500
    for params in ({"hLimit": 501, "hOffset": 0}, {"lastN": 501}, {"lastN": 300, "hLimit": 400}):
        response = v2(sandbox, service, **params)
        assert response.status_code == 400 and response.json() == {
            "error": "BadRequest",
            "description": GUARD,
        }
        response = v1(sandbox, service, **params)
        assert response.status_code == 400
        assert response.json()["message"] == GUARD and response.json()["statusCode"] == 400
    with SthCometClient(sandbox.sth_url) as sth:  # the client's own pages stay within 100
        tenant = FiwareTenant(service, "/")
        assert (
            len(sth.fetch_all(tenant, SeriesRef(entity_type="Meter", entity_id="Meter1", attribute="power")))
            == 600
        )
    sandbox.clear_faults()
    assert sandbox.info()["max_page_size"] == 100
    assert v2(sandbox, service, hLimit=500, hOffset=0).status_code == 400


def test_points_carry_id_and_attr_name_and_integral_numbers_as_integers(
    sandbox: Sandbox, service: str
) -> None:
    values = [11.0, 11.5, "11.0", {"a": 2.0, "b": [3.0, 0.5]}, True, None, -0.0, 7]
    seed(sandbox, service, len(values), values=values)
    response = v2(sandbox, service, hLimit=100, hOffset=0)
    assert response.status_code == 200
    points = response.json()["value"]
    assert [list(p) for p in points] == [["_id", "recvTime", "attrName", "attrType", "attrValue"]] * 8
    assert all(re.fullmatch(r"[0-9a-f]{24}", p["_id"]) for p in points)
    assert len({p["_id"] for p in points}) == 8
    assert all(p["attrName"] == "power" and p["attrType"] == "Number" for p in points)
    rendered = [p["attrValue"] for p in points]
    assert rendered == [11, 11.5, "11.0", {"a": 2, "b": [3, 0.5]}, True, None, 0, 7]
    assert [type(v) for v in rendered] == [int, float, str, dict, bool, type(None), int, int]
    assert '"attrValue":11}' in response.text and '"attrValue":{"a":2,"b":[3,0.5]}' in response.text
    # v1 answers the same points; lastN too; the ids are stable across requests
    v1_points = v1(sandbox, service, hLimit=100, hOffset=0).json()["contextResponses"][0]["contextElement"][
        "attributes"
    ][0]["values"]
    assert v1_points == points
    assert v2(sandbox, service, lastN=3).json()["value"] == points[-3:]
    # an overwrite (same recvTime, new value) keeps the stored point, and so its _id
    sandbox.seed_sth(
        service=service,
        servicepath="/",
        entity_id="Meter1",
        entity_type="Meter",
        attr_name="power",
        points=[{"recvTime": stamp(0), "attrValue": 12.0}],
        replace=False,
    )
    again = v2(sandbox, service, hLimit=100, hOffset=0).json()["value"]
    assert again[0] == {**points[0], "attrValue": 12} and again[1:] == points[1:]
    # the Chronos client reads them
    with SthCometClient(sandbox.sth_url) as sth:
        read = sth.fetch_all(
            FiwareTenant(service, "/"), SeriesRef(entity_type="Meter", entity_id="Meter1", attribute="power")
        )
    assert [p.as_float() for p in read] == [12.0, 11.5, 11.0, None, None, None, 0.0, 7.0]
    csv = v2(sandbox, service, filetype="csv").text.splitlines()
    assert csv[0] == "attrName,attrType,attrValue,recvTime" and csv[1].startswith("power,Number,12,")
    assert json.loads(json.dumps(points)) == points


def test_queries_running_at_once_share_the_databases_parallelism(sandbox: Sandbox, service: str) -> None:
    """Four queries of 0.4 s each in a pool of 4 on a database that runs one at full speed: each
    progresses at a quarter of its speed, so all four end together after about 1.6 s."""
    seed(sandbox, service, 400)
    sandbox.set_faults(
        sth_cost_model=True,
        sth_query_pool_size=4,
        sth_cost_ms_per_document=1.0,
        sth_cost_ms_per_skipped=0,
        sth_db_parallelism=1,
    )
    alone_started = time.perf_counter()
    assert v2(sandbox, service, lastN=1).status_code == 200
    alone = time.perf_counter() - alone_started
    assert 0.35 <= alone < 0.8

    def timed() -> float:
        started = time.perf_counter()
        assert v2(sandbox, service, lastN=1).status_code == 200
        return time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        durations = list(pool.map(lambda _: timed(), range(4)))
    assert all(1.3 <= d < 2.4 for d in durations), durations  # not 0.4 s each: they share one CPU
