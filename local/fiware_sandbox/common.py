"""Shared sandbox plumbing: state (Mongo handle, faults, request log), middleware, helpers.

The middleware wraps each of the three apps and:

* keeps the request path **percent-encoded** for routing (``scope["path"] = raw_path``) so an id
  holding ``%2F`` stays one path segment, as in the real servers; handlers decode with :func:`unq`;
* records every request in the in-memory request log (``GET /_sandbox/requests``);
* applies the injected faults (``POST /_sandbox/faults``) before the component sees the request;
* hands the request's log record to the component (``scope[RECORD_KEY]``), so the STH double can
  add what its cost model did (time queued, cost, whether the client had gone).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from pydantic import BaseModel, Field
from pymongo import MongoClient
from pymongo.database import Database

from local.fiware_sandbox.sth_cost import QueryPool

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/_sandbox"
#: The ASGI scope key under which the middleware hands the request's :class:`RequestRecord` on.
RECORD_KEY = "fiware_sandbox.record"


def unq(value: str) -> str:
    """Decode one percent-encoded path segment."""
    return unquote(value)


class FaultConfig(BaseModel):
    """Injected faults. ``POST /_sandbox/faults`` replaces the whole configuration."""

    sth_error_rate: float = Field(default=0.0, ge=0, le=1, description="STH data requests answering 5xx")
    sth_error_status: int = Field(default=500, ge=500, le=599)
    sth_timeout_rate: float = Field(default=0.0, ge=0, le=1, description="STH data requests that hang")
    sth_timeout_seconds: float = Field(default=30.0, ge=0, le=600)
    sth_fail_first: int = Field(
        default=0, ge=0, description="each distinct STH data URL fails this many times, then works"
    )
    sth_fail_from_offset: int | None = Field(
        default=None,
        ge=0,
        description="STH data requests whose hOffset is at least this answer 5xx every time "
        "(a permanent failure that spares the earlier part of a series, for offset paging)",
    )
    sth_fail_from_time: datetime | None = Field(
        default=None,
        description="STH data requests whose dateFrom is at or after this time answer 5xx every "
        "time (the same for paging by time; requests without dateFrom are spared)",
    )
    sth_max_page_size: int | None = Field(
        default=None,
        ge=1,
        description="STH MAX_PAGE_SIZE: lastN or hLimit above it answer 400; null: the server's "
        "--sth-max-page-size (default 100)",
    )
    sth_cost_model: bool = Field(
        default=False,
        description="make each STH raw-data query cost what it costs a real STH-Comet (sth_cost.py): "
        "a bounded pool of queries, a cost per matching and per skipped document, and queries that "
        "run to their end after the client has gone",
    )
    sth_cost_ms_per_document: float = Field(
        default=0.09, ge=0, le=1000, description="ms per document matching the date filter (count + sort)"
    )
    sth_cost_ms_per_skipped: float = Field(
        default=0.02, ge=0, le=1000, description="ms per document skipped (min(hOffset, documents))"
    )
    sth_cost_base_ms: float = Field(default=0.0, ge=0, le=600_000, description="fixed ms per query")
    sth_query_pool_size: int = Field(
        default=5, ge=1, le=1000, description="queries in flight at once; the others queue (FIFO)"
    )
    sth_db_parallelism: float = Field(
        default=1.6,
        gt=0,
        le=1000,
        description="how many queries the database runs at full speed at once; more share it "
        "(each at parallelism/n of its speed). Calibrated on a real STH-Comet's measured throughput",
    )
    orion_down: bool = False
    iot_agent_down: bool = False
    down_status: int = Field(default=503, ge=500, le=599)
    seed: int | None = None


@dataclass
class RequestRecord:
    seq: int
    time: float
    component: str
    method: str
    path: str
    query: str
    service: str | None
    servicepath: str | None
    status: int = 0
    fault: str | None = None
    duration_ms: float = 0.0
    #: STH raw-data queries only: ms spent waiting for a pool slot, the modelled cost (0 when the
    #: cost model is off) and whether the client had disconnected when the answer was ready.
    queue_ms: float | None = None
    cost_ms: float | None = None
    client_gone: bool | None = None
    #: Orion batch updates only: the entities the batch named, ``id/type``.
    entities: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "component": self.component,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "service": self.service,
            "servicepath": self.servicepath,
            "status": self.status,
            "fault": self.fault,
            "duration_ms": round(self.duration_ms, 3),
            "queue_ms": None if self.queue_ms is None else round(self.queue_ms, 3),
            "cost_ms": None if self.cost_ms is None else round(self.cost_ms, 3),
            "client_gone": self.client_gone,
            **({"entities": self.entities} if self.entities is not None else {}),
        }


@dataclass
class SandboxState:
    """Everything shared by the three apps of one sandbox process."""

    mongo: MongoClient[dict[str, Any]]
    db: Database[dict[str, Any]]
    sth_max_page_size: int = 100
    ports: dict[str, int] = field(default_factory=dict)
    faults: FaultConfig = field(default_factory=FaultConfig)
    rng: random.Random = field(default_factory=random.Random)
    log: deque[RequestRecord] = field(default_factory=lambda: deque(maxlen=200_000))
    fail_counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq: int = 0
    notifier: Any = None
    known_series: set[str] = field(default_factory=set)
    #: (collection, attrName) -> (registry rev, points sorted by recvTime): a read-through cache
    #: validated against the ``rev`` counter every writer bumps (FerretDB scans are slow).
    series_cache: dict[tuple[str, str], tuple[int, list[tuple[Any, ...]]]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    #: The STH query pool and its counters (``GET /_sandbox/sth/stats``); used on the event loop only.
    sth_pool: QueryPool = field(init=False)

    def __post_init__(self) -> None:
        self.sth_pool = QueryPool(
            lambda: self.faults.sth_query_pool_size, lambda: self.faults.sth_db_parallelism
        )

    def max_page_size(self) -> int:
        """STH's MAX_PAGE_SIZE now: the control API's ``sth_max_page_size``, else the server flag."""
        override = self.faults.sth_max_page_size
        return override if override is not None else self.sth_max_page_size

    def set_faults(self, config: FaultConfig) -> None:
        with self.lock:
            self.faults = config
            self.rng = random.Random(config.seed)
            self.fail_counts.clear()

    def next_record(self, **kwargs: Any) -> RequestRecord:
        with self.lock:
            self.seq += 1
            record = RequestRecord(seq=self.seq, time=time.time(), **kwargs)
            self.log.append(record)
            return record

    def pick_sth_fault(
        self, key: str, offset: int | None = None, date_from: datetime | None = None
    ) -> str | None:
        """Decide the fault for one STH data request: ``error``, ``timeout`` or ``None``."""
        with self.lock:
            faults = self.faults
            if (
                faults.sth_fail_from_offset is not None
                and offset is not None
                and offset >= faults.sth_fail_from_offset
            ):
                return "error"
            if (
                faults.sth_fail_from_time is not None
                and date_from is not None
                and date_from >= faults.sth_fail_from_time
            ):
                return "error"
            if faults.sth_fail_first:
                seen = self.fail_counts.get(key, 0)
                if seen < faults.sth_fail_first:
                    self.fail_counts[key] = seen + 1
                    return "error"
            draw = self.rng.random()
            if draw < faults.sth_error_rate:
                return "error"
            if draw < faults.sth_error_rate + faults.sth_timeout_rate:
                return "timeout"
            return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def _send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _fault_body(component: str, path: str, status: int) -> Any:
    if component == "sth":
        if path.startswith("/STH/v2"):
            return {"error": "InternalServer Error", "description": "sandbox: injected fault"}
        return {
            "statusCode": status,
            "error": "Internal Server Error",
            "message": "An internal server error occurred",
        }
    if component == "orion":
        return {"error": "ServiceUnavailable", "description": "sandbox: injected outage"}
    return {"name": "SERVICE_UNAVAILABLE", "message": "sandbox: injected outage"}


class SandboxMiddleware:
    """Raw-path routing, request log and fault injection around one component app."""

    def __init__(self, app: ASGIApp, component: str, state: SandboxState) -> None:
        self.app = app
        self.component = component
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        scope["path"] = path
        if path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        record = self.state.next_record(
            component=self.component,
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            service=_header(scope, b"fiware-service"),
            servicepath=_header(scope, b"fiware-servicepath"),
        )
        started = time.perf_counter()
        status_holder: dict[str, int] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        scope[RECORD_KEY] = record
        try:
            fault = self._fault_for(scope["method"], path, record.query)
            record.fault = fault
            if fault == "down":
                status = self.state.faults.down_status
                await _send_json(send_wrapper, status, _fault_body(self.component, path, status))
            elif fault == "error":
                status = self.state.faults.sth_error_status
                await _send_json(send_wrapper, status, _fault_body(self.component, path, status))
            elif fault == "timeout":
                await asyncio.sleep(self.state.faults.sth_timeout_seconds)
                await _send_json(send_wrapper, 504, {"error": "GatewayTimeout", "description": "sandbox"})
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            record.status = status_holder.get("status", 0)
            record.duration_ms = (time.perf_counter() - started) * 1000

    def _fault_for(self, method: str, path: str, query: str) -> str | None:
        faults = self.state.faults
        if self.component == "orion" and faults.orion_down:
            return "down"
        if self.component == "iota" and faults.iot_agent_down:
            return "down"
        if self.component == "sth" and method == "GET" and path.startswith("/STH/"):
            params = parse_qs(query)
            offsets = params.get("hOffset")
            offset = int(offsets[0]) if offsets and offsets[0].isdigit() else None
            return self.state.pick_sth_fault(f"{path}?{query}", offset, _date_param(params.get("dateFrom")))
        return None


def _date_param(values: list[str] | None) -> datetime | None:
    if not values:
        return None
    try:
        parsed = datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def correlator(request_headers: Any) -> str:
    """Echo ``Fiware-Correlator`` or make a new one."""
    value = request_headers.get("fiware-correlator")
    return str(value) if value else str(uuid.uuid4())
