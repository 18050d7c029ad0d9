"""IoT Agent (iotagent-node-lib 4.x + JSON agent) north-port double: config groups, devices,
``/iot/about``, ``/version``, ``/ready``.

Behaviour follows ``fiware-contract.md`` §3: both tenant headers mandatory (400
``MISSING_HEADERS``), ``{name, message}`` error bodies, **201** ``{}`` on creates, **204** on
updates/deletes, 409 ``DUPLICATE_GROUP`` (``(resource, apikey)`` unique across services) and
``DUPLICATE_DEVICE_ID``, ``{"count": <TOTAL>, "devices": [...]}`` listings (200 when empty),
unknown group keys such as ``cbroker`` accepted and dropped, default entity name
``<entity_type>:<device_id>``, stored service lowercased. The south (measure) port is not emulated.

Layout: :mod:`.checks` (errors and request checks), :mod:`.store` (``GroupStore``,
``DeviceStore``), one router a resource (:mod:`.groups`, :mod:`.devices`, about in :mod:`.app`)
and :func:`build_app` (:mod:`.app`), which ties them together.
"""

from local.fiware_sandbox.iot_agent.app import build_app
from local.fiware_sandbox.iot_agent.checks import (
    ATTRIBUTE_KEYS,
    COMMAND_KEYS,
    DEVICE_FIELDS,
    FORBIDDEN,
    GROUP_FIELDS,
    LAZY_KEYS,
    LIB_VERSION,
    VERSION,
    IotaError,
    tenant_of,
    wrong_syntax,
)
from local.fiware_sandbox.iot_agent.store import DeviceStore, GroupStore, ensure_indexes

__all__ = [
    "ATTRIBUTE_KEYS",
    "COMMAND_KEYS",
    "DEVICE_FIELDS",
    "FORBIDDEN",
    "GROUP_FIELDS",
    "LAZY_KEYS",
    "LIB_VERSION",
    "VERSION",
    "DeviceStore",
    "GroupStore",
    "IotaError",
    "build_app",
    "ensure_indexes",
    "tenant_of",
    "wrong_syntax",
]
