"""Sources service functions: store a system's declarative source with its services, withdraw it, ask it
to pause, resume or restart, and keep what its connector reports.

Storing a source declares its services in the catalogue in the same transaction, with the catalogue's
own checks (`lgsp.catalogue.service.add_service`): a source is stored with all its services or not at
all. Deleting it withdraws them (and their grants): the catalogue never lists a service nobody serves.
"""

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.audit.events import record_event
from lgsp.catalogue.models import Service, ServiceCreate
from lgsp.catalogue.service import add_service, remove_service
from lgsp.errors import BadRequest, Conflict, Forbidden, NotFound
from lgsp.registry.caller import Caller
from lgsp.registry.models import Role, System
from lgsp.registry.service import get_system
from lgsp.settings import Settings
from lgsp.sources.models import (
    ConnectorSources,
    Source,
    SourceCreate,
    SourceKind,
    SourcePublic,
    SourceReport,
    SourceState,
    SourceStatus,
    TargetState,
)
from schemas.common import utcnow
from schemas.sources import DatabaseSource, RestSource, dotted, source_problems


def _public(source: Source, provider: System) -> SourcePublic:
    return SourcePublic.model_validate(source, update={"system": provider.code})


def status_of(source: Source) -> SourceStatus:
    """The source's status: what its connector last reported, and what was asked of it."""
    return SourceStatus.model_validate(source)


def _check(data: DatabaseSource | RestSource) -> None:
    """Refuse (422, naming each field) what the models cannot see alone: a query that is not one read-only
    SELECT over request fields, a request schema that is not one, a service code given twice."""
    problems = [f"{dotted(at)}: {message}" for at, message in source_problems(data)]
    codes = [service.code for service in data.services]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        problems.append(f"services: service code used twice: {', '.join(twice)}")
    if problems:
        raise BadRequest("; ".join(problems))


async def _editable(session: AsyncSession, caller: Caller, system_id: int) -> System:
    """The system, if the caller may change its sources (admin, or an integrator of its agency)."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    provider = await get_system(session, system_id)
    caller.require_agency(provider.agency_code)
    return provider


async def _source(session: AsyncSession, system_id: int, name: str) -> Source:
    source = (
        await session.exec(select(Source).where(Source.system_id == system_id, Source.name == name))
    ).first()
    if source is None:
        raise NotFound(f"system {system_id} has no source {name}")
    return source


async def store_source(
    session: AsyncSession, caller: Caller, system_id: int, data: SourceCreate, settings: Settings
) -> SourcePublic:
    """Store a source of the system and declare its services in the catalogue, all in one transaction;
    422 naming the field for a bad source, 409 for a name or a service code the system has already."""
    provider = await _editable(session, caller, system_id)
    _check(data)
    if (
        await session.exec(select(Source.id).where(Source.system_id == system_id, Source.name == data.name))
    ).first():
        raise Conflict(f"system {provider.code} has a source {data.name} already")
    for service in data.services:
        declaration = ServiceCreate.model_validate(service.declaration())
        await add_service(session, caller, provider, declaration, settings)
    source = Source(
        system_id=system_id, name=data.name, kind=SourceKind(data.kind), config=data.model_dump(mode="json")
    )
    session.add(source)
    record_event(
        session,
        caller,
        "source.stored",
        f"{provider.code}/{data.name}",
        services=[service.code for service in data.services],
    )
    await session.commit()
    return _public(source, provider)


async def _readable(session: AsyncSession, caller: Caller, system_id: int) -> System:
    """The system, if the caller may read its sources: oversight, its owners and its own key. A source
    names the agency's database hosts and users, which other agencies' integrators have no need of."""
    caller.require_reader(system_id)
    provider = await get_system(session, system_id)
    if caller.role == Role.INTEGRATOR and caller.agency_code != provider.agency_code:
        raise Forbidden(
            f"an integrator of {caller.agency_code} may not read the sources of {provider.agency_code}"
        )
    return provider


async def list_sources(session: AsyncSession, caller: Caller, system_id: int) -> list[SourcePublic]:
    """The system's sources, by name (oversight, its owners, its own key)."""
    provider = await _readable(session, caller, system_id)
    return [_public(source, provider) for source in await _sources(session, system_id)]


