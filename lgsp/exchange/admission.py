"""Admission of a request, decided without I/O: refused with a fault, answered by the hub itself (a
metaservice), or forwarded to a provider of the province or through the NGSP; and the record and the
message each decision makes. The router looks up what a decision needs and acts on a batch of them."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from lgsp.exchange.directory import Directory
from lgsp.exchange.models import Outcome
from lgsp.exchange.ratelimit import RateLimiter
from schemas.common import HUB, split_address
from schemas.messages import Fault, NgspServiceCall, ServiceCall, ServiceRequest, ServiceResult, encode
from schemas.topics import Topics

#: A record for the bus: (topic, value, key).
Outgoing = tuple[str, bytes, str | None]


@dataclass(frozen=True, slots=True)
class Admission:
    """A request on its way in, from the bus or from the REST façade."""

    request: ServiceRequest
    received_at: datetime
    size: int
    reply_to: str | None = None  # where the result goes; None: the client's inbox
    authenticated: bool = False  # the REST façade already checked the caller's API key

    @property
    def deadline(self) -> datetime:
        """When the hub stops waiting for the provider."""
        return self.received_at + timedelta(milliseconds=self.request.timeout_ms)


@dataclass(frozen=True, slots=True)
class Refuse:
    """The hub answers the request with a fault; it goes no further."""

    fault: Fault


@dataclass(frozen=True, slots=True)
class AnswerHere:
    """The hub answers the request itself (one of its metaservices)."""

    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Forward:
    """The request goes on to its provider: through the NGSP when `national`, else to the provider's inbox."""

    national: bool


Decision = Refuse | AnswerHere | Forward


def size_fault(admission: Admission, limit: int) -> Fault | None:
    """A request over the bus's record limit could not be carried on: refused before anything else."""
    if admission.size <= limit:
        return None
    return Fault(
        code="client.bad_request",
        message=f"the request is {admission.size} bytes, over the hub's limit of {limit} bytes",
    )


def rate_fault(client: str, limiter: RateLimiter, now: float) -> Fault | None:
    """A client over its rate at this hub is refused (the request counts against its allowance)."""
    if limiter.allow(client, now):
        return None
    return Fault(
        code="client.rate_limited",
        message=f"{client} is over its rate of {limiter.rate:g} requests/s"
        f" (bursts of {limiter.burst}) at this hub; slow down",
    )


def decide(request: ServiceRequest, fault: Fault | None, directory: Directory) -> Decision:
    """What happens to a request, once its checks gave `fault` (None: it may go through)."""
    if fault is not None:
        return Refuse(fault)
    if request.provider == HUB:
        return AnswerHere(directory.metaservice(request))
    return Forward(national=split_address(request.provider)[0] is not None)


def exchange_record(
    admission: Admission, decision: Decision, now: datetime, subject_hash: str | None
) -> dict[str, Any]:
    """The exchange record's columns for an admitted request (pending while it is forwarded)."""
    request = admission.request
    row: dict[str, Any] = {
        "id": str(request.message_id),
        "client": request.client,
        "provider": request.provider,
        "service": request.service,
        "subject_hash": subject_hash,
        "request_in_at": admission.received_at,
        "request_size": admission.size,
        "deadline": admission.deadline,
        "reply_to": admission.reply_to,
        "outcome": Outcome.PENDING.value,
        "crossed_ngsp": split_address(request.provider)[0] is not None,
    }
    if isinstance(decision, Refuse):
        row |= {
            "outcome": Outcome.FAULT.value,
            "fault_code": decision.fault.code,
            "fault_message": decision.fault.message,
            "response_out_at": now,
        }
    elif isinstance(decision, AnswerHere):
        row |= {
            "outcome": Outcome.SUCCESS.value,
            "request_out_at": now,
            "response_in_at": now,
            "response_out_at": now,
        }
    else:
        row["request_out_at"] = now
    return row


@dataclass(frozen=True, slots=True)
class ExchangeId:
    """Who an exchange is between, and where its result goes."""

    id: UUID
    client: str
    provider: str
    service: str
    reply_to: str | None


def result_message(
    exchange: ExchangeId,
    topics: Topics,
    *,
    payload: dict[str, Any] | None = None,
    fault: Fault | None = None,
    crossed_ngsp: bool = False,
) -> Outgoing:
    """The result of an exchange, addressed to where its client waits for it."""
    result = ServiceResult(
        exchange_id=exchange.id,
        system=exchange.client,
        provider=exchange.provider,
        service=exchange.service,
        payload=payload,
        fault=fault,
        crossed_ngsp=crossed_ngsp,
    )
    destination = exchange.reply_to or topics.inbox(exchange.client)
    return destination, encode(result), exchange.client


def admission_message(admission: Admission, decision: Decision, topics: Topics, province: str) -> Outgoing:
    """What the bus carries for a decision: the hub's answer, or the call to the provider or the NGSP."""
    request = admission.request
    if not isinstance(decision, Forward):
        exchange = ExchangeId(
            request.message_id, request.client, request.provider, request.service, admission.reply_to
        )
        if isinstance(decision, Refuse):
            return result_message(exchange, topics, fault=decision.fault)
        return result_message(exchange, topics, payload=decision.payload)
    if decision.national:
        national = NgspServiceCall(
            exchange_id=request.message_id,
            province=province,
            client=request.client,
            provider=request.provider,
            service=request.service,
            payload=request.payload,
            deadline=admission.deadline,
        )
        return topics.ngsp_requests, encode(national), request.client
    call = ServiceCall(
        exchange_id=request.message_id,
        system=request.provider,
        client=request.client,
        service=request.service,
        payload=request.payload,
        deadline=admission.deadline,
    )
    return topics.inbox(request.provider), encode(call), request.client
