"""IoT Agent (iotagent-node-lib north API) provisioning client (``fiware-contract.md`` §3).

Contract followed:

* Both ``fiware-service`` and ``fiware-servicepath`` headers on every ``/iot/*`` call (from the
  call's :class:`FiwareTenant`).
* ``GET /iot/devices?limit=&offset=`` → ``{"count": <TOTAL>, "devices": [...]}`` (200 even when
  empty); :meth:`IotAgentClient.iter_devices` pages against ``count``.
* ``POST /iot/groups`` / ``POST /iot/devices`` → 201 ``{}``; duplicates → 409 (``DUPLICATE_GROUP``,
  ``DUPLICATE_DEVICE_ID``), treated as "already there" when ``exist_ok``.
* ``DELETE /iot/groups?resource=&apikey=`` and ``DELETE /iot/devices/{id}`` → 204, 404 when missing.
* The broker URL field of a group is ``cbHost`` (``cbroker`` is silently dropped by the agent).
* Errors are ``{name, message}``; any 2xx is success.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from chronos_core.adapters.fiware.http import FiwareClient, build_path
from chronos_core.domain.errors import ValidationError
from chronos_core.domain.fiware import FiwareTenant

COMPONENT: Final = "IoT Agent"
DEFAULT_PAGE_SIZE: Final = 100
_SUCCESS: Final = (200, 201, 204)


def generate_api_key() -> str:
    """A random service-group API key (32 hex characters)."""
    return secrets.token_hex(16)


class IotAttribute(BaseModel):
    """An ``attributes[]`` / ``lazy[]`` item: ``object_id`` (device payload key), ``name``, ``type``."""

    model_config = ConfigDict(extra="allow")

    object_id: str | None = None
    name: str
    type: str = "Text"


class IotDevice(BaseModel):
    """A provisioned device as the IoT Agent lists it (unknown keys are kept)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    device_id: str = Field(min_length=1)
    entity_name: str | None = None
    entity_type: str | None = None
    apikey: str | None = None
    service: str | None = None
    service_path: str | None = None
    protocol: str | None = None
    transport: str | None = None
    attributes: list[IotAttribute] = Field(default_factory=list)
    lazy: list[IotAttribute] = Field(default_factory=list)
    static_attributes: list[dict[str, Any]] = Field(default_factory=list)

    def to_provisioning(self) -> dict[str, Any]:
        """The body item for ``POST /iot/devices`` (unset fields and tenant fields dropped)."""
        body = self.model_dump(exclude_none=True, exclude={"service", "service_path"})
        for key in ("lazy", "static_attributes"):
            if not body.get(key):
                body.pop(key, None)
        return body


class DevicePage(BaseModel):
    """One listing page: ``count`` is the TOTAL number of matching devices, not the page length."""

    count: int = Field(ge=0)
    devices: list[IotDevice]


