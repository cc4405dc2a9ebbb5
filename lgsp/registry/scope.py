"""Scope changes: what takes a system out of the 100% connectivity count, or puts it back.

Exempting a system, lifting its exemption and retiring it change what the indicator counts, so the
integrators whose systems are measured do not make them: they ask, and an admin decides. Every change is
a `ScopeRequest` kept for ever, with who asked and why, and who decided and why; the connectivity report
lists those of its period (docs/auditors/connectivity-report.md).

- An integrator's `PATCH` that flips `exempt`, or `DELETE`, files a pending request (the API answers 202
  with it); the rest of a `PATCH` applies at once. Registering a system `exempt` registers it in scope
  and files the exemption. One request per system may be pending at a time.
- An admin's own change applies at once, and is recorded as a request approved as it was asked, in the
  same transaction.
- An admin approves a pending request, which then applies as the admin's own change would, or rejects
  it; either way with a note. Retiring a system closes its pending request, rejected.

The changes themselves are made by `lgsp.registry.service`, which refuses them to anyone but an admin.
"""

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.audit.events import record_event
from lgsp.bus.principals import Principals
from lgsp.errors import BadRequest, Conflict, Forbidden, NotFound
from lgsp.registry import service
from lgsp.registry.caller import Caller
from lgsp.registry.models import (
    EXEMPT_NEEDS_REASON,
    RequestDecision,
    RequestStatus,
    Role,
    ScopeChange,
    ScopeRequest,
    ScopeRequestPublic,
    System,
    SystemCreate,
    SystemUpdate,
)
from schemas.common import utcnow
from schemas.topics import Topics

#: Who may read scope requests: oversight every one, integrators their own agency's.
READERS = (Role.ADMIN, Role.OPERATOR, Role.AUDITOR, Role.INTEGRATOR)
#: What the registry's PATCH takes as part of a scope change rather than as a description.
SCOPE_FIELDS = ("exempt", "exempt_reason")


def signed_by(caller: Caller) -> tuple[str, str]:
    """Who acts, as the audit trail writes it: `role[:agency]`, and the credential (`key <id>`, the id
    the keys' API lists, never the key; or the bootstrap token, which is no key)."""
    actor = caller.role.value + (f":{caller.agency_code}" if caller.agency_code else "")
    return actor, "bootstrap token" if caller.key_id is None else f"key {caller.key_id}"


def decide_now(request: ScopeRequest, caller: Caller, approve: bool, note: str) -> None:
    """Stamp `request` decided by `caller`."""
    request.status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    request.decided_by, request.decided_key = signed_by(caller)
    request.decided_at = utcnow()
    request.decision_note = note


def public(request: ScopeRequest, system: System) -> ScopeRequestPublic:
    """A request as the API shows it, with its system's code and agency."""
    return ScopeRequestPublic.model_validate(
        request, update={"system_code": system.code, "agency_code": system.agency_code}
    )


def _new(
    session: AsyncSession, caller: Caller, system: System, change: ScopeChange, reason: str
) -> ScopeRequest:
    """A request of `caller` in the session: approved as it is asked when the caller is an admin."""
    assert system.id is not None
    by, key = signed_by(caller)
    request = ScopeRequest(
        system_id=system.id, change=change, reason=reason, requested_by=by, requested_key=key
    )
    if caller.role is Role.ADMIN:
        decide_now(request, caller, True, "")
    session.add(request)
    return request


async def _open(
    session: AsyncSession, caller: Caller, system: System, change: ScopeChange, reason: str | None
) -> ScopeRequest:
    """File an integrator's pending request, with its reason; 409 if the system has one pending."""
    if not (reason and reason.strip()):
        what = EXEMPT_NEEDS_REASON if change is ScopeChange.EXEMPT else "reason: say why (?reason=...)"
        raise BadRequest(what)
    pending = (
        await session.exec(
            select(ScopeRequest.id).where(
                ScopeRequest.system_id == system.id, ScopeRequest.status == RequestStatus.PENDING
            )
        )
    ).first()
    if pending is not None:
        raise Conflict(f"system {system.code} has scope request {pending} pending; an admin decides it first")
    request = _new(session, caller, system, change, reason.strip())
    record_event(session, caller, "scope.requested", system.code, change=change, reason=request.reason)
    return request


async def register_system(
    session: AsyncSession,
    caller: Caller,
    data: SystemCreate,
    topics: Topics,
    province: str,
    principals: Principals | None = None,
) -> tuple[System, str, ScopeRequestPublic | None]:
    """Register a system (`service.register_system`). One registered `exempt` by an integrator is
    registered in scope, with its exemption asked for; an admin's is exempt at once, and recorded."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # refuse other roles before judging their body
    if not data.exempt:
        system, key = await service.register_system(session, caller, data, topics, province, principals)
        return system, key, None
    requests: list[ScopeRequest] = []
    reason = data.exempt_reason or ""
    if caller.role is not Role.ADMIN:
        data = data.model_copy(update={"exempt": False, "exempt_reason": None})

    def with_request(system: System) -> None:
        requests.append(_new(session, caller, system, ScopeChange.EXEMPT, reason.strip()))
        if caller.role is not Role.ADMIN:
            record_event(session, caller, "scope.requested", system.code, change="exempt", reason=reason)

    system, key = await service.register_system(
        session, caller, data, topics, province, principals, before_commit=with_request
    )
    return system, key, public(requests[0], system)


async def update_system(
    session: AsyncSession,
    caller: Caller,
    system_id: int,
    data: SystemUpdate,
    reason: str | None,
    topics: Topics,
    province: str,
) -> System | ScopeRequestPublic:
    """Change a system (`service.update_system`). A change of `exempt` by an admin applies and is
    recorded; by an integrator it is asked for (its reason: `exempt_reason` to exempt, `reason` to bring
    back into scope), and the request is returned while the rest of the change applies."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    system = await service.get_system(session, system_id)
    caller.require_agency(system.agency_code)
    changes = data.model_dump(exclude_unset=True)
    exempt = changes.get("exempt", system.exempt)
    if exempt == system.exempt:
        stated = changes.get("exempt_reason", system.exempt_reason)
        if caller.role is not Role.ADMIN and system.exempt and stated != system.exempt_reason:
            # The why of an exemption is what an admin approved; the report shows it.
            raise Forbidden("an exemption's reason is the one an admin approved; ask an admin to change it")
        return await service.update_system(session, caller, system_id, data, topics, province)
    change = ScopeChange.EXEMPT if exempt else ScopeChange.INCLUDE
    why = changes.get("exempt_reason", system.exempt_reason) if exempt else reason
    if caller.role is Role.ADMIN:
        _new(session, caller, system, change, (why or "").strip())
        return await service.update_system(session, caller, system_id, data, topics, province)
    request = await _open(session, caller, system, change, why)
    rest = {k: v for k, v in changes.items() if k not in SCOPE_FIELDS}
    if rest:  # commits the request with the rest of the change
        await service.update_system(session, caller, system_id, SystemUpdate(**rest), topics, province)
    else:
        await session.commit()
    return public(request, system)


