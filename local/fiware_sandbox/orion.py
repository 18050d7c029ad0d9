"""Orion Context Broker (NGSI v2) double: entities, attributes, upsert, batch update, subscriptions
with notification delivery, ``/version``.

Behaviour follows ``fiware-contract.md`` §2: tenant and service-path checks (400 texts), identifier
and forbidden-character checks, 415 on a missing/wrong content type, 201 + ``Location`` on create,
**204** on ``options=upsert``, 422 ``Already Exists``, 404/409 on reads, ``limit`` ≤ 1000,
``Fiware-Total-Count`` with ``options=count``, ``metadata: {}`` on every rendered attribute,
``DateTime`` values normalised to ``.sssZ`` UTC, ``{error, description}`` bodies.

It emulates Orion **3.12**, the last line that still sends ``attrsFormat: "legacy"`` (NGSIv1)
notifications, because that is the only format STH-Comet's ``/notify`` ingests; Orion ≥ 4 rejects
``legacy`` (see the README). Notifications are delivered asynchronously by a worker thread.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from local.fiware_sandbox.common import SandboxState, correlator, unq
from local.fiware_sandbox.sth import fmt_time

VERSION = "3.12.0"
FORBIDDEN = set("<>\"'=;()")
ID_FORBIDDEN = FORBIDDEN | set(" &?/#")
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
ATTRS_FORMATS = {"normalized", "keyValues", "values", "simplifiedNormalized", "simplifiedKeyValues", "legacy"}
RESERVED_ATTRS = {"id", "type", "geo:distance", "*"}


class OrionError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def bad(description: str) -> OrionError:
    return OrionError(400, "BadRequest", description)


# ----------------------------------------------------------------------------------------- checks


def tenant_of(request: Request) -> str:
    service = request.headers.get("fiware-service")
    if service is None or service == "":
        return ""
    if len(service) > 50:
        raise bad("bad length - a tenant name can be max 50 characters long")
    if not NAME_RE.match(service):
        raise bad("bad character in tenant name - only underscore and alphanumeric characters are allowed")
    return service.lower()


def servicepaths_of(request: Request, *, write: bool) -> list[str]:
    raw = request.headers.get("fiware-servicepath")
    if raw is None or raw.strip() == "":
        return ["/"] if write else ["/#"]
    paths = [p.strip() for p in raw.split(",")]
    if len(paths) > 10:
        raise bad("too many service paths - a maximum of ten service paths is allowed")
    if write and len(paths) > 1:
        raise bad("more than one service path in context update request")
    result = []
    for path in paths:
        if not path.startswith("/"):
            raise bad("Only /absolute/ Service Paths allowed [a service path must begin with /]")
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        components = [] if path == "/" else path[1:].split("/")
        if len(components) > 10:
            raise bad("too many components in ServicePath")
        for index, component in enumerate(components):
            if component == "#" and index == len(components) - 1:
                if write and request.method in ("PATCH", "DELETE"):
                    raise bad("a component of ServicePath contains an illegal character")
                continue
            if len(component) > 50:
                raise bad("component-name too long in ServicePath")
            if not NAME_RE.match(component):
                raise bad("a component of ServicePath contains an illegal character")
        result.append(path)
    return result


def sp_query(paths: list[str]) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    for path in paths:
        if path == "/#":
            return {}
        if path.endswith("/#"):
            base = path[:-2]
            clauses.append({"servicepath": base})
            clauses.append({"servicepath": {"$regex": "^" + re.escape(base) + "/"}})
        else:
            clauses.append({"servicepath": path})
    return {"$or": clauses} if len(clauses) > 1 else clauses[0]


def sp_matches(sub_path: str, entity_path: str) -> bool:
    if sub_path == "/#":
        return True
    if sub_path.endswith("/#"):
        base = sub_path[:-2]
        return entity_path == base or entity_path.startswith(base + "/")
    return sub_path == entity_path


def check_id(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise bad(f"Invalid JSON type for {what}")
    if len(value) < 1:
        raise bad(f"{what} length: 0, min length supported: 1")
    if len(value) > 256:
        raise bad(f"{what} length: {len(value)}, max length supported: 256")
    for char in value:
        if ord(char) < 0x21 or ord(char) > 0x7E or char in ID_FORBIDDEN:
            raise bad(f"Invalid characters in {what}")
    return value


def has_forbidden(value: Any) -> bool:
    if isinstance(value, str):
        return any(c in FORBIDDEN for c in value)
    if isinstance(value, dict):
        return any(has_forbidden(k) or has_forbidden(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_forbidden(v) for v in value)
    return False


def default_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, dict | list):
        return "StructuredValue"
    if value is None:
        return "None"
    return "Text"


def normalize_datetime(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise bad(f"date has invalid format in {where}")
    text = value.replace("Z", "+00:00")
    match = re.match(r"^(.*[T ].*)([+-]\d{2})(\d{2})$", text)
    if match and ":" not in match.group(2) + match.group(3):
        text = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    if re.search(r"[+-]\d{2}$", text) and "T" in text:
        text += ":00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad(f"date has invalid format in {where}") from None
    return fmt_time(parsed)


def normalize_attr(name: str, raw: Any, key_values: bool) -> dict[str, Any]:
    """Validate one incoming attribute and return ``{type, value, metadata}``."""
    check_id(name, "attribute name")
    if name in RESERVED_ATTRS:
        raise bad("Invalid characters in attribute name")
    if key_values or not isinstance(raw, dict):
        raw = {"value": raw}
    value = raw.get("value")
    attr_type = raw.get("type")
    if attr_type is None:
        attr_type = default_type(value)
    check_id(attr_type, "attribute type")
    metadata_in = raw.get("metadata") or {}
    if not isinstance(metadata_in, dict):
        raise bad("metadata must be a JSON object")
    unrestricted = attr_type == "TextUnrestricted" or (
        isinstance(metadata_in.get("TextUnrestricted"), dict)
        and metadata_in["TextUnrestricted"].get("value") is True
    )
    if not unrestricted and has_forbidden(value):
        raise bad("Invalid characters in attribute value")
    if attr_type in ("DateTime", "ISO8601"):
        value = normalize_datetime(value, "attribute value")
    metadata: dict[str, Any] = {}
    for meta_name, meta in metadata_in.items():
        check_id(meta_name, "metadata name")
        if not isinstance(meta, dict):
            meta = {"value": meta}
        meta_value = meta.get("value")
        meta_type = meta.get("type") or default_type(meta_value)
        check_id(meta_type, "metadata type")
        if has_forbidden(meta_value):
            raise bad("Invalid characters in metadata value")
        if meta_type in ("DateTime", "ISO8601"):
            meta_value = normalize_datetime(meta_value, "metadata value")
        metadata[meta_name] = {"type": meta_type, "value": meta_value}
    return {"type": attr_type, "value": value, "metadata": metadata}


# ---------------------------------------------------------------------------------------- storage


def _pack(attrs: dict[str, dict[str, Any]]) -> str:
    return json.dumps(attrs)


def _unpack(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = json.loads(doc.get("attrs") or "{}")
    return loaded


def render(
    doc: dict[str, Any], *, key_values: bool = False, attrs_filter: list[str] | None = None
) -> dict[str, Any]:
    attrs = _unpack(doc)
    out: dict[str, Any] = {"id": doc["id"], "type": doc["type"]}
    for name, attr in attrs.items():
        if attrs_filter and name not in attrs_filter:
            continue
        out[name] = attr["value"] if key_values else attr
    return out


# --------------------------------------------------------------------------------------- notifier


class Notifier:
    """Delivers subscription notifications from a worker thread (as Orion does, asynchronously)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.queue: queue.Queue[tuple[str, str, dict[str, Any], set[str]]] = queue.Queue()
        self.client = httpx.Client(timeout=5.0)
        self.thread = threading.Thread(target=self._run, name="orion-notifier", daemon=True)
        self.thread.start()
        self.counter = 0

    def enqueue(self, service: str, servicepath: str, doc: dict[str, Any], changed: set[str]) -> None:
        if changed:
            self.queue.put((service, servicepath, doc, changed))

    def drain(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                self._deliver(*item)
            except Exception:  # noqa: BLE001 - a broken notification must not kill the worker
                pass
            finally:
                self.queue.task_done()

    def _deliver(self, service: str, servicepath: str, doc: dict[str, Any], changed: set[str]) -> None:
        subs = self.state.db["orion_subscriptions"]
        for sub_doc in subs.find({"service": service}):
            sub = json.loads(sub_doc["body"])
            if not sp_matches(sub_doc["servicepath"], servicepath) or sub.get("status", "active") != "active":
                continue
            if sub.get("expires") and sub["expires"] < fmt_time(datetime.now(UTC)):
                continue
            if not _subject_matches(sub["subject"].get("entities", []), doc["id"], doc["type"]):
                continue
            trigger = (sub["subject"].get("condition") or {}).get("attrs") or []
            if trigger and not (set(trigger) & changed):
                continue
            throttling = sub.get("throttling")
            last = sub_doc.get("lastNotificationEpoch")
            if throttling and last and time.time() - last < throttling:
                continue
            self._send(sub_doc, sub, service, servicepath, doc)

    def _send(
        self,
        sub_doc: dict[str, Any],
        sub: dict[str, Any],
        service: str,
        servicepath: str,
        doc: dict[str, Any],
    ) -> None:
        notification = sub["notification"]
        wanted = notification.get("attrs") or []
        attrs = {k: v for k, v in _unpack(doc).items() if not wanted or k in wanted}
        fmt = notification.get("attrsFormat", "normalized")
        if fmt == "legacy":
            body: Any = {
                "subscriptionId": sub_doc["_id"],
                "originator": "localhost",
                "contextResponses": [
                    {
                        "contextElement": {
                            "attributes": [
                                {
                                    "name": name,
                                    "type": attr["type"],
                                    "value": attr["value"],
                                    **(
                                        {
                                            "metadatas": [
                                                {"name": m, "type": meta["type"], "value": meta["value"]}
                                                for m, meta in attr["metadata"].items()
                                            ]
                                        }
                                        if attr["metadata"]
                                        else {}
                                    ),
                                }
                                for name, attr in attrs.items()
                            ],
                            "id": doc["id"],
                            "isPattern": "false",
                            "type": doc["type"],
                        },
                        "statusCode": {"code": "200", "reasonPhrase": "OK"},
                    }
                ],
            }
        else:
            key_values = fmt in ("keyValues", "simplifiedKeyValues")
            entity: dict[str, Any] = {"id": doc["id"], "type": doc["type"]}
            for name, attr in attrs.items():
                entity[name] = attr["value"] if key_values else attr
            body = (
                entity
                if fmt.startswith("simplified")
                else {"subscriptionId": sub_doc["_id"], "data": [entity]}
            )
        self.counter += 1
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Fiware-Servicepath": servicepath,
            "Fiware-Correlator": f"{secrets.token_hex(8)}; cbnotif={self.counter}",
            "User-Agent": f"orion/{VERSION} libcurl/7.74.0",
        }
        if fmt != "legacy":
            headers["Ngsiv2-AttrsFormat"] = fmt
        if service:
            headers["Fiware-Service"] = service
        http = notification.get("http") or notification.get("httpCustom") or {}
        now = time.time()
        update: dict[str, Any] = {
            "lastNotificationEpoch": now,
            "lastNotification": fmt_time(datetime.now(UTC)),
        }
        try:
            timeout = (http.get("timeout") or 5000) / 1000
            response = self.client.post(
                http["url"], content=json.dumps(body), headers=headers, timeout=timeout
            )
            update.update(
                lastSuccess=update["lastNotification"], lastSuccessCode=response.status_code, failsCounter=0
            )
        except httpx.HTTPError as exc:
            update.update(lastFailure=update["lastNotification"], lastFailureReason=type(exc).__name__)
        self.state.db["orion_subscriptions"].update_one(
            {"_id": sub_doc["_id"]}, {"$set": update, "$inc": {"timesSent": 1}}
        )


