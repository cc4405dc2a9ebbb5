"""What the router needs to authorise a request, loaded in a few queries and cached briefly: the live
systems, the services with who may call them. The branches of admission that read
it are in `lgsp.exchange.admission`."""

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.catalogue.models import Grant, NationalGrant, Service
from lgsp.catalogue.validation import PayloadValidator, payload_validator
from lgsp.connectivity.models import SystemStatus
from lgsp.registry.models import RequestStatus, System
from schemas.messages import ServiceRequest

log = logging.getLogger(__name__)

#: What the hub answers itself (`Directory.metaservice`).
METASERVICES = ("systems.list", "services.list", "allowed-services.list")


@dataclass(frozen=True, slots=True)
class Member:
    """A live system: its id, its agency, and whether it is connected."""

    id: int
    agency: str
    connected: bool


@dataclass(slots=True)
class Offer:
    """A service: its request schema, if any, and the systems and agencies granted it.

    The schema is applied by jsonschema-rs in bounded time, and what a payload breaks is said without its
    values (`lgsp.catalogue.validation`): admission runs it on the event loop every exchange shares, and
    its fault message is kept in the exchange record and the audit trail."""

    validator: PayloadValidator | None
    clients: set[int] = field(default_factory=set)
    agencies: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Directory:
    """Live systems with their sessions, and every service with who may call it."""

    members: dict[str, Member]
    offers: dict[tuple[str, str], Offer]
    codes: dict[int, str] = field(default_factory=dict)  # live system id -> code
    #: Services beyond the province by (AREA/CODE, service), with whom an admin approved them for
    #: (lgsp.catalogue.national): the hub forwards nothing else to the NGSP.
    national: dict[tuple[str, str], Offer] = field(default_factory=dict)

    def code_of(self, system_id: int) -> str | None:
        """A live system's code from its id."""
        return self.codes.get(system_id)

    def metaservice(self, request: ServiceRequest) -> dict[str, Any]:
        """Answer one of the hub's metaservices from the directory."""
        if request.service == "systems.list":
            return {"systems": sorted(self.members)}
        if request.service == "services.list":
            provider = str(request.payload.get("provider", ""))
            return {"provider": provider, "services": sorted(s for p, s in self.offers if p == provider)}
        client = self.members[request.client]
        allowed = [
            {"provider": p, "service": s}
            for (p, s), offer in sorted(self.offers.items())
            if client.id in offer.clients or client.agency in offer.agencies
        ]
        return {"allowed": allowed}


#: Services whose stored request schema cannot be applied, already logged (the directory is reloaded
#: every second or so).
_logged_unusable: set[tuple[str, str, str]] = set()


def _unusable_schema(provider: str, service: str, problem: str) -> None:
    """Log, once, a service whose schema was declared before the hub checked schemas as it does now.

    Every request to it is refused (`PayloadValidator`): the schema might have been all that kept bad
    payloads from the provider, who must declare the service again with a schema the hub can apply."""
    if (provider, service, problem) not in _logged_unusable:
        _logged_unusable.add((provider, service, problem))
        log.warning(
            "%s/%s: its request schema cannot be applied, so every request is refused: %s",
            provider,
            service,
            problem,
        )


async def load_directory(session: AsyncSession) -> Directory:
    """Read the directory from the database."""
    members: dict[str, Member] = {}
    ids: dict[int, str] = {}
    rows = await session.exec(
        select(System, SystemStatus)
        .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.retired_at).is_(None))
    )
    for system, status in rows:
        assert system.id is not None
        members[system.code] = Member(system.id, system.agency_code, status.lgsp_connected)
        ids[system.id] = system.code
    offers: dict[tuple[str, str], Offer] = {}
    by_id: dict[int, Offer] = {}
    for service in await session.exec(select(Service)):
        provider = ids.get(service.system_id)
        if provider is None or service.id is None:
            continue
        schema: dict[str, Any] | None = service.request_schema
        validator = payload_validator(schema) if schema else None
        if validator is not None and validator.problem is not None:
            _unusable_schema(provider, service.code, validator.problem)
        offer = Offer(validator)
        offers[(provider, service.code)] = offer
        by_id[service.id] = offer
    for grant in await session.exec(select(Grant)):
        granted = by_id.get(grant.service_id)
        if granted is None:
            continue
        if grant.client_system_id is not None:
            granted.clients.add(grant.client_system_id)
        if grant.client_agency_code is not None:
            granted.agencies.add(grant.client_agency_code)
    national: dict[tuple[str, str], Offer] = {}
    approved = select(NationalGrant).where(NationalGrant.status == RequestStatus.APPROVED)
    for beyond in await session.exec(approved):
        allowed = national.setdefault((beyond.provider, beyond.service), Offer(None))
        if beyond.client_system_id is not None:
            allowed.clients.add(beyond.client_system_id)
        if beyond.client_agency_code is not None:
            allowed.agencies.add(beyond.client_agency_code)
    return Directory(members, offers, ids, national)
