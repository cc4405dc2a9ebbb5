"""Catalogue service functions: providers declare services and grant them; access is denied by default."""

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.audit.events import record_event
from lgsp.catalogue.models import Grant, GrantCreate, GrantPublic, Service, ServiceCreate, ServicePublic
from lgsp.catalogue.validation import SchemaRefused, check_schema
from lgsp.errors import BadRequest, Conflict, NotFound
from lgsp.registry.caller import Caller
from lgsp.registry.models import Agency, Role, System
from lgsp.registry.service import get_system, may_exist
from lgsp.settings import Settings
from schemas.common import utcnow


def _public(service: Service, provider: System) -> ServicePublic:
    return ServicePublic.model_validate(service, update={"provider": provider.code})


def check_schemas(data: ServiceCreate, settings: Settings) -> None:
    """Refuse (BadRequest, naming the schema and why) a schema the hub would not apply: over
    LGSP_MAX_SCHEMA_BYTES, invalid, with a regular expression its linear-time engine does not run, a
    reference outside itself, or a loop of references (`lgsp.catalogue.validation`).

    The response schema is only documentation for clients, but passes the same checks: clients may
    apply it, and the hub serves it to them."""
    for name, schema in (("request_schema", data.request_schema), ("response_schema", data.response_schema)):
        if schema is None:
            continue
        try:
            check_schema(schema, settings.max_schema_bytes)
        except SchemaRefused as exc:
            raise BadRequest(f"{name}: {exc}") from None


async def declare_service(
    session: AsyncSession, caller: Caller, system_id: int, data: ServiceCreate, settings: Settings
) -> ServicePublic:
    """Declare a service the system provides, within the hub's limits on schemas and on the number of
    services of one system (LGSP_MAX_SERVICES_PER_SYSTEM: each is compiled and kept by every hub)."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    provider = await get_system(session, system_id)
    caller.require_agency(provider.agency_code)
    service = await add_service(session, caller, provider, data, settings)
    await session.commit()
    return _public(service, provider)


async def add_service(
    session: AsyncSession, caller: Caller, provider: System, data: ServiceCreate, settings: Settings
) -> Service:
    """Declare a service of `provider` in the session's transaction, uncommitted, with every check of
    `declare_service` but the caller's (made already): so a source's services are declared with the
    source, all or none (`lgsp.sources.service`)."""
    existing = (
        await session.exec(select(Service).where(Service.system_id == provider.id, Service.code == data.code))
    ).first()
    if existing is not None:
        raise Conflict(f"system {provider.code} already provides service {data.code}")
    declared = await session.scalar(
        select(func.count()).select_from(Service).where(Service.system_id == provider.id)
    )
    if (declared or 0) >= settings.max_services_per_system:
        raise Conflict(
            f"system {provider.code} provides {declared} services, the most one system may"
            " (LGSP_MAX_SERVICES_PER_SYSTEM); withdraw one first"
        )
    check_schemas(data, settings)  # last: compiling costs more than the two lookups above
    service = Service.model_validate(data, update={"system_id": provider.id})
    session.add(service)
    record_event(session, caller, "service.declared", f"{provider.code}/{data.code}")
    return service


async def _service(session: AsyncSession, system_id: int, code: str) -> Service:
    service = (
        await session.exec(select(Service).where(Service.system_id == system_id, Service.code == code))
    ).first()
    if service is None:
        raise NotFound(f"system {system_id} provides no service {code}")
    return service


async def list_services(session: AsyncSession, system_id: int) -> list[ServicePublic]:
    """The services a system provides."""
    provider = await get_system(session, system_id)
    rows = await session.exec(
        select(Service).where(Service.system_id == system_id).order_by(col(Service.code))
    )
    return [_public(s, provider) for s in rows]


async def withdraw_service(session: AsyncSession, caller: Caller, system_id: int, code: str) -> None:
    """Stop offering a service; its grants go with it."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    provider = await get_system(session, system_id)
    caller.require_agency(provider.agency_code)
    await remove_service(session, caller, provider, await _service(session, system_id, code))
    await session.commit()


