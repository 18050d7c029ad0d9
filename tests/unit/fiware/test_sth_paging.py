"""STH range reads: paging by time with ties at the boundary, offset paging, page-size
discovery, and stopping for time with a place to continue from. Against a mock that follows
STH's raw-mode rules (fiware-contract.md §1.3-1.4), including the undefined order of ties."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from chronos_core.adapters.fiware import FiwareBadRequestError, FiwareUnavailableError, SthCometClient
from chronos_core.adapters.fiware.series_source import SthSeriesSource
from chronos_core.deadlines import deadline_in
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.model import FiwareSource, iso_z
from chronos_core.domain.training_job import ChunkSpec, TimeWindow, plan_chunks, slice_by_time

TENANT = FiwareTenant("smart", "/")
SERIES = SeriesRef(entity_type="Room", entity_id="Room1", attribute="temperature")
BASE = datetime(2024, 3, 1, tzinfo=UTC)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class RawSth:
    """Raw-mode STH over ``times`` (ms after BASE; repeats are ties). Ties come back in a new
    random order on every request unless ``stable_ties``; pages above ``max_page_size`` get
    STH's 400."""

    def __init__(
        self,
        times: list[int],
        *,
        max_page_size: int = 100,
        stable_ties: bool = False,
        seconds_per_page: float = 0.0,
    ) -> None:
        self.docs = [{"_id": f"{i:024x}", "ms": ms, "value": i} for i, ms in enumerate(sorted(times))]
        self.max_page_size = max_page_size
        self.stable_ties = stable_ties
        self.seconds_per_page = seconds_per_page
        self.rng = random.Random(7)
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        self.requests.append(q)
        if self.seconds_per_page:
            time.sleep(self.seconds_per_page)
        size = int(q.get("lastN") or q.get("hLimit") or 0)
        if size > self.max_page_size:
            return httpx.Response(
                400,
                json={
                    "statusCode": 400,
                    "error": "Bad Request",
                    "message": "hLimit <= lastN <= config.maxPageSize",
                },
            )
        low = parse(q["dateFrom"]) if "dateFrom" in q else None
        high = parse(q["dateTo"]) if "dateTo" in q else None
        matching = [
            d
            for d in self.docs
            if (low is None or self.at(d) >= low) and (high is None or self.at(d) <= high)
        ]
        ordered = self.sort(matching)
        if "lastN" in q:
            body = ordered[-size:]
        else:
            offset = int(q["hOffset"])
            body = ordered[offset : offset + size]
        headers = {"fiware-total-count": str(len(matching))} if q.get("count") == "true" else {}
        return httpx.Response(
            200, json={"type": "StructuredValue", "value": [self.render(d) for d in body]}, headers=headers
        )

    def at(self, doc: dict[str, Any]) -> datetime:
        return BASE + timedelta(milliseconds=doc["ms"])

    def sort(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.stable_ties:
            return sorted(docs, key=lambda d: d["ms"])
        keyed = [(d["ms"], self.rng.random(), d) for d in docs]
        return [d for _, _, d in sorted(keyed, key=lambda k: (k[0], k[1]))]

    def render(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "_id": doc["_id"],
            "recvTime": iso_z(self.at(doc)),
            "attrName": "temperature",
            "attrType": "Number",
            "attrValue": doc["value"],
        }


def client_for(sth: RawSth, page_size: int = 100) -> SthCometClient:
    return SthCometClient("http://sth", page_size=page_size, transport=httpx.MockTransport(sth))


def values(points: list[Any]) -> list[int]:
    return [int(p.value) for p in points]


def ms(value: int) -> datetime:
    return BASE + timedelta(milliseconds=value)


# -------------------------------------------------------------------------------- paging by time


def test_time_paging_reads_every_point_of_the_range_exactly_once_with_ties_at_page_boundaries() -> None:
    # Clusters of 1-5 points at one millisecond, so page boundaries keep falling inside ties.
    rng = random.Random(3)
    times: list[int] = []
    for step in range(300):
        times.extend([step * 10] * rng.randint(1, 5))
    sth = RawSth(times)  # ties in a new order on every request
    read = client_for(sth).read_between(TENANT, SERIES, BASE, None)
    assert read.complete
    assert sorted(values(read.points)) == list(range(len(times)))  # all of them, none twice
    assert [p.recv_time for p in read.points] == sorted(p.recv_time for p in read.points)
    assert all(q["hOffset"] == "0" and "dateFrom" in q for q in sth.requests)  # never a growing skip


def test_time_paging_honours_the_half_open_range() -> None:
    sth = RawSth([0, 1000, 1000, 2000, 3000])
    read = client_for(sth).read_between(TENANT, SERIES, ms(1000), ms(3000))
    assert values(read.points) == [1, 2, 3] or sorted(values(read.points)) == [1, 2, 3]
    assert all(ms(1000) <= p.recv_time < ms(3000) for p in read.points)
    assert sth.requests[0]["dateTo"] == iso_z(ms(2999))  # STH's dateTo is inclusive
    empty = client_for(sth).read_between(TENANT, SERIES, ms(5), ms(5))
    assert empty.complete and empty.points == []


def test_more_points_at_one_time_than_a_page_holds_are_read_by_offset_within_that_time() -> None:
    times = [0, 1, *([500] * 250), 600, 700]
    sth = RawSth(times, stable_ties=True)  # an index scan returns ties in a stable order
    read = client_for(sth, page_size=100).read_between(TENANT, SERIES, BASE, None)
    assert sorted(values(read.points)) == list(range(len(times)))
    tie_pages = [q for q in sth.requests if q.get("dateFrom") == q.get("dateTo")]
    assert [q["hOffset"] for q in tie_pages] == ["0", "100", "200"]


def test_time_slices_of_a_window_together_hold_every_point_once() -> None:
    rng = random.Random(11)
    times = sorted(rng.randrange(0, 50_000) for _ in range(2000)) + [50_000] * 3
    sth = RawSth(times)
    client = client_for(sth)
    chunks = plan_chunks(0, len(times), 300)
    window = TimeWindow(first=ms(times[0]), last=ms(times[-1]))
    collected: list[int] = []
    for chunk in slice_by_time(chunks, window):
        assert chunk.date_from is not None
        read = client.read_between(TENANT, SERIES, chunk.date_from, chunk.date_to)
        collected.extend(values(read.points))
    assert sorted(collected) == list(range(len(times)))


# ------------------------------------------------------------------------------ page-size discovery


def test_a_page_refused_for_its_size_is_asked_again_smaller_and_the_size_is_kept() -> None:
    sth = RawSth(list(range(1200)), max_page_size=50)  # a server with MAX_PAGE_SIZE=50
    client = client_for(sth, page_size=1000)
    read = client.read_range(TENANT, SERIES, 0, 1200)
    assert values(read.points) == list(range(1200))
    sizes = [int(q["hLimit"]) for q in sth.requests]
    assert sizes[:3] == [1000, 100, 50]  # configured, STH's default, then half
    refused = [size for size in sizes if size > 50]
    assert len(refused) <= 8  # a few cheap 400s find the exact limit...
    assert client.page_size == 50  # ...kept for the client's life
    assert sizes[-5:] == [50] * 5


@pytest.mark.parametrize("limit", [1, 7, 20, 99, 100, 101, 333, 1000])
def test_the_page_size_search_finds_the_servers_exact_limit(limit: int) -> None:
    sth = RawSth(list(range(3000)), max_page_size=limit)
    client = client_for(sth, page_size=1000)
    read = client.read_between(TENANT, SERIES, BASE, None)
    assert sorted(values(read.points)) == list(range(3000))
    assert client.page_size == limit
    assert sum(1 for q in sth.requests if int(q["hLimit"]) > limit) <= 12


def test_a_larger_page_is_used_where_the_server_allows_it() -> None:
    sth = RawSth(list(range(5000)), max_page_size=1000)
    read = client_for(sth, page_size=1000).read_between(TENANT, SERIES, BASE, None)
    assert sorted(values(read.points)) == list(range(5000))
    assert len(sth.requests) <= 7  # 5000 points in pages of 1000 (each re-reads its boundary time)


def test_a_bad_request_for_another_reason_is_not_retried_smaller() -> None:
    def refuses(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"message": 'child "type" fails because ["type" is required]'})

    client = SthCometClient("http://sth", page_size=100, transport=httpx.MockTransport(refuses))
    with pytest.raises(FiwareBadRequestError):
        client.read_range(TENANT, SERIES, 0, 10)
    assert client.page_size == 100


