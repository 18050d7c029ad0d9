"""IoT Agent (iotagent-node-lib 4.x + JSON agent) north-port double: config groups, devices,
``/iot/about``, ``/version``, ``/ready``.

Behaviour follows ``fiware-contract.md`` §3: both tenant headers mandatory (400
``MISSING_HEADERS``), ``{name, message}`` error bodies, **201** ``{}`` on creates, **204** on
updates/deletes, 409 ``DUPLICATE_GROUP`` (``(resource, apikey)`` unique across services) and
``DUPLICATE_DEVICE_ID``, ``{"count": <TOTAL>, "devices": [...]}`` listings (200 when empty),
unknown group keys such as ``cbroker`` accepted and dropped, default entity name
``<entity_type>:<device_id>``, stored service lowercased. The south (measure) port is not emulated.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from local.fiware_sandbox.common import SandboxState, unq

LIB_VERSION = "4.14.0"
VERSION = "3.14.0"
GROUP_FIELDS = {
    "apikey",
    "resource",
    "entity_type",
    "cbHost",
    "trust",
    "timestamp",
    "timezone",
    "attributes",
    "lazy",
    "commands",
    "static_attributes",
    "internal_attributes",
    "explicitAttrs",
    "entityNameExp",
    "defaultEntityNameConjunction",
    "autoprovision",
    "payloadType",
    "transport",
    "endpoint",
    "ngsiVersion",
    "storeLastMeasure",
    "useCBflowControl",
    "cmdMode",
    "description",
    "expressionLanguage",
}
DEVICE_FIELDS = {
    "device_id",
    "entity_name",
    "entity_type",
    "apikey",
    "protocol",
    "transport",
    "endpoint",
    "timezone",
    "timestamp",
    "attributes",
    "lazy",
    "commands",
    "static_attributes",
    "internal_attributes",
    "explicitAttrs",
    "ngsiVersion",
    "payloadType",
    "useCBflowControl",
    "storeLastMeasure",
    "cmdMode",
    "polling",
}
ATTRIBUTE_KEYS = {
    "object_id",
    "name",
    "type",
    "expression",
    "skipValue",
    "entity_name",
    "entity_type",
    "metadata",
}
LAZY_KEYS = {"object_id", "name", "type"}
COMMAND_KEYS = {
    "object_id",
    "name",
    "type",
    "value",
    "expression",
    "payloadType",
    "contentType",
    "headers",
    "mqtt",
}
FORBIDDEN = set("<>();'=\"")


class IotaError(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def wrong_syntax() -> IotaError:
    return IotaError(400, "WRONG_SYNTAX", "Wrong syntax in request: Errors found validating request.")


def tenant_of(request: Request) -> tuple[str, str]:
    missing = [h for h in ("fiware-service", "fiware-servicepath") if not request.headers.get(h)]
    if missing:
        raise IotaError(
            400, "MISSING_HEADERS", f"Some headers were missing from the request: {json.dumps(missing)}"
        )
    return request.headers["fiware-service"].lower(), request.headers["fiware-servicepath"]


def _check_attr_list(items: Any, allowed: set[str]) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        raise wrong_syntax()
    for item in items:
        if not isinstance(item, dict) or set(item) - allowed:
            raise wrong_syntax()
        for key in ("object_id", "name", "type"):
            value = item.get(key)
            if value is not None and (not isinstance(value, str) or any(c in FORBIDDEN for c in value)):
                raise wrong_syntax()


def ensure_indexes(state: SandboxState) -> None:
    state.db["iota_groups"].create_index([("resource", ASCENDING), ("apikey", ASCENDING)], unique=True)
    state.db["iota_devices"].create_index(
        [("service", ASCENDING), ("subservice", ASCENDING), ("apikey", ASCENDING), ("device_id", ASCENDING)],
        unique=True,
    )
    state.db["iota_devices"].create_index(
        [("service", ASCENDING), ("subservice", ASCENDING), ("seq", ASCENDING)]
    )


def build_app(state: SandboxState) -> FastAPI:  # noqa: C901 - one route table
    app = FastAPI(title="IoT Agent sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    groups = state.db["iota_groups"]
    devices = state.db["iota_devices"]

    @app.exception_handler(IotaError)
    async def iota_error(_request: Request, exc: IotaError) -> JSONResponse:
        return JSONResponse({"name": exc.name, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(404)
    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"name": "NOT_FOUND", "message": "Route not found"}, status_code=404)

    async def body_of(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            raise wrong_syntax() from None

    def about() -> dict[str, Any]:
        return {
            "libVersion": LIB_VERSION,
            "port": state.ports.get("iota", 4041),
            "baseRoot": "/",
            "version": VERSION,
        }

    app.add_api_route("/iot/about", about, methods=["GET"])
    app.add_api_route("/version", about, methods=["GET"])

    @app.get("/ready")
    def ready() -> dict[str, Any]:
        return {}

    # --------------------------------------------------------------------------------- groups

    def render_group(doc: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(doc["body"])
        return {**body, "service": doc["service"], "subservice": doc["subservice"], "_id": str(doc["_id"])}

    def group_routes(prefix: str, key: str) -> None:
        async def create(request: Request) -> Response:
            service, subservice = tenant_of(request)
            payload = await body_of(request)
            items = payload.get(key) if isinstance(payload, dict) else None
            if not isinstance(items, list) or not items:
                raise wrong_syntax()
            for item in items:
                if not isinstance(item, dict) or not item.get("apikey") or not item.get("resource"):
                    raise wrong_syntax()
                if not item.get("entity_type"):
                    raise IotaError(
                        400,
                        "MISSING_CONFIG_PARAMS",
                        "Mandatory configuration parameters missing: entity_type",
                    )
                _check_attr_list(item.get("attributes"), ATTRIBUTE_KEYS)
                _check_attr_list(item.get("lazy"), LAZY_KEYS)
                _check_attr_list(item.get("commands"), COMMAND_KEYS)
            for item in items:
                body = {k: v for k, v in item.items() if k in GROUP_FIELDS}
                try:
                    groups.insert_one(
                        {
                            "service": service,
                            "subservice": subservice,
                            "resource": item["resource"],
                            "apikey": item["apikey"],
                            "body": json.dumps(body),
                        }
                    )
                except DuplicateKeyError:
                    raise IotaError(
                        409,
                        "DUPLICATE_GROUP",
                        f"A device configuration already exists for resource {item['resource']} and API Key "
                        f"{item['apikey']}",
                    ) from None
            return JSONResponse({}, status_code=201)

        def listing(request: Request) -> Response:
            service, subservice = tenant_of(request)
            query: dict[str, Any] = {"service": service}
            cursor: Any
            if subservice == "/*":
                params = request.query_params
                cursor = groups.find(query).sort("_id", ASCENDING)
                if params.get("offset", "").isdigit():
                    cursor = cursor.skip(int(params["offset"]))
                if params.get("limit", "").isdigit():
                    cursor = cursor.limit(int(params["limit"]))
            else:
                query["subservice"] = subservice
                cursor = groups.find(query).sort("_id", ASCENDING)
            items = [render_group(d) for d in cursor]
            return JSONResponse({"count": groups.count_documents(query), key: items})

        def locate(request: Request) -> dict[str, Any]:
            service, subservice = tenant_of(request)
            resource, apikey = request.query_params.get("resource"), request.query_params.get("apikey")
            missing = [n for n, v in (("resource", resource), ("apikey", apikey)) if not v]
            if missing:
                raise IotaError(
                    400,
                    "MISSING_HEADERS",
                    f"Some headers were missing from the request: {json.dumps(missing)}",
                )
            doc = groups.find_one({"resource": resource, "apikey": apikey})
            if doc is None:
                raise IotaError(
                    404,
                    "DEVICE_GROUP_NOT_FOUND",
                    'Couldn\'t find device group for fields: ["resource","apikey"]',
                )
            if doc["service"] != service or doc["subservice"] != subservice:
                raise IotaError(
                    403,
                    "MISMATCHED_SERVICE",
                    "The declared service didn't match the stored one in the entity",
                )
            return doc

        async def update(request: Request) -> Response:
            doc = locate(request)
            patch = await body_of(request)
            if not isinstance(patch, dict):
                raise wrong_syntax()
            body = {**json.loads(doc["body"]), **{k: v for k, v in patch.items() if k in GROUP_FIELDS}}
            groups.update_one({"_id": doc["_id"]}, {"$set": {"body": json.dumps(body)}})
            return Response(status_code=204)

        def delete(request: Request) -> Response:
            doc = locate(request)
            groups.delete_one({"_id": doc["_id"]})
            if request.query_params.get("device") == "true":
                devices.delete_many(
                    {"service": doc["service"], "subservice": doc["subservice"], "apikey": doc["apikey"]}
                )
            return Response(status_code=204)

        app.add_api_route(prefix, create, methods=["POST"])
        app.add_api_route(prefix, listing, methods=["GET"])
        app.add_api_route(prefix, update, methods=["PUT"])
        app.add_api_route(prefix, delete, methods=["DELETE"])

    group_routes("/iot/groups", "groups")
    group_routes("/iot/services", "services")

    # -------------------------------------------------------------------------------- devices

    def render_device(doc: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(doc["body"])
        out = {"device_id": doc["device_id"], "service": doc["service"], "service_path": doc["subservice"]}
        out.update({k: v for k, v in body.items() if v is not None and k != "device_id"})
        for key in ("attributes", "lazy", "commands", "static_attributes"):
            out.setdefault(key, [])
        return out

    @app.post("/iot/devices")
    async def create_devices(request: Request) -> Response:
        service, subservice = tenant_of(request)
        payload = await body_of(request)
        items = payload.get("devices") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise wrong_syntax()
        for item in items:
            if not isinstance(item, dict):
                raise wrong_syntax()
            if not item.get("device_id"):
                raise IotaError(
                    400, "MISSING_ATTRIBUTES", "Some of the required attributes were missing: device_id"
                )
            _check_attr_list(item.get("attributes"), ATTRIBUTE_KEYS)
            _check_attr_list(item.get("lazy"), LAZY_KEYS)
            _check_attr_list(item.get("commands"), COMMAND_KEYS)
        for item in items:
            body = {k: v for k, v in item.items() if k in DEVICE_FIELDS}
            group = None
            if body.get("apikey"):
                group = groups.find_one(
                    {"service": service, "subservice": subservice, "apikey": body["apikey"]}
                )
            group_body = json.loads(group["body"]) if group else {}
            body.setdefault("entity_type", group_body.get("entity_type") or "Thing")
            body.setdefault("entity_name", f"{body['entity_type']}:{body['device_id']}")
            try:
                devices.insert_one(
                    {
                        "service": service,
                        "subservice": subservice,
                        "apikey": body.get("apikey") or "",
                        "device_id": body["device_id"],
                        "seq": time.time_ns(),
                        "body": json.dumps(body),
                    }
                )
            except DuplicateKeyError:
                raise IotaError(
                    409,
                    "DUPLICATE_DEVICE_ID",
                    f"A device with the same pair (Service, DeviceId) was found: {body['device_id']}",
                ) from None
        return JSONResponse({}, status_code=201)

    @app.get("/iot/devices")
    def list_devices(request: Request) -> Response:
        service, subservice = tenant_of(request)
        query = {"service": service, "subservice": subservice}
        cursor = devices.find(query).sort("seq", ASCENDING)
        params = request.query_params
        if params.get("offset", "").isdigit():
            cursor = cursor.skip(int(params["offset"]))
        if params.get("limit", "").isdigit():
            cursor = cursor.limit(int(params["limit"]))
        return JSONResponse(
            {"count": devices.count_documents(query), "devices": [render_device(d) for d in cursor]}
        )

    def find_device(request: Request, device_id: str) -> dict[str, Any]:
        service, subservice = tenant_of(request)
        query: dict[str, Any] = {"service": service, "subservice": subservice, "device_id": unq(device_id)}
        if request.query_params.get("apikey"):
            query["apikey"] = request.query_params["apikey"]
        doc = devices.find_one(query)
        if doc is None:
            raise IotaError(404, "DEVICE_NOT_FOUND", f"No device was found with id:{unq(device_id)}")
        return doc

    @app.get("/iot/devices/{device_id}")
    def get_device(request: Request, device_id: str) -> Response:
        return JSONResponse(render_device(find_device(request, device_id)))

    @app.put("/iot/devices/{device_id}")
    async def update_device(request: Request, device_id: str) -> Response:
        doc = find_device(request, device_id)
        patch = await body_of(request)
        if not isinstance(patch, dict):
            raise wrong_syntax()
        if "device_id" in patch:
            raise IotaError(
                400,
                "BAD_REQUEST",
                "Request error connecting to the Context Broker: device_id cannot be updated",
            )
        body = {**json.loads(doc["body"]), **{k: v for k, v in patch.items() if k in DEVICE_FIELDS}}
        devices.update_one({"_id": doc["_id"]}, {"$set": {"body": json.dumps(body)}})
        return Response(status_code=204)

    @app.delete("/iot/devices/{device_id}")
    def delete_device(request: Request, device_id: str) -> Response:
        doc = find_device(request, device_id)
        devices.delete_one({"_id": doc["_id"]})
        return Response(status_code=204)

    @app.post("/iot/op/delete")
    async def delete_many(request: Request) -> Response:
        service, subservice = tenant_of(request)
        payload = await body_of(request)
        missing = False
        for item in (payload or {}).get("devices", []):
            result = devices.delete_one(
                {
                    "service": service,
                    "subservice": subservice,
                    "device_id": item.get("deviceId"),
                    "apikey": item.get("apikey") or "",
                }
            )
            missing = missing or result.deleted_count == 0
        if missing:
            raise IotaError(404, "DEVICE_NOT_FOUND", "No device was found")
        return Response(status_code=204)

    return app
