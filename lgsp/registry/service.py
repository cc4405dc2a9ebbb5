"""Registry service functions: agencies, systems and keys, with the bus events their changes cause."""

from collections.abc import Callable, Sequence

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from buscore.signing import b64, system_public_key
from lgsp.audit.events import record_event
from lgsp.bus.outbox import enqueue
from lgsp.bus.principals import Principals
from lgsp.connectivity.models import SystemStatus
from lgsp.errors import BadRequest, Conflict, NotFound
from lgsp.registry.caller import Caller
from lgsp.registry.keys import system_bus_keys
from lgsp.registry.models import (
    EXEMPT_NEEDS_REASON,
    Agency,
    AgencyCreate,
    ApiKey,
    ApiKeyCreate,
    Role,
    System,
    SystemCreate,
    SystemUpdate,
)
from lgsp.security import issue_key
from schemas.common import HUB, utcnow
from schemas.messages import NgspRegistration
from schemas.topics import Topics

# Row ids are INTEGER columns: a larger id names no row, and would overflow the database driver.
_MAX_ID = 2**31 - 1


def may_exist(row_id: int) -> bool:
    """Whether `row_id` is in the range of the database's ids (outside it, look-ups would fail with 500)."""
    return 1 <= row_id <= _MAX_ID


async def create_agency(session: AsyncSession, caller: Caller, data: AgencyCreate) -> Agency:
    """Register an agency; 409 if its code is taken."""
    if await session.get(Agency, data.code) is not None:
        raise Conflict(f"agency {data.code} already exists")
    agency = Agency.model_validate(data)
    session.add(agency)
    record_event(session, caller, "agency.registered", agency.code, name=agency.name, level=agency.level)
    await session.commit()
    return agency


async def list_agencies(session: AsyncSession) -> Sequence[Agency]:
    """Every agency, by code."""
    return (await session.exec(select(Agency).order_by(col(Agency.code)))).all()


async def _ngsp_registration(session: AsyncSession, system: System, province: str) -> NgspRegistration:
    """The national-catalogue entry of a system, with its live bus keys (the NGSP checks its probe
    replies with them)."""
    assert system.id is not None
    return NgspRegistration(
        system=system.code,
        name=system.name,
        agency=system.agency_code,
        province=province,
        withdraw=system.exempt or system.retired_at is not None,
        keys=await system_bus_keys(session, system.id),
    )


def _new_system_key(system: System) -> tuple[ApiKey, str]:
    """A new key of a system, with the bus public key it derives (the key itself is never stored)."""
    issued = issue_key()
    key = ApiKey(
        lookup=issued.lookup,
        digest=issued.digest,
        role=Role.SYSTEM,
        agency_code=system.agency_code,
        system_id=system.id,
        label=f"system {system.code}",
        verify_key=b64(system_public_key(issued.plaintext)),
    )
    return key, issued.plaintext


async def register_system(
    session: AsyncSession,
    caller: Caller,
    data: SystemCreate,
    topics: Topics,
    province: str,
    principals: Principals | None = None,
    before_commit: Callable[[System], object] | None = None,
) -> tuple[System, str]:
    """Register a system for the caller's agency (admins name it); returns it and its one-time API key.

    The national-catalogue registration goes out through the outbox in the same transaction. With
    `principals` (a cluster with per-system Kafka identities), its Kafka credential and ACLs are set
    before the commit: if the cluster refuses, nothing is registered and the caller may try again.
    `before_commit` is given the new system (with its id) to add what goes with it to the transaction.
    Only an admin registers a system exempt: an integrator asks (lgsp.registry.scope).
    """
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # refuse other roles before judging their body
    if data.exempt:
        caller.require(Role.ADMIN)
    agency_code = data.agency_code or caller.agency_code
    if agency_code is None:
        raise BadRequest("agency_code is required")
    caller.require_agency(agency_code)
    if await session.get(Agency, agency_code) is None:
        raise BadRequest(f"agency_code: agency {agency_code} is not registered")
    if data.code == HUB:
        raise Conflict(f"{HUB} is the hub's own code")
    if (await session.exec(select(System.id).where(System.code == data.code))).first() is not None:
        raise Conflict(f"a system with code {data.code} already exists")
    system = System.model_validate(data, update={"agency_code": agency_code})
    session.add(system)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent registration took the code
        await session.rollback()
        raise Conflict(f"a system with code {data.code} already exists") from None
    assert system.id is not None
    session.add(SystemStatus(system_id=system.id))
    key, plaintext = _new_system_key(system)
    session.add(key)
    if not system.exempt:
        registration = await _ngsp_registration(session, system, province)
        enqueue(session, topics.ngsp_requests, registration, key=system.code)
    record_event(
        session,
        caller,
        "system.registered",
        system.code,
        agency=system.agency_code,
        level=system.level,
        kind=system.kind,
        exempt=system.exempt,
    )
    if before_commit is not None:
        before_commit(system)
    if principals is not None:
        await principals.grant_system(system.code, plaintext)
    await session.commit()
    return system, plaintext


async def get_system(session: AsyncSession, system_id: int) -> System:
    """A live (not retired) system, or 404."""
    system = await session.get(System, system_id) if may_exist(system_id) else None
    if system is None or system.retired_at is not None:
        raise NotFound(f"no system with id {system_id}")
    return system


async def list_systems(
    session: AsyncSession, *, agency_code: str | None, exempt: bool | None, limit: int, offset: int
) -> tuple[Sequence[System], int]:
    """A page of live systems, by id, with the total count."""
    query = select(System).where(col(System.retired_at).is_(None))
    if agency_code is not None:
        query = query.where(System.agency_code == agency_code)
    if exempt is not None:
        query = query.where(System.exempt == exempt)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = (await session.exec(query.order_by(col(System.id)).limit(limit).offset(offset))).all()
    return rows, int(total or 0)


