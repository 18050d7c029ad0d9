"""``/v2/subscriptions``: create, list, read, patch and delete subscriptions of the tenant.

* ``POST /v2/subscriptions`` → 201 + ``Location: /v2/subscriptions/<id>``; at most one service
  path (``/x/#`` covers the entities in ``/x`` and below); the body is checked by
  :func:`validate_subscription`.
* ``GET /v2/subscriptions?limit=&offset=&options=count`` → 200, by id (default limit 20);
  ``Fiware-Total-Count`` with ``options=count``.
* ``GET /v2/subscriptions/{id}`` → 200 :func:`render_subscription`; 404 for another tenant's.
* ``PATCH /v2/subscriptions/{id}`` → 204: the patch is merged over the stored body and the result
  validated again. ``DELETE /v2/subscriptions/{id}`` → 204.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from local.fiware_sandbox.common import unq
from local.fiware_sandbox.orion.deps import Context
from local.fiware_sandbox.orion.ngsi import (
    ATTRS_FORMATS,
    bad,
    check_id,
    json_body,
    normalize_datetime,
    options_of,
    servicepaths_of,
    tenant_of,
)
from local.fiware_sandbox.orion.store import Doc, SubscriptionStore
from local.fiware_sandbox.sth import fmt_time

#: Delivery status fields the notifier records and :func:`render_subscription` shows.
STATUS_FIELDS = (
    "timesSent",
    "lastNotification",
    "lastSuccess",
    "lastSuccessCode",
    "lastFailure",
    "lastFailureReason",
    "failsCounter",
)

router = APIRouter()


def render_subscription(doc: Doc) -> dict[str, Any]:
    """A stored subscription as Orion answers it: Orion's defaults filled in (``notifyOnMetadataChange``,
    ``attrs``, ``onlyChangedAttrs``, ``attrsFormat``, ``covered``), the delivery status in
    ``notification``, ``status`` ``expired`` once ``expires`` has passed."""
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
    for key in STATUS_FIELDS:
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


def _validate_subject(subject: Any) -> None:
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


def _validate_notification(notification: Any) -> None:
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


def validate_subscription(body: Any) -> dict[str, Any]:
    """Return the subscription ``body`` if Orion would accept it (``expires`` normalised in place).

    400 for: not an object, a description over 1024 characters, no or empty ``subject.entities``,
    an item without exactly one of ``id``/``idPattern`` or with a bad ``id``, an empty
    ``condition``, no ``notification`` or no ``http``/``httpCustom`` ``http(s)://`` url, an unknown
    ``attrsFormat``, a ``status`` other than active/inactive/oneshot, a bad ``expires`` date, a
    negative or non-numeric ``throttling``.
    """
    if not isinstance(body, dict):
        raise bad("subscription must be a JSON object")
    if len(body.get("description") or "") > 1024:
        raise bad("max description length exceeded")
    _validate_subject(body.get("subject"))
    _validate_notification(body.get("notification"))
    if body.get("status", "active") not in ("active", "inactive", "oneshot"):
        raise bad("status is not valid: it has to be either active, inactive or oneshot")
    if body.get("expires"):
        body["expires"] = normalize_datetime(body["expires"], "expires")
    if "throttling" in body and (not isinstance(body["throttling"], int | float) or body["throttling"] < 0):
        raise bad("throttling must be a positive number")
    return body


def requested_subscription(request: Request, subscriptions: SubscriptionStore, sub_id: str) -> Doc:
    """The tenant's subscription a ``/v2/subscriptions/{id}`` request names; 404 if none."""
    return subscriptions.find(tenant_of(request), unq(sub_id))


@router.post("/v2/subscriptions")
async def create_subscription(request: Request, ctx: Context) -> Response:
    service = tenant_of(request)
    paths = servicepaths_of(request, write=False)
    if len(paths) > 1:
        raise bad("max one service-path allowed for subscriptions")
    body = validate_subscription(await json_body(request))
    sub_id = ctx.subscriptions.insert(service, paths[0], body)
    return Response(status_code=201, headers={"Location": f"/v2/subscriptions/{sub_id}"})


@router.get("/v2/subscriptions")
def list_subscriptions(request: Request, ctx: Context) -> Response:
    service = tenant_of(request)
    params = request.query_params
    limit = int(params.get("limit", "20")) if params.get("limit", "20").isdigit() else 20
    offset = int(params.get("offset", "0")) if params.get("offset", "0").isdigit() else 0
    docs = ctx.subscriptions.page(service, offset, limit)
    headers = {}
    if "count" in options_of(request):
        headers["Fiware-Total-Count"] = str(ctx.subscriptions.count(service))
    return JSONResponse([render_subscription(d) for d in docs], headers=headers)


@router.get("/v2/subscriptions/{sub_id}")
def get_subscription(request: Request, sub_id: str, ctx: Context) -> Response:
    return JSONResponse(render_subscription(requested_subscription(request, ctx.subscriptions, sub_id)))


@router.patch("/v2/subscriptions/{sub_id}")
async def patch_subscription(request: Request, sub_id: str, ctx: Context) -> Response:
    doc = requested_subscription(request, ctx.subscriptions, sub_id)
    patch = await json_body(request)
    merged = {**json.loads(doc["body"]), **(patch or {})}
    validate_subscription(merged)
    ctx.subscriptions.replace_body(doc, merged)
    return Response(status_code=204)


@router.delete("/v2/subscriptions/{sub_id}")
def delete_subscription(request: Request, sub_id: str, ctx: Context) -> Response:
    doc = requested_subscription(request, ctx.subscriptions, sub_id)
    ctx.subscriptions.delete(doc)
    return Response(status_code=204)
