"""Who is calling, once authenticated: a role and scope, and the checks every service makes of it."""

from dataclasses import dataclass

from lgsp.errors import Forbidden
from lgsp.registry.models import Role

#: Roles that may read operational data: dossiers, exchange records and the reports.
READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR)


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of a request."""

    role: Role
    agency_code: str | None = None
    system_id: int | None = None
    key_id: int | None = None  # None: the bootstrap admin token of the settings, which is no key

    @property
    def credential(self) -> str:
        """What the caller authenticated with, as the audit trail records it: `key <id>` (the id the keys'
        API lists, never the key), or `bootstrap token`."""
        return "bootstrap token" if self.key_id is None else f"key {self.key_id}"

    def require(self, *roles: Role) -> None:
        """Raise 403 unless the caller has one of `roles`."""
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"role {self.role.value} may not do this (allowed: {allowed})")

    def require_reader(self, system_id: int | None = None) -> None:
        """Raise 403 unless the caller may read the registry; a system key reads only its own system."""
        if self.role == Role.SYSTEM and (system_id is None or system_id != self.system_id):
            raise Forbidden("a system key may only read its own system")

    def require_agency(self, agency_code: str) -> None:
        """Raise 403 unless the caller may change things of `agency_code` (admin, or its integrator)."""
        self.require(Role.ADMIN, Role.INTEGRATOR)
        if self.role == Role.INTEGRATOR and self.agency_code != agency_code:
            raise Forbidden(f"an integrator of {self.agency_code} may not act on systems of {agency_code}")
