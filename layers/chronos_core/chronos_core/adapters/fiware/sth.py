"""STH-Comet raw-data client (``fiware-contract.md`` §1).

Contract followed:

* Raw mode only: every request carries either ``lastN`` (1..page size) or **both** ``hLimit``
  (1..page size) and ``hOffset``. ``0`` is never sent (it disables STH's limit).
* **Page size.** STH refuses ``lastN``/``hLimit`` above its ``MAX_PAGE_SIZE`` (a server setting,
  100 by default) with 400 ``hLimit <= lastN <= config.maxPageSize``. The client asks for its
  configured ``page_size``; a page refused for that is asked again smaller, and the client
  searches for the largest size the server accepts (:class:`PageSizeSearch`), kept for its life.
* **Ranges**, every point exactly once, stopping early with what was read (an incomplete read
  that says where to continue) when ``stop_by`` or the time budget (:mod:`chronos_core.deadlines`)
  leaves too little time for one more page:

  - :meth:`SthCometClient.read_between` reads ``[date_from, date_to)`` **by time**: each page
    asks ``dateFrom`` = the last reception time seen (``dateTo`` = the range's end less 1 ms,
    ``hOffset=0``) and keeps only the points before that time, which the next page returns again
    (reception times are whole milliseconds and ties have no defined order, so the points at the
    boundary are read together, exactly once); more points at one time than a page holds are
    read by offset within that millisecond. Real STH pays for each page a count and a sort of the
    documents matching the date filter plus the skip, so a page bounded a few pages ahead costs in
    proportion to those few pages, not to the series, and never skips far.
  - :meth:`SthCometClient.read_range` reads ``offset .. offset+count-1`` by ``hOffset`` pages,
    several in flight, reassembled in order (each page pays for the whole series and its offset).

* **Flow control** (:mod:`.flow`): the pages of one client share one limit of requests in flight
  to the endpoint, adaptive timeouts and a circuit breaker.
* ``hOffset`` counts from the **oldest** point; pages come back ascending by ``recvTime``.
* ``count=true`` makes STH add ``fiware-total-count`` (the total matching the date filter, before
  paging); headers are read case-insensitively.
* Only documented query parameters are sent (STH rejects unknown ones with 400); ``type`` only on v2.
* ``Fiware-Service`` / ``Fiware-ServicePath`` come from the :class:`FiwareTenant` of each call.
* ``attrValue`` keeps the JSON type it was stored with (string, number, object...): points keep the
  raw value and :meth:`SthPoint.as_float` converts numbers and numeric strings.
* ``recvTime`` is parsed to an aware UTC :class:`datetime`.
* Real STH returns every stored field of a point, ``_id`` (the ObjectId as 24 hex digits) and
  ``attrName`` included; :class:`SthPoint` ignores the fields it does not use.
* v2 bodies are ``{"type": "StructuredValue", "value": [...]}`` (key ``value``); v1 bodies are
  ``contextResponses[0].contextElement.attributes[name=attr].values``.

Entity ids, types and attribute names are percent-encoded into the path, never validated against
Orion's rules (STH stores whatever it was notified).
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic import ValidationError as PydanticValidationError

from chronos_core.adapters.fiware.errors import FiwareBadRequestError, FiwareUnavailableError
from chronos_core.adapters.fiware.flow import FlowControl, FlowSettings
from chronos_core.adapters.fiware.http import FiwareClient, FiwareHttp, RetryPolicy, build_path
from chronos_core.config import Settings
from chronos_core.deadlines import in_this_context, remaining
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.model import iso_z
from chronos_core.observability import logger

COMPONENT: Final = "STH-Comet"
#: STH-Comet's default ``maxPageSize``; larger ``hLimit``/``lastN`` values are rejected with 400.
MAX_PAGE_SIZE: Final = 100
#: The largest page the client may be configured to ask for.
MAX_CONFIGURABLE_PAGE_SIZE: Final = 10_000
TOTAL_COUNT_HEADER: Final = "fiware-total-count"
PAGE_GUARD_TEXT: Final = "maxPageSize"

SthApiVersion = Literal["v1", "v2"]


class SthPoint(BaseModel):
    """One raw point as stored by STH: reception time, NGSI type and the value as stored."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    #: STH's own id of the stored point (a Mongo ObjectId as hex), when the server sends it.
    id: str | None = Field(default=None, alias="_id")
    recv_time: datetime = Field(alias="recvTime")
    attr_type: str | None = Field(default=None, alias="attrType")
    value: Any = Field(default=None, alias="attrValue")

    @field_validator("recv_time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def as_float(self) -> float | None:
        """The value as a finite float: numbers and numeric strings convert; anything else is None."""
        raw = self.value
        if isinstance(raw, bool) or raw is None:
            return None
        if isinstance(raw, int | float):
            number = float(raw)
        elif isinstance(raw, str):
            try:
                number = float(raw.strip())
            except ValueError:
                return None
        else:
            return None
        return number if math.isfinite(number) else None


class SthPage(BaseModel):
    """A page of points, plus the total count when it was asked for (``count=true``), and the
    page size the server answered (``limit``; smaller than asked when it refused that size):
    fewer points than ``limit`` means the range ended."""

    model_config = ConfigDict(frozen=True)

    points: list[SthPoint]
    total_count: int | None = None
    limit: int | None = None


class PageSizeSearch:
    """The largest page the server accepts (its ``MAX_PAGE_SIZE``), learnt from its answers.

    ``size`` is what to ask next: the configured size until a page is refused; then STH's default
    (100) when below the refused size, then the midpoint between the largest size accepted and the
    largest not refused, until the two meet. Each refusal is a cheap 400 (STH checks the size
    before it queries), and a search from 1,000 down to 20 costs about eight of them. Thread-safe.
    """

    def __init__(self, configured: int) -> None:
        self.configured = configured
        self._accepted = 0
        self._allowed = configured
        self._refusals = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        with self._lock:
            if self._refusals == 0 or self._accepted >= self._allowed:
                return self._allowed
            if self._accepted == 0:
                return MAX_PAGE_SIZE if self._allowed >= MAX_PAGE_SIZE else max(1, (self._allowed + 1) // 2)
            return (self._accepted + self._allowed + 1) // 2

    def accepted(self, size: int) -> None:
        with self._lock:
            self._accepted = max(self._accepted, min(size, self._allowed))

    def refused(self, size: int) -> bool:
        """Record a refusal of ``size``; False when no smaller page exists (size 1)."""
        with self._lock:
            if size <= 1:
                return False
            if size <= self._accepted:  # the server's limit went down: search again
                self._accepted = 0
            self._allowed = min(self._allowed, size - 1)
            self._refusals += 1
        logger.warning(
            "STH-Comet refused the page size; asking for smaller pages",
            extra={"refused": size, "page_size": self.size},
        )
        return True


class RangeRead(BaseModel):
    """Points of a range, ascending. ``complete`` is false when the read stopped for time; the
    rest of the range then starts at offset ``resume_offset`` (:meth:`SthCometClient.read_range`)
    or at time ``resume_from`` (:meth:`SthCometClient.read_between`)."""

    model_config = ConfigDict(frozen=True)

    points: list[SthPoint]
    complete: bool = True
    resume_offset: int | None = None
    resume_from: datetime | None = None


_POINTS: Final = TypeAdapter(list[SthPoint])


class SthCometClient(FiwareClient):
    """Synchronous STH-Comet raw-data client with paging, retries and concurrent page fetches.

    Thread-safe: one instance may serve several threads (its pool has ``max_concurrency``
    connections at least).
    """

    component = COMPONENT
    url_setting = "sth_url"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        page_size: int = MAX_PAGE_SIZE,
        max_concurrency: int = 4,
        api_version: SthApiVersion = "v2",
        transport: httpx.BaseTransport | None = None,
        auth_token: str | None = None,
        flow: FlowControl | None = None,
    ) -> None:
        """``page_size`` is the largest page asked for (1..10,000; the server may accept less);
        ``max_concurrency`` the default number of offset pages in flight; ``flow`` the endpoint's
        flow control (see :mod:`.flow`)."""
        if not 1 <= page_size <= MAX_CONFIGURABLE_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_CONFIGURABLE_PAGE_SIZE}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self._page_search = PageSizeSearch(page_size)
        self.max_concurrency = max_concurrency
        self.api_version: SthApiVersion = api_version
        self.flow = flow
        super().__init__(
            base_url,
            timeout=timeout,
            retry=retry,
            transport=transport,
            max_connections=max(max_concurrency, 4),
            auth_token=auth_token,
            flow=flow,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        """As :meth:`FiwareClient.from_settings`: ``sth_page_size`` and a flow
        control with ``sth_page_concurrency`` requests in flight at most, timeouts from
        ``fiware_timeout_seconds`` growing to ``sth_timeout_cap_seconds`` (none when
        ``sth_adaptive`` is off)."""
        kwargs.setdefault("max_concurrency", settings.sth_page_concurrency)
        kwargs.setdefault("page_size", settings.sth_page_size)
        if not settings.sth_adaptive:
            return super().from_settings(settings, **kwargs)
        kwargs.setdefault(
            "flow",
            FlowControl(
                FlowSettings(
                    ceiling=settings.sth_page_concurrency,
                    start=min(2, settings.sth_page_concurrency),
                    base_timeout=settings.fiware_timeout_seconds,
                    timeout_cap=max(settings.fiware_timeout_seconds, settings.sth_timeout_cap_seconds),
                )
            ),
        )
        return super().from_settings(settings, **kwargs)

    @property
    def page_size(self) -> int:
        """The largest page this client asks for now (see :class:`PageSizeSearch`)."""
        return self._page_search.size

    # ------------------------------------------------------------------ queries

    def version(self) -> dict[str, Any]:
        """``GET /version`` → ``{"version": "2.11.0"}`` (no tenant headers)."""
        return self._get_object("/version", "version")

    def count(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> int:
        """Total number of stored points of ``series`` within the optional date filter."""
        page = self.fetch_page(tenant, series, 0, 1, with_count=True, date_from=date_from, date_to=date_to)
        return page.total_count or 0

    def fetch_page(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        offset: int,
        limit: int,
        *,
        with_count: bool = False,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> SthPage:
        """One ``hLimit``/``hOffset`` page, ascending by ``recvTime``; ``limit`` is 1..page size
        (a smaller page is asked when the server refuses the size: fewer points may come back)."""
        if offset < 0:
            raise ValidationError("offset must be >= 0", details=[{"field": "offset"}])
        if not 1 <= limit <= self._page_search.configured:
            raise ValidationError(
                f"limit must be within 1..{self._page_search.configured}", details=[{"field": "limit"}]
            )
        return self._paged(
            tenant, series, {"hOffset": offset}, limit, with_count, date_from, date_to, "raw page", "hLimit"
        )

    def last_n(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        n: int,
        *,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> list[SthPoint]:
        """The most recent ``n`` points, ascending by ``recvTime``.

        ``n`` ≤ page size uses STH's ``lastN`` (one request); larger ``n`` reads the total and
        pages the tail with :meth:`fetch_range`.
        """
        if n < 1:
            raise ValidationError("n must be >= 1", details=[{"field": "n"}])
        if n <= self.page_size:
            page = self._paged(tenant, series, {}, n, False, date_from, date_to, "lastN", "lastN")
            if n <= self.page_size or len(page.points) >= n:  # else the server refused n: page it
                return page.points
        total = self.count(tenant, series, date_from=date_from, date_to=date_to)
        take = min(n, total)
        if take == 0:
            return []
        return self.fetch_range(tenant, series, total - take, take, date_from=date_from, date_to=date_to)

    def fetch_range(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        offset: int,
        count: int,
        *,
        concurrency: int | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> list[SthPoint]:
        """Points ``offset .. offset+count-1`` (from the oldest), ascending, each exactly once;
        fewer when the series ends first. See :meth:`read_range`; a read the time budget cut
        short raises FiwareUnavailableError (never a silently shorter list)."""
        read = self.read_range(
            tenant, series, offset, count, concurrency=concurrency, date_from=date_from, date_to=date_to
        )
        if not read.complete:
            raise FiwareUnavailableError(
                COMPONENT, "raw range", f"the time budget ran out after {len(read.points)} point(s)"
            )
        return read.points

    def read_range(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        offset: int,
        count: int,
        *,
        concurrency: int | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        stop_by: float | None = None,
    ) -> RangeRead:
        """Points ``offset .. offset+count-1`` (from the oldest), ascending, each exactly once,
        paged as the module docstring says (``concurrency``: offset pages in flight at most,
        default ``max_concurrency``). With ``stop_by`` (a :func:`time.monotonic` instant) or
        inside a time budget, no page is started that would likely end after it: the points read
        so far come back with ``complete=False`` and ``resume_offset``. The first failing page
        raises, after its own retries."""
        if offset < 0 or count < 0:
            raise ValidationError(
                "offset and count must be >= 0", details=[{"field": "offset"}, {"field": "count"}]
            )
        if count == 0:
            return RangeRead(points=[])
        reader = _RangeReader(self, tenant, series, stop_by)
        return reader.by_offset(offset, count, concurrency or self.max_concurrency, date_from, date_to)

    def read_between(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        date_from: datetime,
        date_to: datetime | None,
        *,
        stop_by: float | None = None,
        expected_points: int | None = None,
    ) -> RangeRead:
        """Every point received in ``[date_from, date_to)`` (``date_to`` None: up to the newest),
        ascending, each exactly once, paged by time as the module docstring says. With
        ``stop_by`` (a :func:`time.monotonic` instant) or inside a time budget, no page is
        started that would likely end after it: the points read so far come back with
        ``complete=False`` and ``resume_from``, after at least one page. ``expected_points``
        (about how many the range holds) lets each page look only a few pages ahead."""
        upper = None if date_to is None else date_to - timedelta(milliseconds=1)
        if upper is not None and upper < date_from:
            return RangeRead(points=[])
        return _RangeReader(self, tenant, series, stop_by).by_time(date_from, upper, expected_points)

    def point_at(self, tenant: FiwareTenant, series: SeriesRef, offset: int) -> SthPoint | None:
        """The point at ``offset`` from the oldest, or None past the end."""
        page = self.fetch_page(tenant, series, offset, 1)
        return page.points[0] if page.points else None

    def fetch_all(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        *,
        concurrency: int | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
    ) -> list[SthPoint]:
        """Every point of ``series`` (within the date filter), ascending.

        The first page is read with ``count=true``; the rest via :meth:`fetch_range`.
        """
        first = self.fetch_page(
            tenant, series, 0, self.page_size, with_count=True, date_from=date_from, date_to=date_to
        )
        total = first.total_count or 0
        if total <= len(first.points):
            return list(first.points)
        rest = self.fetch_range(
            tenant,
            series,
            len(first.points),
            total - len(first.points),
            concurrency=concurrency,
            date_from=date_from,
            date_to=date_to,
        )
        return [*first.points, *rest]

    # ------------------------------------------------------------------ internals

    def _path(self, series: SeriesRef) -> str:
        if self.api_version == "v2":
            return build_path(
                "/STH/v2/entities/{}/attrs/{}",
                ("entity_id", series.entity_id),
                ("attribute", series.attribute),
            )
        return build_path(
            "/STH/v1/contextEntities/type/{}/id/{}/attributes/{}",
            ("entity_type", series.entity_type),
            ("entity_id", series.entity_id),
            ("attribute", series.attribute),
        )

    def _paged(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        params: dict[str, str | int],
        size: int,
        with_count: bool,
        date_from: datetime | None,
        date_to: datetime | None,
        operation: str,
        size_param: Literal["hLimit", "lastN"],
    ) -> SthPage:
        """:meth:`_get` with ``size_param`` = ``size``, asked again smaller while the server
        refuses the size (its ``maxPageSize``)."""
        while True:
            try:
                page = self._get(
                    tenant, series, {**params, size_param: size}, with_count, date_from, date_to, operation
                )
            except FiwareBadRequestError as exc:
                if PAGE_GUARD_TEXT not in (exc.upstream_description or "") or not self._page_search.refused(
                    size
                ):
                    raise
                size = min(size, self.page_size)
                continue
            self._page_search.accepted(size)
            return page.model_copy(update={"limit": size})

    def _get(
        self,
        tenant: FiwareTenant,
        series: SeriesRef,
        params: dict[str, str | int],
        with_count: bool,
        date_from: datetime | None,
        date_to: datetime | None,
        operation: str,
    ) -> SthPage:
        if self.api_version == "v2":
            params["type"] = series.entity_type
        if with_count:
            params["count"] = "true"
        if date_from is not None:
            params["dateFrom"] = iso_z(date_from)
        if date_to is not None:
            params["dateTo"] = iso_z(date_to)
        response = self._http.request(
            "GET",
            self._path(series),
            operation=operation,
            params=params,
            headers=tenant.headers(),
        )
        total: int | None = None
        if with_count:
            raw = response.headers.get(TOTAL_COUNT_HEADER)
            try:
                total = int(raw) if raw is not None else None
            except ValueError:
                total = None
            if total is None or total < 0:
                raise self._http.protocol_error(
                    response, operation, f"missing or invalid {TOTAL_COUNT_HEADER} header"
                )
        values = self._values(response, series, operation)
        try:
            points = _POINTS.validate_python(values)
        except PydanticValidationError as exc:
            raise self._http.protocol_error(
                response, operation, f"malformed points ({exc.error_count()} error(s))"
            ) from exc
        return SthPage(points=points, total_count=total)

    def _values(self, response: httpx.Response, series: SeriesRef, operation: str) -> list[Any]:
        body = _json_object(self._http, response, operation)
        if self.api_version == "v2":
            values = body.get("value")
            if not isinstance(values, list):
                raise self._http.protocol_error(response, operation, "v2 body without a 'value' list")
            return values
        try:
            element = body["contextResponses"][0]["contextElement"]
            attributes = element["attributes"]
        except (KeyError, IndexError, TypeError) as exc:
            raise self._http.protocol_error(
                response, operation, "v1 body without contextResponses[0].contextElement.attributes"
            ) from exc
        for attribute in attributes if isinstance(attributes, list) else []:
            if isinstance(attribute, dict) and attribute.get("name") == series.attribute:
                values = attribute.get("values")
                if isinstance(values, list):
                    return values
        return []


def _json_object(http: FiwareHttp, response: httpx.Response, operation: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise http.protocol_error(response, operation, "body is not JSON") from exc
    if not isinstance(body, dict):
        raise http.protocol_error(response, operation, "body is not a JSON object")
    return body


#: How many pages ahead of the cursor a time page's ``dateTo`` reaches when the density is known.
LOOKAHEAD_PAGES: Final = 5


class _Lookahead:
    """The span of time a page by time asks for: about :data:`LOOKAHEAD_PAGES` pages of points
    at the density seen so far (None: up to the range's end)."""

    def __init__(self, span: timedelta | None) -> None:
        self._span = span

    @classmethod
    def for_range(
        cls, date_from: datetime, upper: datetime | None, expected_points: int | None, page_size: int
    ) -> _Lookahead:
        if upper is None or not expected_points or expected_points <= LOOKAHEAD_PAGES * page_size:
            return cls(None)
        per_point = (upper - date_from) / expected_points
        return cls(max(timedelta(milliseconds=1), per_point * LOOKAHEAD_PAGES * page_size))

    def end(self, cursor: datetime, upper: datetime | None) -> datetime | None:
        """The inclusive ``dateTo`` of the next page."""
        if self._span is None or upper is None:
            return upper
        return min(upper, cursor + self._span)

    def widen(self, found: int, page_size: int) -> None:
        """The look-ahead held less than a page (``found`` points): the data is sparser there;
        look as far as that density needs (at least twice as far)."""
        if self._span is not None:
            wanted = LOOKAHEAD_PAGES * page_size
            self._span *= max(2.0, min(64.0, wanted / max(1, found)))

    def observe(self, page: list[SthPoint], page_size: int) -> None:
        """Re-estimate the span from a full page's density."""
        if self._span is None or len(page) < 2:
            return
        covered = page[-1].recv_time - page[0].recv_time
        if covered > timedelta(0):
            self._span = max(
                timedelta(milliseconds=1), covered / (len(page) - 1) * LOOKAHEAD_PAGES * page_size
            )


#: A page is not started with less time than this left before the stop time.
MIN_PAGE_SECONDS: Final = 1.0


class _RangeReader:
    """One range read: the paging strategies and the time limit."""

    def __init__(
        self, client: SthCometClient, tenant: FiwareTenant, series: SeriesRef, stop_by: float | None
    ) -> None:
        self._client = client
        self._tenant = tenant
        self._series = series
        budget = remaining()
        limits = [
            t for t in (stop_by, None if budget is None else time.monotonic() + budget) if t is not None
        ]
        self._stop_by = min(limits) if limits else None
        self._slowest = 0.0

    def _page(
        self, offset: int, size: int, date_from: datetime | None, date_to: datetime | None
    ) -> tuple[list[SthPoint], int]:
        """One page and the size the server answered it at (smaller when it refused ``size``)."""
        started = time.monotonic()
        page = self._client.fetch_page(
            self._tenant, self._series, offset, size, date_from=date_from, date_to=date_to
        )
        self._slowest = max(self._slowest, time.monotonic() - started)
        return page.points, page.limit or size

    def _span(
        self, offset: int, want: int, date_from: datetime | None, date_to: datetime | None
    ) -> tuple[list[SthPoint], bool]:
        """Points ``offset .. offset+want-1`` in as many pages as the server's page size needs;
        True when the series ended inside them."""
        points: list[SthPoint] = []
        while len(points) < want:
            page, limit = self._page(
                offset + len(points), min(want - len(points), self._client.page_size), date_from, date_to
            )
            points.extend(page)
            if len(page) < limit:
                return points, True
        return points, False

    def _time_left(self) -> bool:
        """Whether one more page likely ends before the stop time (1.5 × the slowest so far)."""
        if self._stop_by is None:
            return True
        return time.monotonic() + max(MIN_PAGE_SECONDS, 1.5 * self._slowest) < self._stop_by

    def _out_of_time(self, have_points: bool) -> bool:
        """Whether a failed page failed because the stop time came (keep what was read)."""
        return have_points and self._stop_by is not None and not self._time_left()

    def by_offset(
        self, offset: int, count: int, concurrency: int, date_from: datetime | None, date_to: datetime | None
    ) -> RangeRead:
        """``hOffset`` spans of a page each, up to ``concurrency`` in flight, reassembled in order."""
        first, ended = self._span(offset, min(self._client.page_size, count), date_from, date_to)
        points = list(first)
        if ended:
            return RangeRead(points=points)
        size = self._client.page_size
        starts = list(range(offset + len(first), offset + count, size))
        workers = max(1, min(concurrency, len(starts)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sth-page") as executor:
            pending: list[Future[tuple[list[SthPoint], bool]]] = []
            index = 0
            while index < len(starts) or pending:
                while index < len(starts) and len(pending) < workers and self._time_left():
                    start = starts[index]
                    want = min(size, offset + count - start)
                    span = in_this_context(self._span)
                    pending.append(executor.submit(span, start, want, date_from, date_to))
                    index += 1
                if not pending:
                    return self._stopped_at_offset(points, offset)
                try:
                    span_points, ended = pending.pop(0).result()
                except FiwareUnavailableError:
                    for later in pending:
                        later.cancel()
                    if self._out_of_time(bool(points)):
                        return self._stopped_at_offset(points, offset)
                    raise
                points.extend(span_points)
                if ended:  # the series ended: the spans after it are empty
                    for later in pending:
                        later.cancel()
                    return RangeRead(points=points)
        return RangeRead(points=points)

    @staticmethod
    def _stopped_at_offset(points: list[SthPoint], offset: int) -> RangeRead:
        return RangeRead(points=points, complete=False, resume_offset=offset + len(points))

    def by_time(
        self, date_from: datetime, upper: datetime | None, expected_points: int | None = None
    ) -> RangeRead:
        """Pages from the last reception time seen; ``upper`` is the inclusive end. With
        ``expected_points`` (about how many points the range holds) each page's ``dateTo`` looks
        only :data:`LOOKAHEAD_PAGES` pages ahead of the cursor, re-estimated from the density seen,
        so a page costs STH the documents of that look-ahead, not of the rest of the range."""
        points: list[SthPoint] = []
        cursor = date_from
        ahead = _Lookahead.for_range(date_from, upper, expected_points, self._client.page_size)
        while upper is None or cursor <= upper:
            if points and not self._time_left():
                return RangeRead(points=points, complete=False, resume_from=cursor)
            page_end = ahead.end(cursor, upper)
            try:
                page, asked = self._page(0, self._client.page_size, cursor, page_end)
            except FiwareUnavailableError:
                if self._out_of_time(bool(points)):
                    return RangeRead(points=points, complete=False, resume_from=cursor)
                raise
            if len(page) < asked:
                points.extend(page)  # everything up to page_end is read
                if page_end is None or page_end == upper:
                    break  # the range ends in this page
                ahead.widen(len(page), self._client.page_size)
                cursor = page_end + timedelta(milliseconds=1)
                continue
            last = page[-1].recv_time
            if last == cursor:  # a whole page of points at one time: read them by offset
                points.extend(self._all_at(cursor))
                cursor += timedelta(milliseconds=1)
                continue
            ahead.observe(page, self._client.page_size)
            points.extend(p for p in page if p.recv_time < last)
            cursor = last
        return RangeRead(points=points)

    def _all_at(self, instant: datetime) -> list[SthPoint]:
        """Every point received at exactly ``instant``, by offset pages."""
        found: list[SthPoint] = []
        while True:
            page, asked = self._page(len(found), self._client.page_size, instant, instant)
            found.extend(page)
            if len(page) < asked:
                return found
