"""STH-Comet as the pipeline's series source: the model's tenant and series, floats out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Final, Literal

from chronos_core.adapters.fiware.sth import RangeRead, SthCometClient, SthPoint
from chronos_core.application.ports.pipeline import CollectedPart
from chronos_core.deadlines import in_this_context
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.model import FiwareSource
from chronos_core.domain.training_job import ChunkSpec, TimeWindow

#: A time slice is read in parallel lanes only when each lane gets at least this many points
#: (fewer would pay more in per-read overhead than the parallelism gains).
MIN_LANE_POINTS: Final = 1000


def _series(source: FiwareSource) -> SeriesRef:
    return SeriesRef(entity_type=source.entity_type, entity_id=source.entity_id, attribute=source.feature)


def _pairs(points: list[SthPoint]) -> list[tuple[datetime, float | None]]:
    return [(p.recv_time, p.as_float()) for p in points]


class SthSeriesSource:
    """:class:`~chronos_core.application.ports.pipeline.SeriesSource` over an
    :class:`SthCometClient`. With ``paging="time"`` it offers time windows (two one-point pages
    at the window's ends), so the pipeline collects time slices read by
    :meth:`SthCometClient.read_between`; with ``"offset"``, chunks are read by offset pages."""

    def __init__(self, client: SthCometClient, *, paging: Literal["time", "offset"] = "time") -> None:
        self._client = client
        self._paging = paging

    def count(self, source: FiwareSource) -> int:
        return self._client.count(FiwareTenant.of(source), _series(source))

    def count_between(self, source: FiwareSource, date_from: datetime, date_to: datetime) -> int:
        if date_to <= date_from:
            return 0
        last = date_to - timedelta(milliseconds=1)  # STH's dateTo is inclusive
        return self._client.count(FiwareTenant.of(source), _series(source), date_from=date_from, date_to=last)

    def time_window(self, source: FiwareSource, offset: int, count: int) -> TimeWindow | None:
        return self.bounds(source, offset, count) if self._paging == "time" else None

    def bounds(self, source: FiwareSource, offset: int, count: int) -> TimeWindow | None:
        if count <= 0:
            return None
        tenant, series = FiwareTenant.of(source), _series(source)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sth-window") as pool:
            ends = [
                pool.submit(in_this_context(self._client.point_at), tenant, series, at)
                for at in (offset, offset + count - 1)
            ]
            first, last = (end.result() for end in ends)
        if first is None or last is None:
            return None
        return TimeWindow(first=first.recv_time, last=last.recv_time)

    def collect(self, source: FiwareSource, chunk: ChunkSpec, *, pages_in_flight: int = 1) -> CollectedPart:
        tenant, series = FiwareTenant.of(source), _series(source)
        if chunk.date_from is not None:
            return self._collect_by_time(tenant, series, chunk, pages_in_flight)
        read = self._client.read_range(tenant, series, chunk.offset, chunk.count, concurrency=pages_in_flight)
        if read.complete or read.resume_offset is None:
            return CollectedPart(points=_pairs(read.points))
        left = chunk.offset + chunk.count - read.resume_offset
        rest = ChunkSpec(offset=read.resume_offset, count=left) if left > 0 else None
        return CollectedPart(points=_pairs(read.points), rest=rest)

    def last_n(self, source: FiwareSource, n: int) -> list[tuple[datetime, float | None]]:
        return _pairs(self._client.last_n(FiwareTenant.of(source), _series(source), n))

    def _collect_by_time(
        self, tenant: FiwareTenant, series: SeriesRef, chunk: ChunkSpec, pages_in_flight: int
    ) -> CollectedPart:
        """The slice ``[date_from, date_to)`` split into up to ``pages_in_flight`` adjacent
        sub-slices (lanes) read by time at once, each one page at a time, so that the chunk keeps
        that many pages in flight; the client's flow control still admits each page (a slow or
        failing STH gets fewer). Every point is read once (the lanes are half-open and adjacent).
        When a lane stops for time, the points up to its resume time are kept and the rest of the
        slice is what is left to read (the later lanes' points are read again by the next call)."""
        assert chunk.date_from is not None
        lanes = _lane_bounds(chunk, pages_in_flight)
        expected = max(1, chunk.count // len(lanes))

        def read(bounds: tuple[datetime, datetime | None]) -> RangeRead:
            return self._client.read_between(tenant, series, bounds[0], bounds[1], expected_points=expected)

        if len(lanes) == 1:
            reads = [read(lanes[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="sth-lane") as pool:
                reads = list(pool.map(in_this_context(read), lanes))
        points: list[SthPoint] = []
        for part in reads:
            points.extend(part.points)
            if not part.complete and part.resume_from is not None:
                return CollectedPart(
                    points=_pairs(points), rest=chunk.model_copy(update={"date_from": part.resume_from})
                )
        return CollectedPart(points=_pairs(points))


def _lane_bounds(chunk: ChunkSpec, pages_in_flight: int) -> list[tuple[datetime, datetime | None]]:
    """``[date_from, date_to)`` cut into equal adjacent spans on whole milliseconds (STH's time
    resolution), as many as ``pages_in_flight`` allows with :data:`MIN_LANE_POINTS` each; one
    span when the slice has no end."""
    assert chunk.date_from is not None
    start, end = chunk.date_from, chunk.date_to
    count = max(1, min(pages_in_flight, chunk.count // MIN_LANE_POINTS))
    if end is None or count == 1 or end - start < timedelta(milliseconds=count):
        return [(start, end)]
    step_ms = (end - start) // timedelta(milliseconds=1) // count
    cuts = [start + timedelta(milliseconds=step_ms * i) for i in range(1, count)]
    edges = [start, *cuts, end]
    return [(low, high) for low, high in zip(edges[:-1], edges[1:], strict=True)]


class SthObservedSeries:
    """:class:`~chronos_core.application.ports.monitoring.ObservedSeries` on STH-Comet: the
    points alert rules are evaluated on, read by ``lastN`` and by time (``dateFrom``/``dateTo``)."""

    def __init__(self, client: SthCometClient) -> None:
        self._client = client

    def recent(self, source: FiwareSource, n: int) -> list[tuple[datetime, float | None]]:
        return _pairs(self._client.last_n(FiwareTenant.of(source), _series(source), n))

    def between(
        self, source: FiwareSource, date_from: datetime, date_to: datetime | None
    ) -> list[tuple[datetime, float | None]]:
        read = self._client.read_between(FiwareTenant.of(source), _series(source), date_from, date_to)
        return _pairs(read.points)

    def before(self, source: FiwareSource, date_to: datetime, n: int) -> list[tuple[datetime, float | None]]:
        return _pairs(self._client.last_n(FiwareTenant.of(source), _series(source), n, date_to=date_to))
