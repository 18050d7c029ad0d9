"""Devices: ``/iot/devices`` and the bulk delete ``/iot/op/delete``.

* ``POST /iot/devices`` ``{"devices": [device, ...]}`` → 201 ``{}``; every device is checked before
  any is stored (``device_id``, attribute lists); unknown fields are dropped; ``entity_type``
  defaults to the tenant's group with the device's ``apikey``, else ``Thing``, and ``entity_name``
  to ``<entity_type>:<device_id>``; 409 ``DUPLICATE_DEVICE_ID``.
* ``GET /iot/devices?offset=&limit=`` → 200 ``{"count": <total>, "devices": [...]}``.
* ``GET|PUT|DELETE /iot/devices/{id}[?apikey=]`` → 200 / 204 / 204; 404 ``DEVICE_NOT_FOUND``; ``PUT``
  merges the known fields and refuses ``device_id`` (400 ``BAD_REQUEST``).
* ``POST /iot/op/delete`` ``{"devices": [{deviceId, apikey}, ...]}`` → 204 once all are deleted,
  404 ``DEVICE_NOT_FOUND`` when any was missing (the others are deleted all the same).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from local.fiware_sandbox.common import unq
from local.fiware_sandbox.iot_agent.checks import (
    DEVICE_FIELDS,
    IotaError,
    body_of,
    items_of,
    paging_of,
    tenant_of,
    validate_devices,
    wrong_syntax,
)
from local.fiware_sandbox.iot_agent.deps import Context
from local.fiware_sandbox.iot_agent.store import DeviceStore, Doc, GroupStore, merged_body, render_device

router = APIRouter()


def provisioned(groups: GroupStore, service: str, subservice: str, item: dict[str, Any]) -> dict[str, Any]:
    """The stored body of device ``item``: its known fields, ``entity_type`` and ``entity_name``
    defaulted as the module docstring says."""
    body = {k: v for k, v in item.items() if k in DEVICE_FIELDS}
    group_type = groups.entity_type_for(service, subservice, body["apikey"]) if body.get("apikey") else None
    body.setdefault("entity_type", group_type or "Thing")
    body.setdefault("entity_name", f"{body['entity_type']}:{body['device_id']}")
    return body


def requested_device(request: Request, devices: DeviceStore, device_id: str) -> Doc:
    """The tenant's device a ``/iot/devices/{id}`` request names (``?apikey=`` narrows it)."""
    service, subservice = tenant_of(request)
    return devices.find(service, subservice, unq(device_id), request.query_params.get("apikey"))


@router.post("/iot/devices")
async def create_devices(request: Request, ctx: Context) -> Response:
    service, subservice = tenant_of(request)
    items = items_of(await body_of(request), "devices")
    validate_devices(items)
    for item in items:
        ctx.devices.insert(service, subservice, provisioned(ctx.groups, service, subservice, item))
    return JSONResponse({}, status_code=201)


@router.get("/iot/devices")
def list_devices(request: Request, ctx: Context) -> Response:
    service, subservice = tenant_of(request)
    offset, limit = paging_of(request)
    total, docs = ctx.devices.listing(service, subservice, offset, limit)
    return JSONResponse({"count": total, "devices": [render_device(d) for d in docs]})


@router.get("/iot/devices/{device_id}")
def get_device(request: Request, device_id: str, ctx: Context) -> Response:
    return JSONResponse(render_device(requested_device(request, ctx.devices, device_id)))


@router.put("/iot/devices/{device_id}")
async def update_device(request: Request, device_id: str, ctx: Context) -> Response:
    doc = requested_device(request, ctx.devices, device_id)
    patch = await body_of(request)
    if not isinstance(patch, dict):
        raise wrong_syntax()
    if "device_id" in patch:
        raise IotaError(
            400,
            "BAD_REQUEST",
            "Request error connecting to the Context Broker: device_id cannot be updated",
        )
    ctx.devices.replace_body(doc, merged_body(doc, patch, DEVICE_FIELDS))
    return Response(status_code=204)


@router.delete("/iot/devices/{device_id}")
def delete_device(request: Request, device_id: str, ctx: Context) -> Response:
    ctx.devices.delete(requested_device(request, ctx.devices, device_id))
    return Response(status_code=204)


@router.post("/iot/op/delete")
async def delete_many(request: Request, ctx: Context) -> Response:
    service, subservice = tenant_of(request)
    payload = await body_of(request)
    missing = False
    for item in (payload or {}).get("devices", []):
        deleted = ctx.devices.delete_id(service, subservice, item.get("deviceId"), item.get("apikey") or "")
        missing = missing or not deleted
    if missing:
        raise IotaError(404, "DEVICE_NOT_FOUND", "No device was found")
    return Response(status_code=204)
