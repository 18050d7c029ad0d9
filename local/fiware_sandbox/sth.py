"""STH-Comet double: raw v1/v2 data API, ``/notify`` ingestion, deletes, ``/version``.

Same status codes, headers and error bodies as STH-Comet 2.11 (``fiware-contract.md`` §1):
mandatory tenant headers, strict query validation (unknown parameters → 400), raw-mode selection,
the ``hLimit <= lastN <= config.maxPageSize`` guard, ``fiware-total-count`` only with
``count=true``, ``fiware-correlator`` on JSON answers, v2 key ``value``, v1 ``contextResponses``.

Storage is collection-per-entity like STH (``sth_<hash>`` collections holding
``{recvTime, attrName, attrType, attrValue}``); ``attrValue`` keeps its JSON type. Raw points come
back as real STH returns them: ``{_id, recvTime, attrName, attrType, attrValue}`` (``_id`` the
ObjectId as 24 hex digits, stable per stored point), integral doubles rendered as integers.
An optional cost model (``sth_cost.py``, off by default) makes queries cost what they cost a real
STH: a bounded query pool, a cost per matching and per skipped document, and queries that run to
their end after the client has gone.
Deviations: aggregated mode answers 400 (Chronos never uses it); an NGSIv2 body on ``/notify``
answers 400 instead of never answering.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pymongo import ASCENDING, UpdateOne
from pymongo.collection import Collection
from starlette.concurrency import run_in_threadpool

from local.fiware_sandbox.common import RECORD_KEY, RequestRecord, SandboxState, correlator, unq
from local.fiware_sandbox.sth_cost import query_cost_seconds, run_query

VERSION = "2.11.0"
_INT_PARAMS = ("lastN", "hLimit", "hOffset")
_COMMON_PARAMS = {
    "lastN",
    "hLimit",
    "hOffset",
    "dateFrom",
    "dateTo",
    "filetype",
    "count",
    "aggrMethod",
    "aggrPeriod",
}
_PERIODS = ("month", "day", "hour", "minute", "second")
_METHODS = {"min", "max", "sum", "sum2", "occur", "all"}
COMBINATION_MESSAGE = (
    "A combination of the following query params is required: lastN, hLimit and hOffset, "
    "filetype, or aggrMethod and aggrPeriod"
)
PAGE_GUARD_MESSAGE = "hLimit <= lastN <= config.maxPageSize"


class SthBadRequest(Exception):
    def __init__(self, message: str, source: str = "query") -> None:
        super().__init__(message)
        self.message = message
        self.source = source


# ---------------------------------------------------------------------------------------- storage


def collection_name(service: str, servicepath: str, entity_id: str, entity_type: str) -> str:
    digest = hashlib.sha1(f"{service}\0{servicepath}\0{entity_id}\0{entity_type}".encode()).hexdigest()
    return f"sth_{digest[:24]}"


def raw_collection(
    state: SandboxState, service: str, servicepath: str, entity_id: str, entity_type: str, *, create: bool
) -> Collection[dict[str, Any]] | None:
    name = collection_name(service, servicepath, entity_id, entity_type)
    if name in state.known_series:
        return state.db[name]
    registry = state.db["sth_series"]
    if registry.find_one({"_id": name}, {"_id": 1}) is None:
        if not create:
            return None
        registry.update_one(
            {"_id": name},
            {
                "$set": {
                    "service": service,
                    "servicepath": servicepath,
                    "entityId": entity_id,
                    "entityType": entity_type,
                }
            },
            upsert=True,
        )
        state.db[name].create_index([("attrName", ASCENDING), ("recvTime", ASCENDING)])
    state.known_series.add(name)
    return state.db[name]


def store_points(
    state: SandboxState,
    service: str,
    servicepath: str,
    entity_id: str,
    entity_type: str,
    attr_name: str,
    attr_type: str,
    points: list[tuple[datetime, Any]],
    *,
    replace: bool = False,
) -> int:
    """Store raw points; an existing (recvTime, attrName, attrType) point is overwritten."""
    collection = raw_collection(state, service, servicepath, entity_id, entity_type, create=True)
    assert collection is not None
    if replace:
        collection.delete_many({"attrName": attr_name})
        docs = [
            {"recvTime": t, "attrName": attr_name, "attrType": attr_type, "attrValue": v} for t, v in points
        ]
        for start in range(0, len(docs), 1000):
            collection.insert_many(docs[start : start + 1000], ordered=False)
        _bump(state, collection.name)
        return len(docs)
    ops = [
        UpdateOne(
            {"recvTime": t, "attrName": attr_name, "attrType": attr_type},
            {"$set": {"attrValue": v}},
            upsert=True,
        )
        for t, v in points
    ]
    if ops:
        collection.bulk_write(ops, ordered=True)
    _bump(state, collection.name)
    return len(ops)


def fmt_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    text = value.strip()
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# ------------------------------------------------------------------------------------- validation


def _check_headers(request: Request) -> tuple[str, str]:
    service = request.headers.get("fiware-service")
    if not service:
        raise SthBadRequest('child "fiware-service" fails because [fiware-service is required]', "headers")
    servicepath = request.headers.get("fiware-servicepath")
    if not servicepath:
        raise SthBadRequest(
            'child "fiware-servicepath" fails because [fiware-servicepath is required]', "headers"
        )
    return service, servicepath


def _validate_query(request: Request, v2: bool) -> dict[str, Any]:
    allowed = _COMMON_PARAMS | ({"type"} if v2 else set())
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise SthBadRequest(f'"{key}" is not allowed')
        params[key] = value
    for key in _INT_PARAMS:
        if key in params:
            raw = params[key].strip()
            try:
                number = float(raw)
            except ValueError:
                raise SthBadRequest(f'child "{key}" fails because ["{key}" must be a number]') from None
            if number != int(number):
                raise SthBadRequest(f'child "{key}" fails because ["{key}" must be an integer]')
            if number < 0:
                raise SthBadRequest(
                    f'child "{key}" fails because ["{key}" must be larger than or equal to 0]'
                )
            params[key] = int(number)
    for key in ("dateFrom", "dateTo"):
        if key in params:
            try:
                params[key] = parse_time(params[key])
            except ValueError:
                raise SthBadRequest(
                    f'child "{key}" fails because '
                    f'["{key}" must be a number of milliseconds or valid date string]'
                ) from None
    if "count" in params:
        lowered = params["count"].lower()
        if lowered not in ("true", "false"):
            raise SthBadRequest('child "count" fails because ["count" must be a boolean]')
        params["count"] = lowered == "true"
    if "aggrPeriod" in params and params["aggrPeriod"] not in _PERIODS:
        raise SthBadRequest(
            'child "aggrPeriod" fails because '
            '["aggrPeriod" must be one of [month, day, hour, minute, second]]'
        )
    if "aggrMethod" in params and not set(params["aggrMethod"].split(",")) <= _METHODS:
        raise SthBadRequest(
            'child "aggrMethod" fails because ["aggrMethod" fails to match the required pattern]'
        )
    if v2 and not params.get("type"):
        raise SthBadRequest('child "type" fails because ["type" is required]')
    return params


# ------------------------------------------------------------------------------------------- query


def _bump(state: SandboxState, name: str) -> None:
    state.db["sth_series"].update_one({"_id": name}, {"$inc": {"rev": 1}})


def js_number(value: Any) -> Any:
    """``value`` as STH (JavaScript) renders it: integral doubles become integers (``11``, not
    ``11.0``), inside objects and arrays too; other values are left as they are."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, dict):
        return {key: js_number(item) for key, item in value.items()}
    if isinstance(value, list):
        return [js_number(item) for item in value]
    return value