# ---------------------------------------------------------------------------- stopping for time


def test_a_time_read_stops_before_its_deadline_and_says_where_to_continue() -> None:
    sth = RawSth(list(range(0, 100_000, 50)), seconds_per_page=0.2)  # 2000 points, 20+ pages
    client = client_for(sth)
    started = time.monotonic()
    with deadline_in(1.5):
        first = client.read_between(TENANT, SERIES, BASE, None)
    assert time.monotonic() - started < 1.5
    assert not first.complete and first.resume_from is not None and first.points
    rest = client.read_between(TENANT, SERIES, first.resume_from, None)
    assert rest.complete
    assert values(first.points) + values(rest.points) == list(range(2000))


def test_an_offset_read_stops_before_its_deadline_and_says_where_to_continue() -> None:
    sth = RawSth(list(range(3000)), seconds_per_page=0.1)
    client = client_for(sth)
    first = client.read_range(TENANT, SERIES, 0, 3000, concurrency=2, stop_by=time.monotonic() + 0.6)
    assert not first.complete and first.resume_offset == len(first.points) > 0
    rest = client.read_range(TENANT, SERIES, first.resume_offset, 3000 - first.resume_offset)
    assert values(first.points) + values(rest.points) == list(range(3000))


def test_an_api_read_cut_short_by_its_budget_raises_instead_of_returning_fewer_points() -> None:
    sth = RawSth(list(range(3000)), seconds_per_page=0.2)
    with deadline_in(0.8), pytest.raises(FiwareUnavailableError):
        client_for(sth).fetch_range(TENANT, SERIES, 0, 3000, concurrency=1)