async def _sources(session: AsyncSession, system_id: int) -> Sequence[Source]:
    rows = await session.exec(select(Source).where(Source.system_id == system_id).order_by(col(Source.name)))
    return rows.all()


async def get_source(session: AsyncSession, caller: Caller, system_id: int, name: str) -> SourcePublic:
    """One source of the system."""
    provider = await _readable(session, caller, system_id)
    return _public(await _source(session, system_id, name), provider)


async def get_status(session: AsyncSession, caller: Caller, system_id: int, name: str) -> SourceStatus:
    """One source's status."""
    await _readable(session, caller, system_id)
    return status_of(await _source(session, system_id, name))


async def delete_source(session: AsyncSession, caller: Caller, system_id: int, name: str) -> None:
    """Delete a source and withdraw its services (their grants go with them), in one transaction; its
    connector stops it at its next look at the hub."""
    provider = await _editable(session, caller, system_id)
    source = await _source(session, system_id, name)
    codes = [service["code"] for service in source.config["services"]]
    declared = await session.exec(
        select(Service).where(Service.system_id == system_id, col(Service.code).in_(codes))
    )
    for service in declared.all():  # one withdrawn by hand meanwhile is simply not there
        await remove_service(session, caller, provider, service)
    await session.delete(source)
    record_event(session, caller, "source.deleted", f"{provider.code}/{name}")
    await session.commit()


async def set_target(
    session: AsyncSession, caller: Caller, system_id: int, name: str, target: TargetState
) -> SourceStatus:
    """Ask for the source to run or to pause; its connector applies it at its next look at the hub."""
    provider = await _editable(session, caller, system_id)
    source = await _source(session, system_id, name)
    if source.target is not target:
        source.target, source.updated_at = target, utcnow()
        session.add(source)
        action = "source.paused" if target is TargetState.PAUSED else "source.resumed"
        record_event(session, caller, action, f"{provider.code}/{name}")
        await session.commit()
    return status_of(source)


async def restart(session: AsyncSession, caller: Caller, system_id: int, name: str) -> SourceStatus:
    """Ask for the source to be restarted (closed and opened again: a new pool, secrets read anew)."""
    provider = await _editable(session, caller, system_id)
    source = await _source(session, system_id, name)
    source.restarts, source.updated_at = source.restarts + 1, utcnow()
    session.add(source)
    record_event(session, caller, "source.restarted", f"{provider.code}/{name}", restarts=source.restarts)
    await session.commit()
    return status_of(source)


def _own_system(caller: Caller) -> int:
    """The id of the caller's system; 403 unless the caller is a system's own key."""
    if caller.role is not Role.SYSTEM or caller.system_id is None:
        raise Forbidden("only a system's own key runs its sources")
    return caller.system_id


async def report(
    session: AsyncSession, caller: Caller, system_id: int, name: str, data: SourceReport
) -> SourceStatus:
    """Keep the state a connector reports of one of its system's sources (the system's own key only)."""
    if _own_system(caller) != system_id:
        raise Forbidden("a system key reports only its own system's sources")
    if data.state is SourceState.UNASSIGNED:
        raise BadRequest("state: a connector reports RUNNING, FAILED or PAUSED")
    source = await _source(session, system_id, name)
    source.state, source.connector, source.reported_at = data.state, data.connector, utcnow()
    source.error = data.error if data.state is SourceState.FAILED else None
    session.add(source)
    await session.commit()
    return status_of(source)


async def connector_sources(session: AsyncSession, caller: Caller) -> ConnectorSources:
    """The sources the calling connector runs: its own system's (a system's own key only)."""
    provider = await get_system(session, _own_system(caller))
    assert provider.id is not None
    sources = [_public(source, provider) for source in await _sources(session, provider.id)]
    return ConnectorSources(system_id=provider.id, system=provider.code, sources=sources)
