"""The IoT Agent's device registry, as the device listing reads it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from chronos_core.domain.fiware import FiwareTenant


class AttributeLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def object_id(self) -> str | None: ...


class DeviceLike(Protocol):
    @property
    def device_id(self) -> str: ...
    @property
    def entity_name(self) -> str | None: ...
    @property
    def entity_type(self) -> str | None: ...
    @property
    def apikey(self) -> str | None: ...
    @property
    def attributes(self) -> Sequence[AttributeLike]: ...


class GroupLike(Protocol):
    @property
    def apikey(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def entity_type(self) -> str | None: ...


class DeviceDirectory(Protocol):
    def iter_devices(self, tenant: FiwareTenant, *, page_size: int = ...) -> Iterator[DeviceLike]:
        """Every device of the tenant (paged until the agent's total is reached)."""

    def list_groups(self, tenant: FiwareTenant) -> Sequence[GroupLike]:
        """The tenant's service groups."""
