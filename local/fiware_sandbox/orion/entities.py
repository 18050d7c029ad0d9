"""``/v2/entities``: list, create (``options=upsert``), read and delete entities.

* ``GET /v2/entities?type=&id=&idPattern=&attrs=&limit=&offset=&options=keyValues,count`` → 200
  with the entities in creation order (``limit`` 1-1000, default 20); ``Fiware-Total-Count`` with
  ``options=count``.
* ``POST /v2/entities`` → 201 + ``Location``; 422 ``Already Exists`` for an existing entity unless
  ``options=upsert``, which merges the attributes and answers 204 (also when it creates).
* ``GET /v2/entities/{id}?type=&attrs=&options=keyValues`` → 200; 404 / 409 when the id matches
  no / several entities.
* ``DELETE /v2/entities/{id}?type=`` → 204.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pymongo.errors import DuplicateKeyError
from starlette.datastructures import QueryParams

from local.fiware_sandbox.common import unq
from local.fiware_sandbox.orion.deps import Context
from local.fiware_sandbox.orion.ngsi import (
    OrionError,
    bad,
    check_id,
    options_of,
    parse_attrs,
    servicepaths_of,
    sp_query,
    tenant_of,
    write_request,
)
from local.fiware_sandbox.orion.store import Doc, EntityStore, entity_key, merge, render, unpack

router = APIRouter()


def pagination(params: QueryParams) -> tuple[int, int]:
    """``(limit, offset)`` of an entity listing; 400 unless ``1 <= limit <= 1000`` and ``offset >= 0``
    are decimal numbers (defaults 20 and 0)."""
    limit_raw, offset_raw = params.get("limit", "20"), params.get("offset", "0")
    if not limit_raw.isdigit() or int(limit_raw) == 0:
        raise bad(f"Bad pagination limit: /{limit_raw}/ [must be a decimal number]")
    if int(limit_raw) > 1000:
        raise bad(f"Bad pagination limit: /{limit_raw}/ [max: 1000]")
    if not offset_raw.isdigit():
        raise bad(f"Bad pagination offset: /{offset_raw}/ [must be a decimal number]")
    return int(limit_raw), int(offset_raw)


def listing_query(service: str, paths: list[str], params: QueryParams) -> dict[str, Any]:
    """The filter of an entity listing: tenant, service paths, comma lists ``type`` and ``id``,
    ``idPattern`` (a regular expression, which wins over ``id``)."""
    query: dict[str, Any] = {"service": service, **sp_query(paths)}
    if params.get("type"):
        query["type"] = {"$in": params["type"].split(",")}
    if params.get("id"):
        query["id"] = {"$in": params["id"].split(",")}
    if params.get("idPattern"):
        query["id"] = {"$regex": params["idPattern"]}
    return query


def requested_entity(request: Request, entities: EntityStore, entity_id: str, *, write: bool) -> Doc:
    """The entity a ``/v2/entities/{id}...`` request names (``?type=`` narrows it), after the tenant
    and service-path checks (``write`` as in :func:`servicepaths_of`); 404/409 as
    :meth:`EntityStore.find`."""
    service = tenant_of(request)
    paths = servicepaths_of(request, write=write)
    return entities.find(service, paths, unq(entity_id), request.query_params.get("type"))


def attrs_filter_of(request: Request) -> list[str] | None:
    """The ``attrs`` query parameter as a list, ``None`` when absent or empty."""
    return request.query_params["attrs"].split(",") if request.query_params.get("attrs") else None


@router.get("/v2/entities")
def list_entities(request: Request, ctx: Context) -> Response:
    service = tenant_of(request)
    paths = servicepaths_of(request, write=False)
    limit, offset = pagination(request.query_params)
    query = listing_query(service, paths, request.query_params)
    options = options_of(request)
    attrs_filter = attrs_filter_of(request)
    docs = ctx.entities.page(query, offset, limit)
    body = [render(doc, key_values="keyValues" in options, attrs_filter=attrs_filter) for doc in docs]
    headers = {}
    if "count" in options:
        headers["Fiware-Total-Count"] = str(ctx.entities.count(query))
    return JSONResponse(body, headers=headers)


@router.post("/v2/entities")
async def create_entity(request: Request, ctx: Context) -> Response:
    service, servicepath, body, options = await write_request(request, "entity")
    entity_id = check_id(body.get("id"), "entity id")
    entity_type = check_id(body.get("type", "Thing"), "entity type")
    attrs = parse_attrs(body, "keyValues" in options)
    location = f"/v2/entities/{entity_id}?type={entity_type}"
    key = entity_key(service, entity_id, entity_type, servicepath)
    existing = ctx.entities.get(key)
    if existing is not None:
        if "upsert" not in options:
            raise OrionError(422, "Unprocessable", "Already Exists")
        current = unpack(existing)
        changed = merge(current, attrs)
        ctx.entities.save(existing, current)
        ctx.notifier.enqueue(service, servicepath, dict(existing), changed)
        return Response(status_code=204, headers={"Location": location})
    try:
        doc = ctx.entities.insert(key, attrs)
    except DuplicateKeyError:
        raise OrionError(422, "Unprocessable", "Already Exists") from None
    ctx.notifier.enqueue(service, servicepath, doc, set(attrs) or {"*"})
    return Response(status_code=204 if "upsert" in options else 201, headers={"Location": location})


@router.get("/v2/entities/{entity_id}")
def get_entity(request: Request, entity_id: str, ctx: Context) -> Response:
    doc = requested_entity(request, ctx.entities, entity_id, write=False)
    attrs_filter = attrs_filter_of(request)
    return JSONResponse(render(doc, key_values="keyValues" in options_of(request), attrs_filter=attrs_filter))


@router.delete("/v2/entities/{entity_id}")
def delete_entity(request: Request, entity_id: str, ctx: Context) -> Response:
    doc = requested_entity(request, ctx.entities, entity_id, write=True)
    ctx.entities.delete(doc)
    return Response(status_code=204)
