"""``/v2/entities/{id}/attrs``: read and write the attributes of one entity (``?type=`` narrows it).

* ``GET .../attrs[?options=keyValues]`` → 200, the entity without ``id`` and ``type``.
* ``POST .../attrs`` merges (append); with ``options=append`` an existing attribute is 422.
* ``PATCH .../attrs`` merges; an attribute the entity lacks is 422 ``do not exist``.
* ``PUT .../attrs`` replaces all attributes. All three answer 204 and notify the changes.
* ``GET .../attrs/{name}`` → 200 ``{type, value, metadata}``; ``DELETE .../attrs/{name}`` → 204
  (no notification); 404 when the entity lacks it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from local.fiware_sandbox.common import unq
from local.fiware_sandbox.orion.deps import Context
from local.fiware_sandbox.orion.entities import requested_entity
from local.fiware_sandbox.orion.ngsi import OrionError, options_of, parse_attrs, write_request
from local.fiware_sandbox.orion.store import Attrs, Doc, merge, render, unpack

WriteMode = Literal["append", "patch", "replace"]

#: The write mode of each method of ``.../attrs``.
WRITE_MODES: dict[str, WriteMode] = {"POST": "append", "PATCH": "patch", "PUT": "replace"}

router = APIRouter()


def apply_attrs(
    doc: Doc, current: Attrs, attrs: Attrs, mode: WriteMode, options: set[str]
) -> tuple[Attrs, set[str]]:
    """The attributes of entity ``doc`` after writing ``attrs`` over ``current`` in ``mode``, and the
    names that changed (``current`` may be changed in place).

    ``append`` with ``options=append`` refuses existing names, ``patch`` refuses missing ones
    (422, naming them sorted); ``replace`` drops the attributes not in ``attrs`` and counts every
    old and new name as changed.
    """
    if mode == "append" and "append" in options:
        clash = sorted(set(attrs) & set(current))
        if clash:
            raise OrionError(
                422,
                "Unprocessable",
                "one or more of the attributes in the request already exist: "
                f"{doc['id']}/{doc['type']} - "
                f"[ {', '.join(clash)} ]",
            )
    if mode == "patch":
        missing = sorted(set(attrs) - set(current))
        if missing:
            raise OrionError(
                422,
                "Unprocessable",
                f"do not exist: {doc['id']}/{doc['type']} - [ {', '.join(missing)} ]",
            )
    if mode == "replace":
        return dict(attrs), set(attrs) | set(current)
    return current, merge(current, attrs)


@router.get("/v2/entities/{entity_id}/attrs")
def get_attrs(request: Request, entity_id: str, ctx: Context) -> Response:
    doc = requested_entity(request, ctx.entities, entity_id, write=False)
    rendered = render(doc, key_values="keyValues" in options_of(request))
    rendered.pop("id")
    rendered.pop("type")
    return JSONResponse(rendered)


@router.api_route("/v2/entities/{entity_id}/attrs", methods=list(WRITE_MODES))
async def write_attrs(request: Request, entity_id: str, ctx: Context) -> Response:
    """``POST``/``PATCH``/``PUT .../attrs``: the checks, :func:`apply_attrs` in the method's
    :data:`WRITE_MODES` mode, save, notify."""
    service, servicepath, body, options = await write_request(request, "attributes")
    doc = ctx.entities.find(service, [servicepath], unq(entity_id), request.query_params.get("type"))
    attrs = parse_attrs(body, "keyValues" in options)
    current, changed = apply_attrs(doc, unpack(doc), attrs, WRITE_MODES[request.method], options)
    ctx.entities.save(doc, current)
    ctx.notifier.enqueue(service, servicepath, dict(doc), changed)
    return Response(status_code=204)


@router.get("/v2/entities/{entity_id}/attrs/{attr_name}")
def get_attr(request: Request, entity_id: str, attr_name: str, ctx: Context) -> Response:
    doc = requested_entity(request, ctx.entities, entity_id, write=False)
    attr = unpack(doc).get(unq(attr_name))
    if attr is None:
        raise OrionError(404, "NotFound", "The entity does not have such an attribute")
    return JSONResponse(attr)


@router.delete("/v2/entities/{entity_id}/attrs/{attr_name}")
def delete_attr(request: Request, entity_id: str, attr_name: str, ctx: Context) -> Response:
    doc = requested_entity(request, ctx.entities, entity_id, write=True)
    attrs = unpack(doc)
    if attrs.pop(unq(attr_name), None) is None:
        raise OrionError(404, "NotFound", "The entity does not have such an attribute")
    ctx.entities.save(doc, attrs)
    return Response(status_code=204)
