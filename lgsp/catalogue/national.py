"""Grants to national services: the hub's own permission to call a provider beyond the province.

The NGSP decides access on its side, but the province decides who of its own may ask at all: without a
grant here, a system an integrator has just registered could call `VN/DAN-CU citizen.get` about any
citizen. So a national service is denied unless granted here too (`lgsp.exchange.admission`), to one
client system or to every system of an agency, and a grant holds only once an admin approved it: an
admin's grant is approved as it is made, an integrator's (for its own agency) waits for an admin's
decision. Who asked, why, and who decided are kept with the grant, and every step is in the audit trail.
"""

from collections.abc import Sequence

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.audit.events import record_event
from lgsp.catalogue.models import NationalGrant, NationalGrantCreate, NationalGrantPublic
from lgsp.errors import BadRequest, Conflict, NotFound
from lgsp.registry.caller import Caller
from lgsp.registry.models import Agency, RequestDecision, RequestStatus, Role, System
from lgsp.registry.scope import signed_by
from lgsp.registry.service import may_exist
from schemas.common import utcnow

#: Who may read national grants: oversight every one, integrators their own agency's.
READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.INTEGRATOR)
#: A grant that holds or may come to hold: a second one like it is a conflict.
LIVE = (RequestStatus.PENDING, RequestStatus.APPROVED)


def _stamp(grant: NationalGrant, caller: Caller, approve: bool, note: str) -> None:
    grant.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    grant.decided_by, grant.decided_key = signed_by(caller)
    grant.decided_at = utcnow()
    grant.decision_note = note


def _public(grant: NationalGrant, client_code: str | None) -> NationalGrantPublic:
    return NationalGrantPublic.model_validate(
        grant, update={"client_system": client_code, "client_agency": grant.client_agency_code}
    )


def _event(
    session: AsyncSession, caller: Caller, action: str, grant: NationalGrant, client: str, **data: str
) -> None:
    """A grant's step in the audit trail, under its client (what the grant is for goes with it)."""
    record_event(
        session,
        caller,
        action,
        client,
        grant=grant.id,
        provider=grant.provider,
        service=grant.service,
        **data,
    )


async def request_grant(
    session: AsyncSession, caller: Caller, data: NationalGrantCreate
) -> NationalGrantPublic:
    """Grant (admin) or ask for (an integrator, for its own agency or its systems) a national service;
    409 if the same grant is pending or holds already."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    client_id: int | None = None
    if data.client_system is not None:
        client = (
            await session.exec(
                select(System).where(System.code == data.client_system, col(System.retired_at).is_(None))
            )
        ).first()
        if client is None:
            raise BadRequest(f"client_system: no system {data.client_system}")
        caller.require_agency(client.agency_code)
        client_id = client.id
    else:
        assert data.client_agency is not None  # the body has exactly one of the two
        caller.require_agency(data.client_agency)
        if await session.get(Agency, data.client_agency) is None:
            raise BadRequest(f"client_agency: agency {data.client_agency} is not registered")
    duplicate = (
        await session.exec(
            select(NationalGrant.id).where(
                NationalGrant.client_system_id == client_id,
                NationalGrant.client_agency_code == data.client_agency,
                NationalGrant.provider == data.provider,
                NationalGrant.service == data.service,
                col(NationalGrant.status).in_(LIVE),
            )
        )
    ).first()
    if duplicate is not None:
        raise Conflict(f"national grant {duplicate} is pending or holds already")
    by, key = signed_by(caller)
    grant = NationalGrant(
        provider=data.provider,
        service=data.service,
        reason=data.reason.strip(),
        client_system_id=client_id,
        client_agency_code=data.client_agency,
        requested_by=by,
        requested_key=key,
    )
    if caller.role is Role.ADMIN:
        _stamp(grant, caller, True, "")
    session.add(grant)
    await session.flush()
    client_name = data.client_system or data.client_agency or ""
    action = "national_grant.issued" if caller.role is Role.ADMIN else "national_grant.requested"
    _event(session, caller, action, grant, client_name, reason=grant.reason)
    await session.commit()
    return _public(grant, data.client_system)


async def _grant_and_client(session: AsyncSession, grant_id: int) -> tuple[NationalGrant, System | None]:
    grant = await session.get(NationalGrant, grant_id) if may_exist(grant_id) else None
    if grant is None:
        raise NotFound(f"no national grant {grant_id}")
    client = await session.get(System, grant.client_system_id) if grant.client_system_id else None
    return grant, client


async def decide(
    session: AsyncSession, caller: Caller, grant_id: int, decision: RequestDecision
) -> NationalGrantPublic:
    """An admin approves a pending grant, which then holds, or rejects it; 409 if decided already."""
    caller.require(Role.ADMIN)
    grant, client = await _grant_and_client(session, grant_id)
    if grant.status != RequestStatus.PENDING:
        raise Conflict(f"national grant {grant_id} is {grant.status.value} already")
    _stamp(grant, caller, decision.approve, decision.note)
    session.add(grant)
    client_name = client.code if client is not None else grant.client_agency_code or ""
    action = "national_grant.approved" if decision.approve else "national_grant.rejected"
    _event(session, caller, action, grant, client_name, note=decision.note)
    await session.commit()
    return _public(grant, client.code if client is not None else None)


async def revoke(session: AsyncSession, caller: Caller, grant_id: int) -> None:
    """Withdraw a grant, or a request for one, at once (admin, or an integrator of the client's agency)."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    grant, client = await _grant_and_client(session, grant_id)
    agency = client.agency_code if client is not None else grant.client_agency_code
    if caller.role is Role.INTEGRATOR and agency != caller.agency_code:
        raise NotFound(f"no national grant {grant_id}")  # another agency's grants are not its business
    client_name = client.code if client is not None else grant.client_agency_code or ""
    _event(session, caller, "national_grant.revoked", grant, client_name)
    await session.delete(grant)
    await session.commit()


async def list_grants(
    session: AsyncSession, caller: Caller, *, status: RequestStatus | None, limit: int, offset: int
) -> tuple[Sequence[NationalGrantPublic], int]:
    """A page of national grants and requests, oldest first, with the total: an integrator's agency's
    only."""
    caller.require(*READERS)
    query = select(NationalGrant, System).outerjoin(
        System, col(System.id) == col(NationalGrant.client_system_id)
    )
    if caller.role is Role.INTEGRATOR:
        query = query.where(
            or_(
                col(System.agency_code) == caller.agency_code,
                col(NationalGrant.client_agency_code) == caller.agency_code,
            )
        )
    if status is not None:
        query = query.where(NationalGrant.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.exec(query.order_by(col(NationalGrant.id)).limit(limit).offset(offset))
    return [_public(grant, client.code if client else None) for grant, client in rows], int(total or 0)
