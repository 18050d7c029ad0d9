"""The sandbox control API, mounted on all three ports under ``/_sandbox``.

* ``GET /_sandbox/faults`` → the current :class:`FaultConfig`.
* ``POST /_sandbox/faults`` with a (partial) FaultConfig body → replaces the whole configuration
  (absent fields take their defaults) and resets the ``sth_fail_first`` counters.
* ``DELETE /_sandbox/faults`` → no faults (and the STH cost model off, the server's page size).
  The fault configuration also holds the STH settings: ``sth_max_page_size`` and the cost model
  (``sth_cost_model``, ``sth_cost_ms_per_document``, ``sth_cost_ms_per_skipped``,
  ``sth_cost_base_ms``, ``sth_query_pool_size``; see ``sth_cost.py``).
* ``GET /_sandbox/sth/stats`` → ``{raw_requests, served, abandoned, in_flight, queued,
  peak_in_flight, peak_queued, pool_size, cost_model}``: the STH raw-data queries.
* ``DELETE /_sandbox/sth/stats`` → zeroes the totals; the peaks restart from the current values.
* ``GET /_sandbox/requests?component=sth|orion|iota&since=<seq>&method=&path_contains=&limit=``
  → ``{"requests": [{seq, time, component, method, path (raw, still percent-encoded), query,
  service, servicepath, status, fault, duration_ms, queue_ms, cost_ms, client_gone}], "last_seq": N}``.
* ``DELETE /_sandbox/requests`` → clears the log.
* ``POST /_sandbox/drain?timeout=5`` → waits until queued Orion notifications are delivered.
* ``POST /_sandbox/sth/seed`` with ``{service, servicepath, entity_id, entity_type, attr_name,
  attr_type, points: [{recvTime, attrValue}], replace}`` → stores raw points directly.
* ``GET /_sandbox/info`` → ports, database, versions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from local.fiware_sandbox import sth
from local.fiware_sandbox.common import FaultConfig, SandboxState


class SeedPoint(BaseModel):
    recvTime: str  # noqa: N815 - wire name
    attrValue: Any = None  # noqa: N815 - wire name


class SeedRequest(BaseModel):
    service: str
    servicepath: str = "/"
    entity_id: str
    entity_type: str
    attr_name: str
    attr_type: str = "Number"
    points: list[SeedPoint] = Field(default_factory=list)
    replace: bool = True


def build_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox")

    @router.get("/faults")
    def get_faults() -> dict[str, Any]:
        return state.faults.model_dump()

    # async: on the event loop, where a larger query pool hands its free slots to the queue
    @router.post("/faults")
    async def set_faults(config: FaultConfig) -> dict[str, Any]:
        state.set_faults(config)
        state.sth_pool.wake()
        return state.faults.model_dump()

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        state.set_faults(FaultConfig())
        state.sth_pool.wake()
        return state.faults.model_dump()

    def sth_stats() -> dict[str, Any]:
        return {
            **state.sth_pool.stats(),
            "pool_size": state.faults.sth_query_pool_size,
            "cost_model": state.faults.sth_cost_model,
        }

    @router.get("/sth/stats")
    async def get_sth_stats() -> dict[str, Any]:
        return sth_stats()

    @router.delete("/sth/stats")
    async def reset_sth_stats() -> dict[str, Any]:
        state.sth_pool.reset()
        return sth_stats()

    @router.get("/requests")
    def requests(
        component: str | None = None,
        since: int = 0,
        method: str | None = None,
        path_contains: str | None = None,
        limit: int = 10_000,
    ) -> dict[str, Any]:
        with state.lock:
            records = list(state.log)
            last = state.seq
        out = []
        for record in records:
            if record.seq <= since:
                continue
            if component and record.component != component:
                continue
            if method and record.method != method.upper():
                continue
            if path_contains and path_contains not in record.path:
                continue
            out.append(record.to_json())
            if len(out) >= limit:
                break
        return {"requests": out, "last_seq": last}

    @router.delete("/requests")
    def clear_requests() -> dict[str, Any]:
        with state.lock:
            state.log.clear()
        return {"last_seq": state.seq}

    @router.post("/drain")
    def drain(timeout: float = 5.0) -> JSONResponse:
        done = state.notifier.drain(timeout) if state.notifier else True
        return JSONResponse({"drained": done}, status_code=200 if done else 504)

    @router.post("/sth/seed")
    def seed(request: SeedRequest) -> dict[str, Any]:
        points = [(sth.parse_time(p.recvTime), p.attrValue) for p in request.points]
        stored = sth.store_points(
            state,
            request.service,
            request.servicepath,
            request.entity_id,
            request.entity_type,
            request.attr_name,
            request.attr_type,
            points,
            replace=request.replace,
        )
        return {"stored": stored}

    @router.get("/info")
    def info() -> dict[str, Any]:
        return {"ports": state.ports, "database": state.db.name, "max_page_size": state.max_page_size()}

    return router