def _render_point(doc: dict[str, Any]) -> dict[str, Any]:
    """One raw document as STH returns it: every stored field, ``_id`` first (STH's projection
    is passed where the driver expects options, so nothing is projected out)."""
    return {
        "_id": str(doc["_id"]),
        "recvTime": fmt_time(doc["recvTime"]),
        "attrName": doc.get("attrName"),
        "attrType": doc.get("attrType"),
        "attrValue": js_number(doc.get("attrValue")),
    }


def _series_points(state: SandboxState, name: str, attr_name: str) -> list[tuple[datetime, dict[str, Any]]]:
    """All points of one attribute, ascending: ``(recvTime, rendered point)``."""
    registry = state.db["sth_series"].find_one({"_id": name}, {"rev": 1})
    if registry is None:
        return []
    rev = int(registry.get("rev", 0))
    cached = state.series_cache.get((name, attr_name))
    if cached is not None and cached[0] == rev:
        return cached[1]
    docs = list(state.db[name].find({"attrName": attr_name}))
    docs.sort(key=lambda d: d["recvTime"])
    points = [(d["recvTime"], _render_point(d)) for d in docs]
    state.series_cache[(name, attr_name)] = (rev, points)
    return points


def _raw_points(
    state: SandboxState,
    service: str,
    servicepath: str,
    entity_id: str,
    entity_type: str,
    attr_name: str,
    params: dict[str, Any],
) -> tuple[list[dict[str, Any]], int]:
    """Raw-mode selection exactly as ``sthDatabase.getRawData``: lastN wins (the newest N,
    returned ascending), else skip/limit on the ascending order; the count ignores paging."""
    name = collection_name(service, servicepath, entity_id, entity_type)
    points = _series_points(state, name, attr_name)
    if "dateFrom" in params:
        points = points[bisect.bisect_left(points, params["dateFrom"], key=lambda p: p[0]) :]
    if "dateTo" in params:
        points = points[: bisect.bisect_right(points, params["dateTo"], key=lambda p: p[0])]
    total = len(points)
    last_n = params.get("lastN")
    h_limit = params.get("hLimit", 0)
    h_offset = params.get("hOffset", 0)
    if last_n is not None:
        selected = points[-last_n:] if last_n else points
    elif h_limit or h_offset:
        selected = points[h_offset : h_offset + h_limit] if h_limit else points[h_offset:]
    else:
        selected = points
    return [p[1] for p in selected], total


