"""The FIWARE tenant of a call: ``Fiware-Service`` + ``Fiware-ServicePath``.

Every call to STH-Comet, Orion or the IoT Agent takes a :class:`FiwareTenant` built from the
model being served (``fiware_service`` / ``fiware_servicepath``), never from global settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chronos_core.domain.fiware import validate_service, validate_servicepath

if TYPE_CHECKING:
    from chronos_core.domain.model import FiwareSource


@dataclass(frozen=True, slots=True)
class FiwareTenant:
    """A validated tenant: ``service`` lowercased, ``servicepath`` one canonical absolute path.

    Construction raises :class:`chronos_core.domain.errors.ValidationError` with details naming
    ``fiware_service`` / ``fiware_servicepath``.
    """

    service: str
    servicepath: str = "/"

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", validate_service(self.service))
        object.__setattr__(self, "servicepath", validate_servicepath(self.servicepath))

    @classmethod
    def of(cls, source: FiwareSource) -> FiwareTenant:
        """The tenant a model's series lives in."""
        return cls(source.fiware_service, source.fiware_servicepath)

    def headers(self) -> dict[str, str]:
        """The two tenant headers (servers read header names case-insensitively)."""
        return {"Fiware-Service": self.service, "Fiware-ServicePath": self.servicepath}
