"""REST: POST /api/v1/exchange (synchronous façade over the bus)."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from sqlmodel import col, select

from lgsp.api.counting import CountedPage, counted_page
from lgsp.api.paging import Limit, Offset
from lgsp.errors import BadRequest, ErrorBody, Forbidden, NotFound, error_responses
from lgsp.exchange.evidence import ExchangeEvidence, exchange_evidence
from lgsp.exchange.models import ExchangeRecord, ExchangeRecordPublic, Outcome
from lgsp.registry.auth import CallerDep
from lgsp.registry.models import Role, System
from lgsp.runtime import FacadeDep, RuntimeDep, SessionDep
from schemas.common import JsonObject, ProviderAddress, SystemCode
from schemas.messages import ServiceCode, ServiceRequest
from schemas.purposes import PurposeCode

router = APIRouter(prefix="/api/v1", tags=["exchange"], responses=error_responses(401, 403, 422))

#: How a fault code answers over HTTP.
FAULT_STATUS = {
    "client.unauthenticated": 401,
    "client.access_denied": 403,
    "client.unknown_service": 404,
    "client.bad_request": 422,
    "client.not_found": 404,
    "client.rate_limited": 429,
    "server.provider_error": 502,
    "server.provider_unreachable": 503,
    "server.timeout": 504,
}


class ExchangeAnswer(BaseModel):
    """The provider's answer to a successful exchange."""

    exchange_id: UUID
    provider: str
    service: str
    payload: dict[str, Any] | None


class ExchangeBody(BaseModel):
    """A request to a provider's service, made with the client system's own API key."""

    provider: ProviderAddress
    service: ServiceCode
    payload: JsonObject = Field(default_factory=dict)
    timeout_ms: int = Field(default=5000, ge=50, le=120_000)
    subject: str | None = Field(default=None, max_length=64)
    purpose: PurposeCode | None = Field(
        default=None, description="Why (a code of GET /api/v1/purposes): required with a subject"
    )


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC; a time without offset is read as UTC, like every timestamp of the hub.

    (The records' columns take aware UTC times only: a naive time, or one that leaves the datetime range
    once in UTC such as 0001-01-01T00:00+05:00, reached the database as a 500.)
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


#: A query parameter naming an instant, with or without its UTC offset.
Instant = Annotated[datetime, AfterValidator(_in_utc)]


#: Faults answer with the error shape and the exchange id (when the exchange was recorded).
EXCHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ExchangeAnswer, "description": "The provider's answer"},
    **{code: {"model": ErrorBody, "description": fault} for fault, code in FAULT_STATUS.items()},
}


@router.post("/exchange", responses=EXCHANGE_RESPONSES)
async def exchange(
    body: ExchangeBody, request: Request, caller: CallerDep, session: SessionDep, facade: FacadeDep
) -> JSONResponse:
    """Call a service through the hub and wait for the answer: the same checks and records as the bus."""
    # The key is checked: give the request's pooled connection back before waiting for the provider, or
    # a few slow calls in flight would hold every connection and stall the whole hub's database work.
    await session.close()
    caller.require(Role.SYSTEM)
    if caller.system_id is None:
        raise Forbidden("only a system's own key can make exchanges")
    client = (await facade.router.directory()).code_of(caller.system_id) or (
        await facade.router.directory(max_age=0)
    ).code_of(caller.system_id)
    if client is None:
        raise BadRequest("the calling system is not registered")
    service_request = ServiceRequest(
        client=client,
        session_id=uuid4(),  # REST callers open no bus session: the API key authenticated them
        provider=body.provider,
        service=body.service,
        payload=body.payload,
        timeout_ms=body.timeout_ms,
        subject=body.subject,
        purpose=body.purpose,
    )
    result = await facade.call(service_request, size=int(request.headers.get("content-length", "0") or 0))
    if result.fault is None:
        return JSONResponse(
            {
                "exchange_id": str(result.exchange_id),
                "provider": result.provider,
                "service": result.service,
                "payload": result.payload,
            }
        )
    return JSONResponse(
        {
            "exchange_id": str(result.exchange_id),
            "error": {"code": result.fault.code, "message": result.fault.message},
        },
        FAULT_STATUS.get(result.fault.code, 502),
    )


@router.get("/exchanges", response_model=CountedPage[ExchangeRecordPublic])
async def list_exchanges(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    # Typed as the codes they filter by: any other text matches nothing, and PostgreSQL would refuse a NUL.
    client: Annotated[SystemCode | None, Query()] = None,
    provider: Annotated[ProviderAddress | None, Query()] = None,
    outcome: Outcome | None = None,
    since: Annotated[Instant | None, Query(alias="from", description="From this instant (inclusive)")] = None,
    until: Annotated[Instant | None, Query(alias="to", description="Until this instant (exclusive)")] = None,
) -> CountedPage[ExchangeRecordPublic]:
    """Operational-monitoring records, newest first. Integrators and systems see their own exchanges.

    `total` counts up to 10,000 matching records; beyond, it is a lower bound and `total_exact` is false."""
    query = select(ExchangeRecord)
    if caller.role in (Role.INTEGRATOR, Role.SYSTEM):
        own = select(System.code).where(
            System.agency_code == caller.agency_code
            if caller.role == Role.INTEGRATOR
            else System.id == caller.system_id
        )
        query = query.where(col(ExchangeRecord.client).in_(own) | col(ExchangeRecord.provider).in_(own))
    for column, value in ((ExchangeRecord.client, client), (ExchangeRecord.provider, provider)):
        if value is not None:
            query = query.where(col(column) == value)
    if outcome is not None:
        query = query.where(col(ExchangeRecord.outcome) == outcome.value)
    if since is not None:
        query = query.where(col(ExchangeRecord.request_in_at) >= since)
    if until is not None:
        query = query.where(col(ExchangeRecord.request_in_at) < until)
    # Counted up to a cap (lgsp/api/counting.py): the records grow with every exchange of the province.
    newest_first = query.order_by(col(ExchangeRecord.request_in_at).desc(), col(ExchangeRecord.id))
    rows, total, exact = await counted_page(session, newest_first, limit, offset)
    return CountedPage(
        items=[ExchangeRecordPublic.model_validate(r) for r in rows],
        total=total,
        total_exact=exact,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/exchanges/{exchange_id}/evidence", response_model=ExchangeEvidence, responses=error_responses(404)
)
async def get_evidence(
    exchange_id: UUID, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> ExchangeEvidence:
    """The signatures of an exchange's request and answer, verified again now: who asked what and who
    answered. Integrators and systems see their own exchanges' evidence."""
    record = await session.get(ExchangeRecord, str(exchange_id))
    if record is not None and caller.role in (Role.INTEGRATOR, Role.SYSTEM):
        own = select(System.code).where(
            System.agency_code == caller.agency_code
            if caller.role == Role.INTEGRATOR
            else System.id == caller.system_id
        )
        parties = set((await session.exec(own)).all())
        if not parties & {record.client, record.provider}:
            record = None  # another party's exchange: as if it did not exist
    if record is None:
        raise NotFound(f"no exchange {exchange_id} you may read")
    return await exchange_evidence(session, record, runtime.trust)
