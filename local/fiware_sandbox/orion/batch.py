"""``POST /v2/op/update``: batch update ``{actionType, entities: [...]}`` → 204.

``append`` creates or merges, ``appendStrict`` also refuses an existing attribute (422),
``update`` merges and ``replace`` replaces the attributes of existing entities only (404 for a
missing one), ``delete`` removes the listed attributes, or the whole entity when none is listed
(404 for a missing entity). As Orion does (``fiware-contract.md`` §2.6), every item is tried in order and
each one applied is kept (the batch is not atomic); then the answer is 204 when all succeeded,
404 ``NotFound`` when every item failed on a missing entity, 422 ``Unprocessable`` when every
item failed otherwise, and 422 ``PartialUpdate`` for mixed results, the description listing the
failures (``do not exist: E1/T [entity itself], ...``). Deletes notify nothing. The request log
record lists the entities the batch named (``entities``: ``id/type``), for counting updates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from local.fiware_sandbox.common import RECORD_KEY, RequestRecord
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
    record: RequestRecord | None = request.scope.get(RECORD_KEY)
    if record is not None:
        record.entities = [
            f"{item.get('id')}/{item.get('type', 'Thing')}" for item in items if isinstance(item, dict)
        ]
    failures: list[tuple[dict[str, Any], OrionError]] = []
    for item in items:
        try:
            apply_item(ctx.entities, ctx.notifier, (service, servicepath), action, item, key_values)
        except OrionError as exc:
            if exc.status == 400:  # a malformed item rejects the request, as Orion's parser does
                raise
            failures.append((item, exc))
    if not failures:
        return Response(status_code=204)
    missing = [
        f"{i.get('id')}/{i.get('type', 'Thing')} [entity itself]" for i, e in failures if e.status == 404
    ]
    other = [
        f"{i.get('id')}/{i.get('type', 'Thing')}: {e.description}" for i, e in failures if e.status != 404
    ]
    description = "; ".join(
        part for part in (f"do not exist: {', '.join(missing)}" if missing else "", ", ".join(other)) if part
    )
    if len(failures) < len(items):
        raise OrionError(422, "PartialUpdate", description)
    if len(missing) == len(items):
        raise OrionError(404, "NotFound", description)
    raise OrionError(422, "Unprocessable", description)