# --------------------------------------------------------------------------------- series source


def source() -> FiwareSource:
    return FiwareSource(
        entity_type=SERIES.entity_type,
        entity_id=SERIES.entity_id,
        feature=SERIES.attribute,
        fiware_service=TENANT.service,
        fiware_servicepath=TENANT.servicepath,
    )


def test_the_series_source_offers_the_window_by_time_and_collects_slices_in_parts() -> None:
    sth = RawSth(list(range(0, 40_000, 20)), seconds_per_page=0.1)  # 2000 points
    series = SthSeriesSource(client_for(sth), paging="time")
    window = series.time_window(source(), 500, 1000)
    assert window == TimeWindow(first=ms(500 * 20), last=ms(1499 * 20))
    chunk = slice_by_time([ChunkSpec(offset=500, count=1000)], window)[0]
    parts: list[int] = []
    todo: ChunkSpec | None = chunk
    calls = 0
    while todo is not None:
        calls += 1
        with deadline_in(1.5):
            part = series.collect(source(), todo)
        parts.extend(int(v) for _, v in part.points if v is not None)
        todo = part.rest
    assert calls > 1
    assert parts == list(range(500, 1500))


class InFlight:
    """A transport around ``sth`` that counts the requests in flight at once."""

    def __init__(self, sth: RawSth) -> None:
        self.sth = sth
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return self.sth(request)
        finally:
            with self.lock:
                self.now -= 1


