"""Who is calling, and what they may do: roles and tenant (FIWARE service) access rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chronos_core.domain.errors import NotFoundError, PermissionDeniedError

ALL_TENANTS = "*"


class Role(StrEnum):
    """Roles, each including the ones below it: admin ⊇ operator ⊇ reader."""

    READER = "reader"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.READER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: subject, roles and the FIWARE services (tenants) it may use."""

    subject: str
    roles: frozenset[Role]
    tenants: frozenset[str]

    def has_role(self, role: Role) -> bool:
        return any(r.rank >= role.rank for r in self.roles)

    def require_role(self, role: Role) -> None:
        """Raises PermissionDeniedError unless the caller holds ``role`` or a higher one."""
        if not self.has_role(role):
            raise PermissionDeniedError(f"This operation needs the {role.value} role")

    @property
    def all_tenants(self) -> bool:
        return ALL_TENANTS in self.tenants

    def can_access(self, fiware_service: str) -> bool:
        return self.all_tenants or fiware_service.lower() in self.tenants

    def visible_services(self) -> frozenset[str] | None:
        """Services a listing is restricted to; ``None`` means no restriction."""
        return None if self.all_tenants else self.tenants

    def require_tenant(self, fiware_service: str, *, resource: str) -> None:
        """A resource of another tenant is reported as missing (404), never as forbidden."""
        if not self.can_access(fiware_service):
            raise NotFoundError(f"{resource} not found")

    def require_tenant_for_write(self, fiware_service: str) -> None:
        """Creating in a tenant the caller does not hold is forbidden (403)."""
        if not self.can_access(fiware_service):
            raise PermissionDeniedError(f"The token does not grant the FIWARE service {fiware_service!r}")


def roles_from_claim(value: object) -> frozenset[Role]:
    """Known roles found in a claim (a list or a space/comma separated string); others ignored."""
    names = _as_names(value)
    return frozenset(Role(n) for n in names if n in Role._value2member_map_)


def tenants_from_claim(value: object) -> frozenset[str]:
    return frozenset(n.lower() for n in _as_names(value))


def _as_names(value: object) -> list[str]:
    if isinstance(value, str):
        return [p for p in value.replace(",", " ").split() if p]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value if isinstance(v, str) and v]
    return []
