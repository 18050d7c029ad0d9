"""``POST /v2/op/update``: batch update ``{actionType, entities: [...]}`` → 204.

``append`` creates or merges, ``appendStrict`` also refuses an existing attribute (422),
``update`` merges and ``replace`` replaces the attributes of existing entities only (404 for a
missing one), ``delete`` removes the listed attributes, or the whole entity when none is listed
(404 for a missing entity). Items are applied in order and each one is kept: a failing item
answers its error after the ones before it were written (as Orion does, the batch is not atomic).
Deletes notify nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from local.fiware_sandbox.orion.attrs import apply_attrs
from local.fiware_sandbox.orion.deps import Context
from local.fiware_sandbox.orion.ngsi import (
    OrionError,
    bad,
    check_id,
    json_body,
    options_of,
    parse_attrs,
    servicepaths_of,
    tenant_of,
)
from local.fiware_sandbox.orion.notifier import Notifier
from local.fiware_sandbox.orion.store import EntityStore, entity_key, unpack

ACTIONS = ("append", "appendStrict", "update", "delete", "replace")

router = APIRouter()


def apply_item(
    entities: EntityStore,
    notifier: Notifier,
    target: tuple[str, str],
    action: str,
    item: dict[str, Any],
    key_values: bool,
) -> None:
    """Apply one batch item ``action`` to the entity it names in ``target`` (service, service path)."""
    service, servicepath = target
    entity_id = check_id(item.get("id"), "entity id")
    entity_type = check_id(item.get("type", "Thing"), "entity type")
    attrs = parse_attrs(item, key_values)
    key = entity_key(service, entity_id, entity_type, servicepath)
    existing = entities.get(key)
    if existing is None:
        if action in ("update", "delete", "replace"):
            raise OrionError(404, "NotFound", "The requested entity has not been found. Check type and id")
        doc = entities.insert(key, attrs)
        notifier.enqueue(service, servicepath, doc, set(attrs) or {"*"})
        return
    current = unpack(existing)
    if action == "delete":
        if not attrs:
            entities.delete(existing)
            return
        for name in attrs:
            current.pop(name, None)
        entities.save(existing, current)
        return
    if action == "appendStrict" and set(attrs) & set(current):
        raise OrionError(422, "Unprocessable", "one or more of the attributes in the request already exist")
    current, changed = apply_attrs(
        existing, current, attrs, "replace" if action == "replace" else "append", set()
    )
    entities.save(existing, current)
    notifier.enqueue(service, servicepath, dict(existing), changed)


@router.post("/v2/op/update")
async def batch_update(request: Request, ctx: Context) -> Response:
    service = tenant_of(request)
    servicepath = servicepaths_of(request, write=True)[0]
    body = await json_body(request)
    action = (body or {}).get("actionType")
    items = (body or {}).get("entities")
    if action not in ACTIONS:
        raise bad("invalid update action type")
    if not items:
        raise bad("empty entities vector")
    key_values = "keyValues" in options_of(request)
    for item in items:
        apply_item(ctx.entities, ctx.notifier, (service, servicepath), action, item, key_values)
    return Response(status_code=204)
