"""Use case behind ``GET /devices/``: the IoT Agent's devices grouped by ``entity_type``.

Contract:

* Every device of the tenant is read, paging the IoT Agent with ``limit``/``offset`` until its
  ``count`` (the total) is reached: nothing is truncated by the agent's page size.
* Chronos's own forecast devices are left out: devices whose entity type is the forecast entity
  type, and devices whose ``apikey`` belongs to a service group provisioned on the forecast
  ``resource``.
* A device without ``entity_type`` takes its group's (matched by ``apikey``), else ``Thing``; a
  device without ``entity_name`` gets the agent's default ``<entity_type>:<device_id>``.
* Only the active ``attributes`` are returned (name, type, object_id); lazy attributes, commands
  and static attributes are not measurements.
* Groups are sorted by entity type, entities by entity name.

Errors from the agent propagate as the typed FIWARE errors (``UpstreamError`` /
``DependencyUnavailableError`` subclasses); a bad tenant raises ``ValidationError``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from chronos_core.application.forecasting.settings import ForecastSettings
from chronos_core.application.ports.devices import DeviceDirectory
from chronos_core.domain.auth import Principal
from chronos_core.domain.fiware import FiwareTenant

DEFAULT_ENTITY_TYPE = "Thing"


class DeviceAttributeView(BaseModel):
    """A measured attribute of a device."""

    name: str
    type: str
    object_id: str | None = None


class DeviceEntityView(BaseModel):
    """One device and the entity it feeds."""

    entity_name: str
    device_id: str
    attributes: list[DeviceAttributeView]


class EntityTypeDevices(BaseModel):
    """The devices of one entity type."""

    entity_type: str
    entities: list[DeviceEntityView]


class DevicesByEntityType(BaseModel):
    """Response of ``GET /devices/``."""

    service: str
    servicepath: str
    total: int
    devices: list[EntityTypeDevices]


class DevicesDeps(Protocol):
    @property
    def devices(self) -> DeviceDirectory: ...

    @property
    def forecast_settings(self) -> ForecastSettings: ...


@dataclass(frozen=True, kw_only=True)
class ListDevices:
    """The devices of one tenant, for a caller who must hold its service."""

    principal: Principal
    service: str
    servicepath: str = "/"
    page_size: int = 100


def list_devices_by_entity_type(deps: DevicesDeps, command: ListDevices) -> DevicesByEntityType:
    """List the tenant's devices grouped by entity type, without Chronos's forecast devices.
    Raises PermissionDeniedError when the caller does not hold the service."""
    command.principal.require_tenant_for_write(command.service)
    tenant = FiwareTenant(command.service, command.servicepath)
    groups = list(deps.devices.list_groups(tenant))
    forecast_keys = {g.apikey for g in groups if g.resource == deps.forecast_settings.group_resource}
    group_types = {g.apikey: g.entity_type for g in groups if g.entity_type}
    forecast_entity_type = deps.forecast_settings.entity_type

    by_type: dict[str, list[DeviceEntityView]] = defaultdict(list)
    total = 0
    for device in deps.devices.iter_devices(tenant, page_size=command.page_size):
        if device.apikey is not None and device.apikey in forecast_keys:
            continue
        entity_type = (
            device.entity_type
            or (group_types.get(device.apikey) if device.apikey else None)
            or DEFAULT_ENTITY_TYPE
        )
        if entity_type == forecast_entity_type:
            continue
        entity_name = device.entity_name or f"{entity_type}:{device.device_id}"
        by_type[entity_type].append(
            DeviceEntityView(
                entity_name=entity_name,
                device_id=device.device_id,
                attributes=[
                    DeviceAttributeView(name=a.name, type=a.type, object_id=a.object_id)
                    for a in device.attributes
                ],
            )
        )
        total += 1

    return DevicesByEntityType(
        service=tenant.service,
        servicepath=tenant.servicepath,
        total=total,
        devices=[
            EntityTypeDevices(
                entity_type=entity_type,
                entities=sorted(entities, key=lambda e: (e.entity_name, e.device_id)),
            )
            for entity_type, entities in sorted(by_type.items())
        ],
    )
