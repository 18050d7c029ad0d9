"""Config groups, served under both of the agent's names for them: ``/iot/groups`` (body key
``groups``) and the older ``/iot/services`` (body key ``services``).

* ``POST`` ``{<key>: [group, ...]}`` → 201 ``{}``; every group is checked before any is stored
  (``apikey``, ``resource``, ``entity_type``, attribute lists); unknown fields are dropped; 409
  ``DUPLICATE_GROUP`` for an existing ``(resource, apikey)``.
* ``GET`` → 200 ``{"count": <total>, <key>: [...]}``; subservice ``/*`` lists every subservice,
  with ``offset``/``limit``.
* ``PUT ?resource=&apikey=`` merges the known fields of the body → 204; ``DELETE ?resource=&apikey=
  [&device=true]`` → 204 (with ``device=true`` also the group's devices). Both answer 400
  ``MISSING_HEADERS`` without ``resource``/``apikey``, 404 for an unknown group, 403 for another
  tenant's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from local.fiware_sandbox.iot_agent.checks import (
    GROUP_FIELDS,
    body_of,
    items_of,
    missing_headers,
    paging_of,
    tenant_of,
    validate_groups,
    wrong_syntax,
)
from local.fiware_sandbox.iot_agent.deps import Context
from local.fiware_sandbox.iot_agent.store import Doc, GroupStore, merged_body, render_group

#: The two paths of the group collection (their body keys are the last segment).
PREFIXES = ("/iot/groups", "/iot/services")

router = APIRouter()


async def create(request: Request, groups: GroupStore, key: str) -> Response:
    """``POST``: validate every group in ``body[key]``, then store them in order."""
    service, subservice = tenant_of(request)
    items = items_of(await body_of(request), key)
    validate_groups(items)
    for item in items:
        groups.insert(service, subservice, {k: v for k, v in item.items() if k in GROUP_FIELDS})
    return JSONResponse({}, status_code=201)


def listing(request: Request, groups: GroupStore, key: str) -> Response:
    """``GET``: ``{"count": total, key: groups}``."""
    service, subservice = tenant_of(request)
    offset, limit = paging_of(request)
    total, docs = groups.listing(service, subservice, offset, limit)
    return JSONResponse({"count": total, key: [render_group(d) for d in docs]})


def locate(request: Request, groups: GroupStore) -> Doc:
    """The group named by the ``resource`` and ``apikey`` query parameters (see :meth:`GroupStore.locate`)."""
    service, subservice = tenant_of(request)
    resource, apikey = request.query_params.get("resource"), request.query_params.get("apikey")
    if not resource or not apikey:
        raise missing_headers([n for n, v in (("resource", resource), ("apikey", apikey)) if not v])
    return groups.locate(service, subservice, resource, apikey)


@router.post("/iot/groups")
async def create_groups(request: Request, ctx: Context) -> Response:
    return await create(request, ctx.groups, "groups")


@router.post("/iot/services")
async def create_services(request: Request, ctx: Context) -> Response:
    return await create(request, ctx.groups, "services")


@router.get("/iot/groups")
def list_groups(request: Request, ctx: Context) -> Response:
    return listing(request, ctx.groups, "groups")


@router.get("/iot/services")
def list_services(request: Request, ctx: Context) -> Response:
    return listing(request, ctx.groups, "services")


async def update_group(request: Request, ctx: Context) -> Response:
    """``PUT``: merge the known fields of the body over the stored group."""
    doc = locate(request, ctx.groups)
    patch = await body_of(request)
    if not isinstance(patch, dict):
        raise wrong_syntax()
    ctx.groups.replace_body(doc, merged_body(doc, patch, GROUP_FIELDS))
    return Response(status_code=204)


def delete_group(request: Request, ctx: Context) -> Response:
    """``DELETE``: remove the group, and its devices with ``device=true``."""
    doc = locate(request, ctx.groups)
    ctx.groups.delete(doc)
    if request.query_params.get("device") == "true":
        ctx.devices.delete_of_group(doc)
    return Response(status_code=204)


for _prefix in PREFIXES:
    router.add_api_route(_prefix, update_group, methods=["PUT"])
    router.add_api_route(_prefix, delete_group, methods=["DELETE"])