async def update_system(
    session: AsyncSession, caller: Caller, system_id: int, data: SystemUpdate, topics: Topics, province: str
) -> System:
    """Change a system's description or scope; a scope change registers or withdraws it nationally."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    system = await get_system(session, system_id)
    caller.require_agency(system.agency_code)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("exempt", system.exempt) != system.exempt:  # integrators ask (lgsp.registry.scope)
        caller.require(Role.ADMIN)
    merged_exempt = changes.get("exempt", system.exempt)
    merged_reason = changes.get("exempt_reason", system.exempt_reason)
    if merged_exempt and not (merged_reason and merged_reason.strip()):
        raise BadRequest(EXEMPT_NEEDS_REASON)
    was_exempt = system.exempt
    system.sqlmodel_update(changes)
    system.updated_at = utcnow()
    session.add(system)
    if system.exempt != was_exempt or "name" in changes:
        registration = await _ngsp_registration(session, system, province)
        enqueue(session, topics.ngsp_requests, registration, key=system.code)
    record_event(session, caller, "system.updated", system.code, **changes)
    await session.commit()
    return system


async def retire_system(
    session: AsyncSession,
    caller: Caller,
    system_id: int,
    topics: Topics,
    province: str,
    principals: Principals | None = None,
) -> None:
    """Take a system out of the registry: its keys are revoked, the NGSP withdraws it, history stays.
    Admin only: it takes the system out of the connectivity count, which integrators ask for
    (lgsp.registry.scope)."""
    caller.require(Role.ADMIN)  # before any lookup: refused roles learn nothing
    system = await get_system(session, system_id)
    caller.require_agency(system.agency_code)
    now = utcnow()
    system.retired_at = now
    system.updated_at = now
    session.add(system)
    await _revoke_system_keys(session, system_id)
    registration = await _ngsp_registration(session, system, province)
    enqueue(session, topics.ngsp_requests, registration, key=system.code)
    record_event(session, caller, "system.retired", system.code)
    if principals is not None:
        await principals.retire_system(system.code)
    await session.commit()


async def _revoke_system_keys(session: AsyncSession, system_id: int) -> None:
    keys = await session.exec(
        select(ApiKey).where(ApiKey.system_id == system_id, col(ApiKey.revoked_at).is_(None))
    )
    now = utcnow()
    for key in keys:
        key.revoked_at = now
        session.add(key)
    await _end_session(session, system_id)


async def _end_session(session: AsyncSession, system_id: int) -> None:
    """Forget the system's bus session: its next heartbeat needs a hello, which only a live key can sign.
    (Messages signed by a revoked key are refused at once anyway: every hub reads keys per batch.)"""
    await session.exec(
        update(SystemStatus).where(col(SystemStatus.system_id) == system_id).values(session_id=None)
    )


async def rotate_system_key(
    session: AsyncSession,
    caller: Caller,
    system_id: int,
    topics: Topics,
    province: str,
    principals: Principals | None = None,
) -> str:
    """Revoke a system's keys and issue a new one (shown once); its bus session ends, and the NGSP gets
    its new public key."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    system = await get_system(session, system_id)
    caller.require_agency(system.agency_code)
    await _revoke_system_keys(session, system_id)
    key, plaintext = _new_system_key(system)
    session.add(key)
    if not system.exempt:
        registration = await _ngsp_registration(session, system, province)
        enqueue(session, topics.ngsp_requests, registration, key=system.code)
    record_event(session, caller, "system.key_rotated", system.code)
    if principals is not None:  # replaces the credential: the old key's password logs in no more
        await principals.grant_system(system.code, plaintext)
    await session.commit()
    return plaintext


async def create_key(session: AsyncSession, caller: Caller, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    """Issue a person's key (integrator, operator, auditor or admin); admin only."""
    caller.require(Role.ADMIN)
    if data.agency_code is not None and await session.get(Agency, data.agency_code) is None:
        raise BadRequest(f"agency_code: agency {data.agency_code} is not registered")
    issued = issue_key()
    key = ApiKey(
        lookup=issued.lookup,
        digest=issued.digest,
        role=data.role,
        agency_code=data.agency_code if data.role == Role.INTEGRATOR else None,
        label=data.label,
    )
    session.add(key)
    await session.flush()
    record_event(
        session, caller, "key.issued", str(key.id), role=key.role, agency=key.agency_code, label=key.label
    )
    await session.commit()
    return key, issued.plaintext


async def list_keys(session: AsyncSession, caller: Caller) -> Sequence[ApiKey]:
    """Every key's metadata (never a secret); admin only."""
    caller.require(Role.ADMIN)
    return (await session.exec(select(ApiKey).order_by(col(ApiKey.id)))).all()


async def revoke_key(
    session: AsyncSession, caller: Caller, key_id: int, principals: Principals | None = None
) -> None:
    """Revoke a key at once; admin only. Revoking twice is harmless. A system key's bus session ends,
    and with `principals` its Kafka credential goes too."""
    caller.require(Role.ADMIN)
    key = await session.get(ApiKey, key_id) if may_exist(key_id) else None
    if key is None:
        raise NotFound(f"no key with id {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        if key.system_id is not None:
            await _end_session(session, key.system_id)
            system = await session.get(System, key.system_id)
            if principals is not None and system is not None:
                await principals.revoke_credential(system.code)
        record_event(session, caller, "key.revoked", str(key_id))
        await session.commit()