def test_a_time_slice_with_several_pages_in_flight_reads_lanes_at_once_and_every_point_once() -> None:
    # 6,000 points with ties, some of them right at the lanes' cuts (every 3 ms repeated).
    times = sorted([i * 10 for i in range(4000)] + [i * 20 for i in range(2000)])
    sth = RawSth(times, seconds_per_page=0.005)
    counter = InFlight(sth)
    client = SthCometClient("http://sth", transport=httpx.MockTransport(counter), max_concurrency=8)
    series = SthSeriesSource(client, paging="time")
    chunk = ChunkSpec(offset=0, count=len(times), date_from=BASE, date_to=ms(40_000))
    part = series.collect(source(), chunk, pages_in_flight=4)
    assert part.rest is None
    assert sorted(int(v) for _, v in part.points if v is not None) == list(range(len(times)))
    assert [t for t, _ in part.points] == sorted(t for t, _ in part.points)  # in time order
    assert counter.peak == 4
    single = InFlight(RawSth(times))
    one_lane = SthSeriesSource(SthCometClient("http://sth", transport=httpx.MockTransport(single)))
    assert [t for t, _ in one_lane.collect(source(), chunk).points] == [t for t, _ in part.points]
    assert single.peak == 1


def test_lanes_that_stop_for_time_keep_a_contiguous_prefix_and_the_rest_is_read_next() -> None:
    sth = RawSth(list(range(0, 80_000, 20)), seconds_per_page=0.05)  # 4000 points
    series = SthSeriesSource(client_for(sth), paging="time")
    todo: ChunkSpec | None = ChunkSpec(offset=0, count=4000, date_from=BASE, date_to=ms(80_000))
    seen: list[int] = []
    calls = 0
    while todo is not None:
        calls += 1
        with deadline_in(1.2):
            part = series.collect(source(), todo, pages_in_flight=4)
        got = [int(v) for _, v in part.points if v is not None]
        assert got == list(range(len(seen), len(seen) + len(got)))  # a prefix of what is left
        seen.extend(got)
        todo = part.rest
    assert calls > 1
    assert seen == list(range(4000))


def test_offset_paging_offers_no_window_and_reads_with_the_chunks_share_of_pages() -> None:
    sth = RawSth(list(range(1000)))
    series = SthSeriesSource(client_for(sth), paging="offset")
    assert series.time_window(source(), 0, 1000) is None
    part = series.collect(source(), ChunkSpec(offset=100, count=450), pages_in_flight=3)
    assert part.rest is None
    assert [int(v) for _, v in part.points if v is not None] == list(range(100, 550))


def test_with_an_expected_count_each_time_page_looks_only_a_few_pages_ahead() -> None:
    """A page's cost on real STH is the documents its date filter matches: with the range's
    expected size, every page's filter holds about five pages of points, not the rest of the
    range, through dense and sparse stretches and ties, and every point comes back once."""
    times = [i * 10 for i in range(3000)]  # dense
    times += [30_000 + i * 1000 for i in range(200)]  # sparse: a hundred times fewer per second
    times += [230_000 + i * 10 for i in range(3000)] + [230_000 + 15_000] * 7  # dense, with ties

    def documents_matched(expected: int | None) -> list[int]:
        sth = RawSth(times)
        read = client_for(sth).read_between(TENANT, SERIES, BASE, ms(300_000), expected_points=expected)
        assert read.complete
        assert sorted(values(read.points)) == list(range(len(times)))  # every point once
        assert len(sth.requests) <= 1.3 * len(times) / 99  # few extra requests for it
        found = []
        for q in sth.requests:
            low, high = parse(q["dateFrom"]), parse(q["dateTo"])
            found.append(sum(1 for t in times if low <= ms(t) <= high))
        return sorted(found)

    ahead = documents_matched(len(times))
    to_the_end = documents_matched(None)
    assert ahead[len(ahead) // 2] <= 6 * 100, ahead  # a typical page matches a few pages' worth
    assert sum(ahead) <= 0.25 * sum(to_the_end), (sum(ahead), sum(to_the_end))