def _error(v2: bool, status: int, message: str, source: str = "query") -> JSONResponse:
    if v2:
        keyword = "BadRequest" if status == 400 else "NotFound" if status == 404 else "InternalServer Error"
        return JSONResponse({"error": keyword, "description": message}, status_code=status)
    reason = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Error")
    body: dict[str, Any] = {"statusCode": status, "error": reason, "message": message}
    if status == 400:
        body["validation"] = {"source": source, "keys": []}
    return JSONResponse(body, status_code=status)


async def _get_data(
    state: SandboxState, request: Request, v2: bool, entity_id: str, entity_type: str | None, attr_name: str
) -> Response:
    try:
        service, servicepath = _check_headers(request)
        params = _validate_query(request, v2)
    except SthBadRequest as exc:
        return _error(v2, 400, exc.message, exc.source)
    if v2:
        entity_type = params["type"]
    assert entity_type is not None
    raw_mode = (
        "lastN" in params
        or ("hLimit" in params and "hOffset" in params)
        or str(params.get("filetype", "")).lower() == "csv"
    )
    if not raw_mode:
        if "aggrMethod" in params and "aggrPeriod" in params:
            return _error(v2, 400, "sandbox: aggregated mode is not implemented")
        return _error(v2, 400, COMBINATION_MESSAGE)
    max_page = state.max_page_size()
    last_n = params.get("lastN")
    h_limit = params.get("hLimit")
    if (
        (last_n and last_n > max_page)
        or (h_limit and h_limit > max_page)
        or (last_n and h_limit and h_limit > last_n)
    ):
        return _error(v2, 400, PAGE_GUARD_MESSAGE)
    points, total = await _query(
        state, request, service, servicepath, entity_id, entity_type, attr_name, params
    )
    # rendered off the event loop (a large answer takes a while), where the query pool runs
    return await run_in_threadpool(
        _data_response, request, v2, params, entity_id, entity_type, attr_name, points, total
    )