async def remove_service(session: AsyncSession, caller: Caller, provider: System, service: Service) -> None:
    """Withdraw `service` of `provider` and its grants in the session's transaction, uncommitted."""
    await session.exec(delete(Grant).where(col(Grant.service_id) == service.id))
    await session.delete(service)
    record_event(session, caller, "service.withdrawn", f"{provider.code}/{service.code}")


async def grant_access(
    session: AsyncSession, caller: Caller, system_id: int, data: GrantCreate
) -> GrantPublic:
    """Let one client system, or every system of an agency, call one of the provider's services."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    provider = await get_system(session, system_id)
    caller.require_agency(provider.agency_code)
    service = await _service(session, system_id, data.service)
    client_id: int | None = None
    if data.client_system is not None:
        client = (
            await session.exec(
                select(System).where(System.code == data.client_system, col(System.retired_at).is_(None))
            )
        ).first()
        if client is None:
            raise BadRequest(f"client_system: no system {data.client_system}")
        client_id = client.id
    elif await session.get(Agency, data.client_agency) is None:
        raise BadRequest(f"client_agency: agency {data.client_agency} is not registered")
    duplicate = (
        await session.exec(
            select(Grant.id).where(
                Grant.service_id == service.id,
                Grant.client_system_id == client_id,
                Grant.client_agency_code == data.client_agency,
            )
        )
    ).first()
    if duplicate is not None:
        raise Conflict("this grant exists already")
    assert service.id is not None
    grant = Grant(service_id=service.id, client_system_id=client_id, client_agency_code=data.client_agency)
    session.add(grant)
    service.updated_at = utcnow()  # so caches keyed on catalogue changes see it
    session.add(service)
    record_event(
        session,
        caller,
        "grant.issued",
        f"{provider.code}/{service.code}",
        client_system=data.client_system,
        client_agency=data.client_agency,
    )
    await session.commit()
    return GrantPublic(
        id=grant.id or 0,
        service=service.code,
        client_system=data.client_system,
        client_agency=data.client_agency,
        created_at=grant.created_at,
    )


async def list_grants(session: AsyncSession, system_id: int) -> list[GrantPublic]:
    """Every grant on the system's services."""
    await get_system(session, system_id)
    rows = await session.exec(
        select(Grant, Service.code, System.code)
        .join(Service, col(Service.id) == col(Grant.service_id))
        .outerjoin(System, col(System.id) == col(Grant.client_system_id))
        .where(Service.system_id == system_id)
        .order_by(col(Grant.id))
    )
    return [
        GrantPublic(
            id=grant.id or 0,
            service=service_code,
            client_system=client_code,
            client_agency=grant.client_agency_code,
            created_at=grant.created_at,
        )
        for grant, service_code, client_code in rows
    ]


async def revoke_grant(session: AsyncSession, caller: Caller, system_id: int, grant_id: int) -> None:
    """Withdraw a grant at once."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    provider = await get_system(session, system_id)
    caller.require_agency(provider.agency_code)
    grant = await session.get(Grant, grant_id) if may_exist(grant_id) else None
    service = await session.get(Service, grant.service_id) if grant is not None else None
    if grant is None or service is None or service.system_id != system_id:
        raise NotFound(f"no grant {grant_id} on system {system_id}")
    await session.delete(grant)
    record_event(session, caller, "grant.revoked", f"{provider.code}/{service.code}", grant=grant_id)
    await session.commit()


async def allowed_services(session: AsyncSession, system_id: int) -> list[ServicePublic]:
    """The services a client system may call: granted to it, or to its whole agency."""
    client = await get_system(session, system_id)
    granted = (
        select(Grant.id)
        .where(
            col(Grant.service_id) == col(Service.id),
            (col(Grant.client_system_id) == client.id)
            | (col(Grant.client_agency_code) == client.agency_code),
        )
        .exists()
    )
    rows = await session.exec(
        select(Service, System)
        .join(System, col(System.id) == col(Service.system_id))
        .where(col(System.retired_at).is_(None), granted)
        .order_by(col(System.code), col(Service.code))
    )
    return [_public(service, provider) for service, provider in rows]