class ServiceGroup(BaseModel):
    """A config group (``/iot/groups``). ``cb_host`` is sent as ``cbHost``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    apikey: str = Field(min_length=1)
    resource: str = Field(min_length=1)
    entity_type: str | None = None
    cb_host: str | None = Field(default=None, alias="cbHost")
    timestamp: bool | None = None
    attributes: list[IotAttribute] = Field(default_factory=list)
    static_attributes: list[dict[str, Any]] = Field(default_factory=list)
    description: str | None = None

    def to_provisioning(self) -> dict[str, Any]:
        """The body item for ``POST /iot/groups`` (aliases applied, unset fields dropped)."""
        body = self.model_dump(by_alias=True, exclude_none=True)
        for key in ("attributes", "static_attributes"):
            if not body.get(key):
                body.pop(key, None)
        for key in ("service", "subservice", "_id", "__v"):
            body.pop(key, None)
        return body


class IotAgentClient(FiwareClient):
    """Synchronous IoT Agent provisioning client. Thread-safe."""

    component = COMPONENT
    url_setting = "iot_agent_url"

    def about(self) -> dict[str, Any]:
        """``GET /iot/about`` → ``{"libVersion", "port", "baseRoot", "version"}`` (no tenant headers)."""
        return self._get_object("/iot/about", "about")

    # ------------------------------------------------------------------ devices

    def list_devices(
        self, tenant: FiwareTenant, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> DevicePage:
        """One page of the tenant's devices; ``count`` is the total."""
        if limit < 1 or offset < 0:
            raise ValidationError(
                "limit must be >= 1 and offset >= 0", details=[{"field": "limit"}, {"field": "offset"}]
            )
        response = self._http.request(
            "GET",
            "/iot/devices",
            operation="list devices",
            params={"limit": limit, "offset": offset},
            headers=tenant.headers(),
        )
        try:
            return DevicePage.model_validate(response.json())
        except (ValueError, PydanticValidationError) as exc:
            raise self._http.protocol_error(response, "list devices", "malformed device list") from exc

    def iter_devices(
        self, tenant: FiwareTenant, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[IotDevice]:
        """Every device of the tenant, paging with ``limit``/``offset`` until ``count`` is reached."""
        offset = 0
        while True:
            page = self.list_devices(tenant, limit=page_size, offset=offset)
            yield from page.devices
            offset += len(page.devices)
            if not page.devices or offset >= page.count:
                return

    def get_device(self, tenant: FiwareTenant, device_id: str) -> IotDevice:
        """One device (404 → :class:`FiwareNotFoundError`)."""
        response = self._http.request(
            "GET",
            build_path("/iot/devices/{}", ("device_id", device_id)),
            operation="get device",
            headers=tenant.headers(),
        )
        try:
            return IotDevice.model_validate(response.json())
        except (ValueError, PydanticValidationError) as exc:
            raise self._http.protocol_error(response, "get device", "malformed device") from exc

    def create_device(
        self, tenant: FiwareTenant, device: IotDevice | Mapping[str, Any], *, exist_ok: bool = True
    ) -> bool:
        """Provision one device: ``True`` if created, ``False`` if it already existed (409) and
        ``exist_ok``; otherwise 409 raises :class:`FiwareConflictError`."""
        item = device.to_provisioning() if isinstance(device, IotDevice) else dict(device)
        return self._provision(tenant, "/iot/devices", "devices", item, "create device", exist_ok)

    def delete_device(self, tenant: FiwareTenant, device_id: str, *, missing_ok: bool = True) -> bool:
        """Remove a device: ``True`` if deleted, ``False`` if it was missing and ``missing_ok``."""
        response = self._http.request(
            "DELETE",
            build_path("/iot/devices/{}", ("device_id", device_id)),
            operation="delete device",
            headers=tenant.headers(),
            ok=(*_SUCCESS, 404) if missing_ok else _SUCCESS,
        )
        return response.status_code != 404

    # ------------------------------------------------------------------ service groups

    def list_groups(self, tenant: FiwareTenant) -> list[ServiceGroup]:
        """The groups of exactly the tenant's service and service path."""
        response = self._http.request("GET", "/iot/groups", operation="list groups", headers=tenant.headers())
        try:
            body = response.json()
            return [ServiceGroup.model_validate(item) for item in body.get("groups", [])]
        except (ValueError, AttributeError, PydanticValidationError) as exc:
            raise self._http.protocol_error(response, "list groups", "malformed group list") from exc

    def create_group(
        self, tenant: FiwareTenant, group: ServiceGroup | Mapping[str, Any], *, exist_ok: bool = True
    ) -> bool:
        """Create a config group: ``True`` if created, ``False`` on 409 ``DUPLICATE_GROUP`` with
        ``exist_ok`` ((resource, apikey) is unique across services)."""
        item = group.to_provisioning() if isinstance(group, ServiceGroup) else dict(group)
        if "cbroker" in item:
            raise ValidationError(
                "the IoT Agent field is 'cbHost'; 'cbroker' would be silently dropped",
                details=[{"field": "cbroker", "message": "use cbHost"}],
            )
        return self._provision(tenant, "/iot/groups", "groups", item, "create group", exist_ok)

    def delete_group(
        self,
        tenant: FiwareTenant,
        resource: str,
        apikey: str,
        *,
        delete_devices: bool = False,
        missing_ok: bool = True,
    ) -> bool:
        """Delete the group (resource, apikey): ``True`` if deleted, ``False`` if missing and
        ``missing_ok``. ``delete_devices`` also removes its devices."""
        params: dict[str, str | int] = {"resource": resource, "apikey": apikey}
        if delete_devices:
            params["device"] = "true"
        response = self._http.request(
            "DELETE",
            "/iot/groups",
            operation="delete group",
            params=params,
            headers=tenant.headers(),
            ok=(*_SUCCESS, 404) if missing_ok else _SUCCESS,
        )
        return response.status_code != 404

    def _provision(
        self, tenant: FiwareTenant, path: str, key: str, item: dict[str, Any], operation: str, exist_ok: bool
    ) -> bool:
        """``POST path {key: [item]}``: ``True`` if created, ``False`` on 409 with ``exist_ok``."""
        response = self._http.request(
            "POST",
            path,
            operation=operation,
            headers=tenant.headers(),
            json={key: [item]},
            ok=(*_SUCCESS, 409) if exist_ok else _SUCCESS,
        )
        return response.status_code != 409