def _data_response(
    request: Request,
    v2: bool,
    params: dict[str, Any],
    entity_id: str,
    entity_type: str,
    attr_name: str,
    points: list[dict[str, Any]],
    total: int,
) -> Response:
    if str(params.get("filetype", "")).lower() == "csv":
        if params.get("lastN") is not None:
            points = list(reversed(points))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["attrName", "attrType", "attrValue", "recvTime"])
        for point in points:
            writer.writerow([attr_name, point["attrType"], point["attrValue"], point["recvTime"]])
        filename = f"{attr_name}-{int(time.time() * 1000)}-{len(points)}.csv"
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f"attachment; filename*= utf-8''{filename}"},
        )
    headers = {"fiware-correlator": correlator(request.headers)}
    if params.get("count"):
        headers["fiware-total-count"] = str(total)
    if v2:
        body: dict[str, Any] = {"type": "StructuredValue", "value": points}
    else:
        body = {
            "contextResponses": [
                {
                    "contextElement": {
                        "attributes": [{"name": attr_name, "values": points}],
                        "id": entity_id,
                        "isPattern": False,
                        "type": entity_type,
                    },
                    "statusCode": {"code": "200", "reasonPhrase": "OK"},
                }
            ]
        }
    return JSONResponse(body, headers=headers)


async def _query(
    state: SandboxState,
    request: Request,
    service: str,
    servicepath: str,
    entity_id: str,
    entity_type: str,
    attr_name: str,
    params: dict[str, Any],
) -> tuple[list[dict[str, Any]], int]:
    """The database step of a raw-data request, through the query pool and the cost model
    (``sth_cost.py``) when ``sth_cost_model`` is on; counted in ``GET /_sandbox/sth/stats``."""
    config = state.faults
    skip = 0 if "lastN" in params else int(params.get("hOffset") or 0)
    record: RequestRecord | None = request.scope.get(RECORD_KEY)

    async def compute() -> tuple[list[dict[str, Any]], int]:
        return await run_in_threadpool(
            _raw_points, state, service, servicepath, entity_id, entity_type, attr_name, params
        )

    def report(queue_ms: float, cost_ms: float, gone: bool) -> None:
        if record is not None:
            record.queue_ms, record.cost_ms, record.client_gone = queue_ms, cost_ms, gone

    return await run_query(
        state.sth_pool,
        compute,
        pooled=config.sth_cost_model,
        cost=lambda answer: query_cost_seconds(config, answer[1], skip),
        client_gone=request.is_disconnected,
        report=report,
    )


# ------------------------------------------------------------------------------------------ notify


def ingest_notification(state: SandboxState, service: str, servicepath: str, body: Any) -> int:
    """Store the attributes of an NGSIv1 (legacy) notification; returns how many were stored."""
    stored = 0
    arrival = datetime.now(UTC)
    for response in body.get("contextResponses", []):
        element = response.get("contextElement") or {}
        entity_id = str(element.get("id"))
        entity_type = str(element.get("type"))
        for attribute in element.get("attributes") or []:
            recv = arrival
            for meta in attribute.get("metadatas") or []:
                if meta.get("name") == "TimeInstant":
                    try:
                        recv = parse_time(str(meta.get("value")))
                    except ValueError:
                        recv = arrival
            store_points(
                state,
                service,
                servicepath,
                entity_id,
                entity_type,
                str(attribute.get("name")),
                str(attribute.get("type")),
                [(recv, attribute.get("value"))],
            )
            stored += 1
    return stored


# ---------------------------------------------------------------------------------------------- app


