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

Layout: :mod:`.ngsi` (errors and request checks), :mod:`.store` (``EntityStore``,
``SubscriptionStore``), :mod:`.notifier` (``Notifier``), one router a resource (:mod:`.entities`,
:mod:`.attrs`, :mod:`.batch`, :mod:`.subscriptions`, ``/version`` in :mod:`.app`) and
:func:`build_app` (:mod:`.app`), which ties them together.
"""

from local.fiware_sandbox.orion.app import build_app
from local.fiware_sandbox.orion.ngsi import (
    ATTRS_FORMATS,
    FORBIDDEN,
    ID_FORBIDDEN,
    NAME_RE,
    RESERVED_ATTRS,
    VERSION,
    OrionError,
    bad,
    check_id,
    default_type,
    has_forbidden,
    normalize_attr,
    normalize_datetime,
    servicepaths_of,
    sp_matches,
    sp_query,
    tenant_of,
)
from local.fiware_sandbox.orion.notifier import Notifier
from local.fiware_sandbox.orion.store import EntityStore, SubscriptionStore, ensure_indexes, render

__all__ = [
    "ATTRS_FORMATS",
    "FORBIDDEN",
    "ID_FORBIDDEN",
    "NAME_RE",
    "RESERVED_ATTRS",
    "VERSION",
    "EntityStore",
    "Notifier",
    "OrionError",
    "SubscriptionStore",
    "bad",
    "build_app",
    "check_id",
    "default_type",
    "ensure_indexes",
    "has_forbidden",
    "normalize_attr",
    "normalize_datetime",
    "render",
    "servicepaths_of",
    "sp_matches",
    "sp_query",
    "tenant_of",
]