def _subject_matches(entities: list[dict[str, Any]], entity_id: str, entity_type: str) -> bool:
    for item in entities:
        if "id" in item and item["id"] != entity_id:
            continue
        if "idPattern" in item and not re.fullmatch(item["idPattern"], entity_id):
            continue
        if "type" in item and item["type"] != entity_type:
            continue
        if "typePattern" in item and not re.fullmatch(item["typePattern"], entity_type):
            continue
        return True
    return False


# -------------------------------------------------------------------------------------------- app


def ensure_indexes(state: SandboxState) -> None:
    entities = state.db["orion_entities"]
    entities.create_index(
        [("service", ASCENDING), ("id", ASCENDING), ("type", ASCENDING), ("servicepath", ASCENDING)],
        unique=True,
    )
    entities.create_index([("service", ASCENDING), ("seq", ASCENDING)])
    state.db["orion_subscriptions"].create_index([("service", ASCENDING)])


def build_app(state: SandboxState) -> FastAPI:  # noqa: C901 - one route table
    app = FastAPI(title="Orion sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    entities = state.db["orion_entities"]
    subscriptions = state.db["orion_subscriptions"]
    notifier: Notifier = state.notifier

    @app.exception_handler(OrionError)
    async def orion_error(request: Request, exc: OrionError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.error, "description": exc.description},
            status_code=exc.status,
            headers={"Fiware-Correlator": correlator(request.headers)},
        )

    @app.exception_handler(404)
    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "BadRequest", "description": "service not found"}, status_code=400)

    @app.exception_handler(405)
    async def not_allowed(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"error": "MethodNotAllowed", "description": "method not allowed"}, status_code=405
        )

    @app.middleware("http")
    async def uri_check(request: Request, call_next: Any) -> Response:
        decoded_path = unq(request.url.path)
        if any(c in FORBIDDEN for c in decoded_path):
            return JSONResponse(
                {"error": "BadRequest", "description": "invalid character in URI"}, status_code=400
            )
        for key, value in request.query_params.multi_items():
            if key not in ("q", "mq", "georel", "coords") and any(c in FORBIDDEN for c in value):
                return JSONResponse(
                    {"error": "BadRequest", "description": "invalid character in URI"}, status_code=400
                )
        response: Response = await call_next(request)
        response.headers.setdefault("Fiware-Correlator", correlator(request.headers))
        return response

    async def json_body(request: Request) -> Any:
        content_type = request.headers.get("content-type")
        if not content_type:
            raise OrionError(
                415,
                "UnsupportedMediaType",
                "Content-Type header not used, default application/octet-stream is not supported",
            )
        if not content_type.split(";")[0].strip().lower() == "application/json":
            raise OrionError(415, "UnsupportedMediaType", f"not supported content type: {content_type}")
        raw = await request.body()
        if len(raw) > 1024 * 1024:
            raise OrionError(413, "RequestEntityTooLarge", "payload size too large")
        try:
            return json.loads(raw)
        except ValueError:
            raise OrionError(400, "ParseError", "Errors found in incoming JSON buffer") from None

    def options_of(request: Request) -> set[str]:
        return {o for o in request.query_params.get("options", "").split(",") if o}

    def find_entity(
        service: str, paths: list[str], entity_id: str, entity_type: str | None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"service": service, "id": entity_id, **sp_query(paths)}
        if entity_type:
            query["type"] = entity_type
        docs = list(entities.find(query).limit(2))
        if not docs:
            raise OrionError(404, "NotFound", "The requested entity has not been found. Check type and id")
        if len(docs) > 1:
            raise OrionError(409, "TooManyResults", "More than one matching entity. Please refine your query")
        return docs[0]

    def save(doc: dict[str, Any], attrs: dict[str, dict[str, Any]]) -> None:
        doc["attrs"] = _pack(attrs)
        doc["modDate"] = time.time()
        entities.replace_one({"_id": doc["_id"]}, doc)

    def merge(current: dict[str, dict[str, Any]], incoming: dict[str, dict[str, Any]]) -> set[str]:
        changed = set()
        for name, attr in incoming.items():
            if current.get(name) != attr:
                changed.add(name)
            current[name] = attr
        return changed

    def parse_attrs(body: dict[str, Any], key_values: bool) -> dict[str, dict[str, Any]]:
        return {
            name: normalize_attr(name, raw, key_values)
            for name, raw in body.items()
            if name not in ("id", "type")
        }

    @app.get("/version")
    def version() -> dict[str, Any]:
        uptime = int(time.time() - state.started_at)
        return {
            "orion": {
                "version": VERSION,
                "uptime": f"0 d, {uptime // 3600} h, {uptime // 60 % 60} m, {uptime % 60} s",
                "git_hash": "sandbox",
                "compile_time": "sandbox",
                "compiled_by": "chronos",
                "compiled_in": "sandbox",
                "release_date": "sandbox",
                "machine": "x86_64",
                "doc": "https://fiware-orion.rtfd.io/",
            }
        }

    @app.get("/v2/entities")
    def list_entities(request: Request) -> Response:
        service = tenant_of(request)
        paths = servicepaths_of(request, write=False)
        params = request.query_params
        limit_raw, offset_raw = params.get("limit", "20"), params.get("offset", "0")
        if not limit_raw.isdigit() or int(limit_raw) == 0:
            raise bad(f"Bad pagination limit: /{limit_raw}/ [must be a decimal number]")
        if int(limit_raw) > 1000:
            raise bad(f"Bad pagination limit: /{limit_raw}/ [max: 1000]")
        if not offset_raw.isdigit():
            raise bad(f"Bad pagination offset: /{offset_raw}/ [must be a decimal number]")
        query: dict[str, Any] = {"service": service, **sp_query(paths)}
        if params.get("type"):
            query["type"] = {"$in": params["type"].split(",")}
        if params.get("id"):
            query["id"] = {"$in": params["id"].split(",")}
        if params.get("idPattern"):
            query["id"] = {"$regex": params["idPattern"]}
        options = options_of(request)
        cursor = entities.find(query).sort("seq", ASCENDING).skip(int(offset_raw)).limit(int(limit_raw))
        attrs_filter = params["attrs"].split(",") if params.get("attrs") else None
        body = [render(doc, key_values="keyValues" in options, attrs_filter=attrs_filter) for doc in cursor]
        headers = {}
        if "count" in options:
            headers["Fiware-Total-Count"] = str(entities.count_documents(query))
        return JSONResponse(body, headers=headers)

    @app.post("/v2/entities")
    async def create_entity(request: Request) -> Response:
        service = tenant_of(request)
        servicepath = servicepaths_of(request, write=True)[0]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad("entity must be a JSON object")
        options = options_of(request)
        entity_id = check_id(body.get("id"), "entity id")
        entity_type = check_id(body.get("type", "Thing"), "entity type")
        attrs = parse_attrs(body, "keyValues" in options)
        location = f"/v2/entities/{entity_id}?type={entity_type}"
        key = {"service": service, "id": entity_id, "type": entity_type, "servicepath": servicepath}
        existing = entities.find_one(key)
        if existing is not None:
            if "upsert" not in options:
                raise OrionError(422, "Unprocessable", "Already Exists")
            current = _unpack(existing)
            changed = merge(current, attrs)
            save(existing, current)
            notifier.enqueue(service, servicepath, dict(existing), changed)
            return Response(status_code=204, headers={"Location": location})
        now = time.time()
        doc = {**key, "attrs": _pack(attrs), "creDate": now, "modDate": now, "seq": time.time_ns()}
        try:
            entities.insert_one(doc)
        except DuplicateKeyError:
            raise OrionError(422, "Unprocessable", "Already Exists") from None
        notifier.enqueue(service, servicepath, doc, set(attrs) or {"*"})
        return Response(status_code=204 if "upsert" in options else 201, headers={"Location": location})

    @app.get("/v2/entities/{entity_id}")
    def get_entity(request: Request, entity_id: str) -> Response:
        service = tenant_of(request)
        paths = servicepaths_of(request, write=False)
        doc = find_entity(service, paths, unq(entity_id), request.query_params.get("type"))
        attrs_filter = request.query_params["attrs"].split(",") if request.query_params.get("attrs") else None
        return JSONResponse(
            render(doc, key_values="keyValues" in options_of(request), attrs_filter=attrs_filter)
        )

    @app.delete("/v2/entities/{entity_id}")
    def delete_entity(request: Request, entity_id: str) -> Response:
        service = tenant_of(request)
        paths = servicepaths_of(request, write=True)
        doc = find_entity(service, paths, unq(entity_id), request.query_params.get("type"))
        entities.delete_one({"_id": doc["_id"]})
        return Response(status_code=204)

    @app.get("/v2/entities/{entity_id}/attrs")
    def get_attrs(request: Request, entity_id: str) -> Response:
        service = tenant_of(request)
        doc = find_entity(
            service, servicepaths_of(request, write=False), unq(entity_id), request.query_params.get("type")
        )
        rendered = render(doc, key_values="keyValues" in options_of(request))
        rendered.pop("id")
        rendered.pop("type")
        return JSONResponse(rendered)

    async def _write_attrs(request: Request, entity_id: str, mode: str) -> Response:
        service = tenant_of(request)
        servicepath = servicepaths_of(request, write=True)[0]
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad("attributes must be a JSON object")
        options = options_of(request)
        doc = find_entity(service, [servicepath], unq(entity_id), request.query_params.get("type"))
        attrs = parse_attrs(body, "keyValues" in options)
        current = _unpack(doc)
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
            changed = set(attrs) | set(current)
            current = dict(attrs)
        else:
            changed = merge(current, attrs)
        save(doc, current)
        notifier.enqueue(service, servicepath, dict(doc), changed)
        return Response(status_code=204)

    @app.post("/v2/entities/{entity_id}/attrs")
    async def post_attrs(request: Request, entity_id: str) -> Response:
        return await _write_attrs(request, entity_id, "append")

    @app.patch("/v2/entities/{entity_id}/attrs")
    async def patch_attrs(request: Request, entity_id: str) -> Response:
        return await _write_attrs(request, entity_id, "patch")

    @app.put("/v2/entities/{entity_id}/attrs")
    async def put_attrs(request: Request, entity_id: str) -> Response:
        return await _write_attrs(request, entity_id, "replace")

    @app.get("/v2/entities/{entity_id}/attrs/{attr_name}")
    def get_attr(request: Request, entity_id: str, attr_name: str) -> Response:
        service = tenant_of(request)
        doc = find_entity(
            service, servicepaths_of(request, write=False), unq(entity_id), request.query_params.get("type")
        )
        attr = _unpack(doc).get(unq(attr_name))
        if attr is None:
            raise OrionError(404, "NotFound", "The entity does not have such an attribute")
        return JSONResponse(attr)

    @app.delete("/v2/entities/{entity_id}/attrs/{attr_name}")
    def delete_attr(request: Request, entity_id: str, attr_name: str) -> Response:
        service = tenant_of(request)
        doc = find_entity(
            service, servicepaths_of(request, write=True), unq(entity_id), request.query_params.get("type")
        )
        attrs = _unpack(doc)
        if attrs.pop(unq(attr_name), None) is None:
            raise OrionError(404, "NotFound", "The entity does not have such an attribute")
        save(doc, attrs)
        return Response(status_code=204)

    @app.post("/v2/op/update")
    async def batch_update(request: Request) -> Response:
        service = tenant_of(request)
        servicepath = servicepaths_of(request, write=True)[0]
        body = await json_body(request)
        action = (body or {}).get("actionType")
        items = (body or {}).get("entities")
        if action not in ("append", "appendStrict", "update", "delete", "replace"):
            raise bad("invalid update action type")
        if not items:
            raise bad("empty entities vector")
        key_values = "keyValues" in options_of(request)
        for item in items:
            entity_id = check_id(item.get("id"), "entity id")
            entity_type = check_id(item.get("type", "Thing"), "entity type")
            attrs = parse_attrs(item, key_values)
            key = {"service": service, "id": entity_id, "type": entity_type, "servicepath": servicepath}
            existing = entities.find_one(key)
            if existing is None:
                if action in ("update", "delete", "replace"):
                    raise OrionError(
                        404, "NotFound", "The requested entity has not been found. Check type and id"
                    )
                now = time.time()
                doc = {**key, "attrs": _pack(attrs), "creDate": now, "modDate": now, "seq": time.time_ns()}
                entities.insert_one(doc)
                notifier.enqueue(service, servicepath, doc, set(attrs) or {"*"})
                continue
            current = _unpack(existing)
            if action == "delete":
                if not attrs:
                    entities.delete_one({"_id": existing["_id"]})
                    continue
                for name in attrs:
                    current.pop(name, None)
                save(existing, current)
                continue
            if action == "appendStrict" and set(attrs) & set(current):
                raise OrionError(
                    422, "Unprocessable", "one or more of the attributes in the request already exist"
                )
            if action == "replace":
                changed, current = set(attrs) | set(current), dict(attrs)
            else:
                changed = merge(current, attrs)
            save(existing, current)
            notifier.enqueue(service, servicepath, dict(existing), changed)
        return Response(status_code=204)

    # ---------------------------------------------------------------------------- subscriptions

    def render_subscription(doc: dict[str, Any]) -> dict[str, Any]:
        sub = json.loads(doc["body"])
        out: dict[str, Any] = {"id": doc["_id"]}
        if sub.get("description"):
            out["description"] = sub["description"]
        subject = sub["subject"]
        condition = dict(subject.get("condition") or {})
        condition.setdefault("notifyOnMetadataChange", True)
        out["subject"] = {"entities": subject["entities"], "condition": condition}
        notification = dict(sub["notification"])
        notification.setdefault("attrs", [])
        notification.setdefault("onlyChangedAttrs", False)
        notification.setdefault("attrsFormat", "normalized")
        notification.setdefault("covered", False)
        for key in (
            "timesSent",
            "lastNotification",
            "lastSuccess",
            "lastSuccessCode",
            "lastFailure",
            "lastFailureReason",
            "failsCounter",
        ):
            if doc.get(key) is not None:
                notification[key] = doc[key]
        out["notification"] = notification
        if sub.get("expires"):
            out["expires"] = sub["expires"]
        status = sub.get("status", "active")
        if sub.get("expires") and sub["expires"] < fmt_time(datetime.now(UTC)):
            status = "expired"
        out["status"] = status
        if sub.get("throttling") is not None:
            out["throttling"] = sub["throttling"]
        return out

    def validate_subscription(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad("subscription must be a JSON object")
        if len(body.get("description") or "") > 1024:
            raise bad("max description length exceeded")
        subject = body.get("subject")
        if not isinstance(subject, dict) or "entities" not in subject:
            raise bad("no subject entities specified")
        if not subject["entities"]:
            raise bad("subject entities is empty")
        for item in subject["entities"]:
            if ("id" in item) == ("idPattern" in item):
                raise bad("entity must have exactly one of id or idPattern")
            if "id" in item:
                check_id(item["id"], "entity id")
        if subject.get("condition") == {}:
            raise bad("condition is empty")
        notification = body.get("notification")
        if not isinstance(notification, dict):
            raise bad("no notification specified")
        http = notification.get("http") or notification.get("httpCustom")
        if not isinstance(http, dict) or not isinstance(http.get("url"), str):
            raise bad("http notification has no url")
        if not re.match(r"^https?://", http["url"]):
            raise bad("Invalid URL parsing notification url")
        attrs_format = notification.get("attrsFormat", "normalized")
        if attrs_format not in ATTRS_FORMATS:
            raise bad(f"invalid attrsFormat, accepted values: {', '.join(sorted(ATTRS_FORMATS))}")
        if body.get("status", "active") not in ("active", "inactive", "oneshot"):
            raise bad("status is not valid: it has to be either active, inactive or oneshot")
        if body.get("expires"):
            body["expires"] = normalize_datetime(body["expires"], "expires")
        if "throttling" in body and (
            not isinstance(body["throttling"], int | float) or body["throttling"] < 0
        ):
            raise bad("throttling must be a positive number")
        return body

    @app.post("/v2/subscriptions")
    async def create_subscription(request: Request) -> Response:
        service = tenant_of(request)
        paths = servicepaths_of(request, write=False)
        if len(paths) > 1:
            raise bad("max one service-path allowed for subscriptions")
        body = validate_subscription(await json_body(request))
        sub_id = secrets.token_hex(12)
        subscriptions.insert_one(
            {
                "_id": sub_id,
                "service": service,
                "servicepath": paths[0],
                "body": json.dumps(body),
                "timesSent": 0,
            }
        )
        return Response(status_code=201, headers={"Location": f"/v2/subscriptions/{sub_id}"})

    @app.get("/v2/subscriptions")
    def list_subscriptions(request: Request) -> Response:
        service = tenant_of(request)
        params = request.query_params
        limit = int(params.get("limit", "20")) if params.get("limit", "20").isdigit() else 20
        offset = int(params.get("offset", "0")) if params.get("offset", "0").isdigit() else 0
        docs = list(subscriptions.find({"service": service}).sort("_id", ASCENDING).skip(offset).limit(limit))
        headers = {}
        if "count" in options_of(request):
            headers["Fiware-Total-Count"] = str(subscriptions.count_documents({"service": service}))
        return JSONResponse([render_subscription(d) for d in docs], headers=headers)

    def find_subscription(request: Request, sub_id: str) -> dict[str, Any]:
        doc = subscriptions.find_one({"_id": unq(sub_id), "service": tenant_of(request)})
        if doc is None:
            raise OrionError(404, "NotFound", "The requested subscription has not been found. Check id")
        return doc

    @app.get("/v2/subscriptions/{sub_id}")
    def get_subscription(request: Request, sub_id: str) -> Response:
        return JSONResponse(render_subscription(find_subscription(request, sub_id)))

    @app.patch("/v2/subscriptions/{sub_id}")
    async def patch_subscription(request: Request, sub_id: str) -> Response:
        doc = find_subscription(request, sub_id)
        patch = await json_body(request)
        merged = {**json.loads(doc["body"]), **(patch or {})}
        validate_subscription(merged)
        subscriptions.update_one({"_id": doc["_id"]}, {"$set": {"body": json.dumps(merged)}})
        return Response(status_code=204)

    @app.delete("/v2/subscriptions/{sub_id}")
    def delete_subscription(request: Request, sub_id: str) -> Response:
        doc = find_subscription(request, sub_id)
        subscriptions.delete_one({"_id": doc["_id"]})
        return Response(status_code=204)

    return app