async def retire_system(
    session: AsyncSession,
    caller: Caller,
    system_id: int,
    reason: str | None,
    topics: Topics,
    province: str,
    principals: Principals | None = None,
) -> ScopeRequestPublic | None:
    """Retire a system: at once by an admin (`service.retire_system`, recorded; its pending request is
    closed), asked for by an integrator, with a reason (the request is returned)."""
    caller.require(Role.ADMIN, Role.INTEGRATOR)  # before any lookup: refused roles learn nothing
    system = await service.get_system(session, system_id)
    caller.require_agency(system.agency_code)
    if caller.role is not Role.ADMIN:
        request = await _open(session, caller, system, ScopeChange.RETIRE, reason)
        await session.commit()
        return public(request, system)
    await _close_pending(session, caller, system)
    _new(session, caller, system, ScopeChange.RETIRE, (reason or "").strip())
    await service.retire_system(session, caller, system_id, topics, province, principals)
    return None


async def _close_pending(session: AsyncSession, caller: Caller, system: System) -> None:
    """Reject what is pending for a system being retired: nothing is left to decide."""
    pending = await session.exec(
        select(ScopeRequest).where(
            ScopeRequest.system_id == system.id, ScopeRequest.status == RequestStatus.PENDING
        )
    )
    for request in pending:
        decide_now(request, caller, False, "the system was retired")
        session.add(request)


async def decide(
    session: AsyncSession,
    caller: Caller,
    request_id: int,
    decision: RequestDecision,
    topics: Topics,
    province: str,
    principals: Principals | None = None,
) -> ScopeRequestPublic:
    """An admin approves a pending request, which then applies as the admin's own change, or rejects it;
    409 if it was decided already."""
    caller.require(Role.ADMIN)
    request = await session.get(ScopeRequest, request_id) if service.may_exist(request_id) else None
    if request is None:
        raise NotFound(f"no scope request {request_id}")
    if request.status != RequestStatus.PENDING:
        raise Conflict(f"scope request {request_id} is {request.status.value} already")
    system = await service.get_system(session, request.system_id)
    decide_now(request, caller, decision.approve, decision.note)
    session.add(request)
    outcome = "scope.approved" if decision.approve else "scope.rejected"
    record_event(session, caller, outcome, system.code, request=request_id, change=request.change)
    if not decision.approve:
        await session.commit()
    elif request.change is ScopeChange.RETIRE:
        await service.retire_system(session, caller, system.id or 0, topics, province, principals)
    else:
        exempt = request.change is ScopeChange.EXEMPT
        update = (
            SystemUpdate(exempt=True, exempt_reason=request.reason) if exempt else SystemUpdate(exempt=False)
        )
        await service.update_system(session, caller, system.id or 0, update, topics, province)
    return public(request, system)


async def list_requests(
    session: AsyncSession,
    caller: Caller,
    *,
    status: RequestStatus | None,
    system_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[ScopeRequestPublic], int]:
    """A page of scope requests, oldest first, with the total: an integrator's agency's only."""
    caller.require(*READERS)
    if system_id is not None and not service.may_exist(system_id):
        return [], 0  # names no system (and would overflow the database's integer)
    query = select(ScopeRequest, System).join(System, col(System.id) == col(ScopeRequest.system_id))
    if caller.role is Role.INTEGRATOR:
        query = query.where(System.agency_code == caller.agency_code)
    if status is not None:
        query = query.where(ScopeRequest.status == status)
    if system_id is not None:
        query = query.where(ScopeRequest.system_id == system_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.exec(query.order_by(col(ScopeRequest.id)).limit(limit).offset(offset))
    return [public(request, system) for request, system in rows], int(total or 0)


async def get_request(session: AsyncSession, caller: Caller, request_id: int) -> ScopeRequestPublic:
    """One scope request; 404 for one an integrator's agency has nothing to do with."""
    caller.require(*READERS)
    query = (
        select(ScopeRequest, System)
        .join(System, col(System.id) == col(ScopeRequest.system_id))
        .where(ScopeRequest.id == request_id)
    )
    row = (await session.exec(query)).first() if service.may_exist(request_id) else None
    if row is None or (caller.role is Role.INTEGRATOR and row[1].agency_code != caller.agency_code):
        raise NotFound(f"no scope request {request_id}")
    return public(*row)
