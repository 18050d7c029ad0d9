"""STH-Comet raw-data client (``fiware-contract.md`` §1).

Contract followed:

* Raw mode only: every request carries either ``lastN`` (1..page size) or **both** ``hLimit``
  (1..page size) and ``hOffset``. ``0`` is never sent (it disables STH's limit). The page size is
  at most 100, STH's default ``maxPageSize`` (above it STH answers 400).
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
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic import ValidationError as PydanticValidationError

from chronos_core.adapters.fiware.http import FiwareClient, FiwareHttp, RetryPolicy, build_path
from chronos_core.config import Settings
from chronos_core.deadlines import in_this_context
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.model import iso_z

COMPONENT: Final = "STH-Comet"
#: STH-Comet's default ``maxPageSize``; larger ``hLimit``/``lastN`` values are rejected with 400.
MAX_PAGE_SIZE: Final = 100
TOTAL_COUNT_HEADER: Final = "fiware-total-count"

SthApiVersion = Literal["v1", "v2"]


class SthPoint(BaseModel):
    """One raw point as stored by STH: reception time, NGSI type and the value as stored."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

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
    """A page of points, plus the total count when it was asked for (``count=true``)."""

    model_config = ConfigDict(frozen=True)

    points: list[SthPoint]
    total_count: int | None = None


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
    ) -> None:
        """``page_size`` is 1..100; ``max_concurrency`` is the default number of pages in flight."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be within 1..{MAX_PAGE_SIZE}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self.api_version: SthApiVersion = api_version
        super().__init__(
            base_url,
            timeout=timeout,
            retry=retry,
            transport=transport,
            max_connections=max(max_concurrency, 4),
            auth_token=auth_token,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        """As :meth:`FiwareClient.from_settings`, with ``sth_page_concurrency`` pages in flight."""
        kwargs.setdefault("max_concurrency", settings.sth_page_concurrency)
        return super().from_settings(settings, **kwargs)

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
        """One ``hLimit``/``hOffset`` page, ascending by ``recvTime``; ``limit`` is 1..page size."""
        if offset < 0:
            raise ValidationError("offset must be >= 0", details=[{"field": "offset"}])
        if not 1 <= limit <= self.page_size:
            raise ValidationError(f"limit must be within 1..{self.page_size}", details=[{"field": "limit"}])
        params: dict[str, str | int] = {"hLimit": limit, "hOffset": offset}
        return self._get(tenant, series, params, with_count, date_from, date_to, "raw page")

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
            page = self._get(tenant, series, {"lastN": n}, False, date_from, date_to, "lastN")
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
        """Points ``offset .. offset+count-1`` (from the oldest), ascending, each exactly once.

        The range is split into pages of ``page_size``; up to ``concurrency`` (default
        ``max_concurrency``) pages are in flight at once and are reassembled in offset order.
        Fewer points come back when the series ends before ``offset + count``. The first failing
        page raises (after its own retries) and the pages not yet started are cancelled.
        """
        if offset < 0 or count < 0:
            raise ValidationError(
                "offset and count must be >= 0", details=[{"field": "offset"}, {"field": "count"}]
            )
        if count == 0:
            return []
        pages = [
            (start, min(self.page_size, offset + count - start))
            for start in range(offset, offset + count, self.page_size)
        ]
        workers = min(concurrency or self.max_concurrency, len(pages))
        if workers <= 1:
            points: list[SthPoint] = []
            for start, size in pages:
                page = self.fetch_page(tenant, series, start, size, date_from=date_from, date_to=date_to)
                points.extend(page.points)
                if len(page.points) < size:
                    break
            return points

        def fetch(page_spec: tuple[int, int]) -> list[SthPoint]:
            start, size = page_spec
            return self.fetch_page(tenant, series, start, size, date_from=date_from, date_to=date_to).points

        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sth-page")
        try:
            futures = [executor.submit(in_this_context(fetch), spec) for spec in pages]
            result: list[SthPoint] = []
            for future in futures:
                result.extend(future.result())
            return result
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

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