def build_app(state: SandboxState) -> FastAPI:
    app = FastAPI(title="STH-Comet sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/version")
    def version() -> dict[str, str]:
        return {"version": VERSION}

    @app.get("/STH/v1/contextEntities/type/{entity_type}/id/{entity_id}/attributes/{attr_name}")
    async def get_v1(request: Request, entity_type: str, entity_id: str, attr_name: str) -> Response:
        return await _get_data(state, request, False, unq(entity_id), unq(entity_type), unq(attr_name))

    @app.get("/STH/v2/entities/{entity_id}/attrs/{attr_name}")
    async def get_v2(request: Request, entity_id: str, attr_name: str) -> Response:
        return await _get_data(state, request, True, unq(entity_id), None, unq(attr_name))

    @app.post("/notify")
    async def notify(request: Request) -> Response:
        try:
            service, servicepath = _check_headers(request)
        except SthBadRequest as exc:
            return _error(False, 400, exc.message, exc.source)
        try:
            body = await request.json()
        except ValueError:
            return _error(False, 400, "Invalid request payload JSON format", "payload")
        if not isinstance(body, dict) or not isinstance(body.get("contextResponses"), list):
            return _error(False, 400, "sandbox: only NGSIv1 (legacy) notifications are understood", "payload")
        has_attributes = any(
            (r.get("contextElement") or {}).get("attributes") for r in body["contextResponses"]
        )
        if not has_attributes:
            return JSONResponse(
                {
                    "statusCode": 400,
                    "error": "Bad Request",
                    "message": "At least one attribute with an aggregatable value should be included "
                    "in the notification",
                    "validation": {"source": "payload", "keys": ["attributes"]},
                },
                status_code=400,
            )
        await run_in_threadpool(ingest_notification, state, service, servicepath, body)
        return Response(status_code=200, headers={"fiware-correlator": correlator(request.headers)})

    def _delete(
        request: Request, entity_type: str | None, entity_id: str | None, attr: str | None
    ) -> Response:
        try:
            service, servicepath = _check_headers(request)
        except SthBadRequest as exc:
            return _error(False, 400, exc.message, exc.source)
        query: dict[str, Any] = {"service": service, "servicepath": servicepath}
        if entity_id is not None:
            query["entityId"] = entity_id
            query["entityType"] = entity_type
        for series in list(state.db["sth_series"].find(query)):
            if attr is None:
                state.known_series.discard(series["_id"])
                state.db[series["_id"]].drop()
                state.db["sth_series"].delete_one({"_id": series["_id"]})
                state.series_cache = {k: v for k, v in state.series_cache.items() if k[0] != series["_id"]}
            else:
                state.db[series["_id"]].delete_many({"attrName": attr})
                _bump(state, series["_id"])
        return Response(status_code=204)

    @app.delete("/STH/v1/contextEntities")
    def delete_all(request: Request) -> Response:
        return _delete(request, None, None, None)

    @app.delete("/STH/v1/contextEntities/type/{entity_type}/id/{entity_id}")
    def delete_entity(request: Request, entity_type: str, entity_id: str) -> Response:
        return _delete(request, unq(entity_type), unq(entity_id), None)

    @app.delete("/STH/v1/contextEntities/type/{entity_type}/id/{entity_id}/attributes/{attr_name}")
    def delete_attr(request: Request, entity_type: str, entity_id: str, attr_name: str) -> Response:
        return _delete(request, unq(entity_type), unq(entity_id), unq(attr_name))

    @app.exception_handler(404)
    async def not_found(request: Request, _exc: Exception) -> JSONResponse:
        if request.url.path.startswith("/STH/v2"):
            return JSONResponse({"error": "NotFound", "description": "invalid path"}, status_code=404)
        return JSONResponse({"statusCode": 404, "error": "Not Found"}, status_code=404)

    @app.exception_handler(405)
    async def not_allowed(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"statusCode": 404, "error": "Not Found"}, status_code=404)

    return app
