"""Admission of a request, decided without I/O of its own: refused with a fault, answered by the hub
itself (a metaservice), or forwarded to its provider, in the province or through the NGSP.

Each branch is a small function that returns its decision, or None where its case does not apply;
`examine` tries them in order against the directory, `decide` then counts the request against its
client's rate, and `decide_batch` does both for a batch. What a decision writes to the exchange record and
what it sends on the bus are here too (`exchange_record`, `admission_message`); the router acts on a
batch of decisions at once.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from jsonschema.exceptions import ValidationError

from buscore.signing import Signer
from lgsp.exchange.directory import METASERVICES, Directory
from lgsp.exchange.models import Outcome
from lgsp.exchange.ratelimit import RateLimiter
from schemas.common import HUB, split_address
from schemas.messages import Fault, NgspServiceCall, ServiceCall, ServiceRequest, ServiceResult
from schemas.purposes import PURPOSES
from schemas.topics import Topics

#: A record for the bus: (topic, value, key).
Outgoing = tuple[str, bytes, str | None]

UNAUTHENTICATED = "client.unauthenticated"


@dataclass(frozen=True, slots=True)
class Admission:
    """A request on its way in, from the bus or from the REST façade."""

    request: ServiceRequest
    received_at: datetime
    size: int
    reply_to: str | None = None  # where the result goes; None: the client's inbox
    evidence: str | None = None  # the client's signature of a bus request (lgsp.exchange.evidence)

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


@dataclass(frozen=True, slots=True)
class Limits:
    """What bounds admission besides the directory: the bus's record size and each client's rate."""

    max_bytes: int
    limiter: RateLimiter


def national(provider: str) -> bool:
    """Whether a provider's address (AREA/CODE) lies beyond the province, reached through the NGSP."""
    area, _ = split_address(provider)
    return area is not None


def refuse(code: str, message: str) -> Refuse:
    """A refusal with one of the stable fault codes."""
    return Refuse(Fault(code=code, message=message))


# The branches, in the order `examine` tries them. Those that read an offer or a member by its key come
# after the branch that makes sure it exists, and fail loudly (KeyError) rather than let a request through
# if ever tried out of order.


def oversized(admission: Admission, limit: int) -> Refuse | None:
    """A request over the bus's record limit could not be carried on: refused before anything else."""
    if admission.size <= limit:
        return None
    return refuse(
        "client.bad_request", f"the request is {admission.size} bytes, over the hub's limit of {limit} bytes"
    )


def unauthenticated(request: ServiceRequest, directory: Directory) -> Refuse | None:
    """A client that is not a live system.

    Who sent a request is proven before admission: a bus request by its client's signature (checked by
    the bus worker), a REST one by the caller's API key.
    """
    if request.client in directory.members:
        return None
    return refuse(UNAUTHENTICATED, f"{request.client} is not a live system")


def purposeless(request: ServiceRequest) -> Refuse | None:
    """A request about a person or business that does not say why, or names no purpose of the catalogue:
    the person sees every access to their data with its purpose (docs/citizens/data-tracker.md)."""
    if not request.subject:
        return None
    if request.purpose is None:
        return refuse(
            "client.bad_request",
            "a request about a subject must name its purpose: one of the codes of GET /api/v1/purposes",
        )
    if request.purpose not in PURPOSES:
        return refuse(
            "client.bad_request", f"unknown purpose {request.purpose}: see GET /api/v1/purposes for the codes"
        )
    return None


def beyond_the_province(request: ServiceRequest, directory: Directory) -> Refuse | Forward | None:
    """A provider beyond the province goes through the NGSP, which decides access on its side and whose
    provider validates; but only for a client the hub granted the service too, by a grant an admin
    approved (lgsp.catalogue.national; after `unauthenticated`). Otherwise any system an integrator
    registers could ask the national databases about anyone."""
    if not national(request.provider):
        return None
    client = directory.members[request.client]
    granted = directory.national.get((request.provider, request.service))
    if granted is not None and (client.id in granted.clients or client.agency in granted.agencies):
        return Forward(national=True)
    return refuse(
        "client.access_denied",
        f"{request.client} is not granted {request.provider}/{request.service}: a service beyond the"
        " province needs a grant an admin of the hub approved",
    )


def unknown_metaservice(request: ServiceRequest) -> Refuse | None:
    """A call to the hub for something other than one of its metaservices."""
    if request.provider != HUB or request.service in METASERVICES:
        return None
    return refuse("client.unknown_service", f"the hub offers no {request.service}")


def metaservice(request: ServiceRequest, directory: Directory) -> AnswerHere | None:
    """The hub answers its metaservices itself, from the directory (after `unknown_metaservice`)."""
    return AnswerHere(directory.metaservice(request)) if request.provider == HUB else None


def unknown_service(request: ServiceRequest, directory: Directory) -> Refuse | None:
    """A provider of the province that does not offer the service (or is no live system)."""
    if (request.provider, request.service) in directory.offers:
        return None
    return refuse("client.unknown_service", f"{request.provider} offers no {request.service}")


def access_denied(request: ServiceRequest, directory: Directory) -> Refuse | None:
    """A client granted the service neither itself nor through its agency (after `unauthenticated` and
    `unknown_service`)."""
    client = directory.members[request.client]
    offer = directory.offers[(request.provider, request.service)]
    if client.id in offer.clients or client.agency in offer.agencies:
        return None
    return refuse(
        "client.access_denied", f"{request.client} is not granted {request.provider}/{request.service}"
    )


def bad_request(request: ServiceRequest, directory: Directory) -> Refuse | None:
    """A payload that its service's request schema rejects (after `unknown_service`)."""
    validator = directory.offers[(request.provider, request.service)].validator
    if validator is None:
        return None
    try:
        validator.validate(request.payload)
    except ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "payload"
        return refuse("client.bad_request", f"{where}: {exc.message}"[:1000])
    return None


def provider_unreachable(request: ServiceRequest, directory: Directory) -> Refuse | None:
    """A provider of the province that is not connected (after `unknown_service`): no one would serve it."""
    if directory.members[request.provider].connected:
        return None
    return refuse("server.provider_unreachable", f"{request.provider} is not connected")


def rate_limited(client: str, limiter: RateLimiter, now: float) -> Refuse | None:
    """A client over its rate at this hub (the request counts against its allowance either way)."""
    if limiter.allow(client, now):
        return None
    return refuse(
        "client.rate_limited",
        f"{client} is over its rate of {limiter.rate:g} requests/s (bursts of {limiter.burst}) at this hub;"
        " slow down",
    )


def examine(admission: Admission, directory: Directory, max_bytes: int) -> Decision:
    """What becomes of a request, its client's rate aside: the first branch that applies, in order.

    Deny by default: a request of the province is forwarded only when no branch refuses or answers it.
    """
    request = admission.request
    return (
        oversized(admission, max_bytes)
        or unauthenticated(request, directory)
        or purposeless(request)
        or beyond_the_province(request, directory)
        or unknown_metaservice(request)
        or metaservice(request, directory)
        or unknown_service(request, directory)
        or access_denied(request, directory)
        or bad_request(request, directory)
        or provider_unreachable(request, directory)
        or Forward(national=False)
    )


def decide(admission: Admission, verdict: Decision, limits: Limits, now: float) -> Decision:
    """The decision on a request given `examine`'s verdict on it: `client.rate_limited` instead when its
    client is over its rate at `now` (monotonic seconds).

    Every request of a client that proves itself counts against its rate, whatever the verdict, and one
    over the rate goes no further. An oversized request counts for nobody (it was never read as far as
    its client), nor does an unauthenticated one: a forged request must not spend the allowance of the
    client it names.
    """
    if oversized(admission, limits.max_bytes) or (
        isinstance(verdict, Refuse) and verdict.fault.code == UNAUTHENTICATED
    ):
        return verdict
    return rate_limited(admission.request.client, limits.limiter, now) or verdict


async def decide_batch(
    admissions: Sequence[Admission],
    directory: Directory,
    fresher: Callable[[], Awaitable[Directory]],
    limits: Limits,
    clock: Callable[[], float],
) -> list[Decision]:
    """The decision on each admission, in order: examined against `directory` (cached), then counted
    against its client's rate with `clock` (monotonic seconds).

    The cache may predate a grant, a service or a hello: the requests it refuses are examined again on
    the directory `fresher` gives, asked for once for the whole batch, and only when one is refused.
    Oversized requests are refused whatever the directory says, so they never ask for it.
    """
    verdicts = [examine(admission, directory, limits.max_bytes) for admission in admissions]
    again = [
        n
        for n, (admission, verdict) in enumerate(zip(admissions, verdicts, strict=True))
        if isinstance(verdict, Refuse) and not oversized(admission, limits.max_bytes)
    ]
    if again:
        recent = await fresher()
        for n in again:
            verdicts[n] = examine(admissions[n], recent, limits.max_bytes)
    return [decide(a, v, limits, clock()) for a, v in zip(admissions, verdicts, strict=True)]


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
        "purpose": request.purpose,
        "request_in_at": admission.received_at,
        "request_size": admission.size,
        "deadline": admission.deadline,
        "reply_to": admission.reply_to,
        "outcome": Outcome.PENDING.value,
        "crossed_ngsp": national(request.provider),
        "request_evidence": admission.evidence,
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
    signer: Signer,
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
    return destination, signer.seal(result), exchange.client


def admission_message(
    admission: Admission, decision: Decision, topics: Topics, province: str, signer: Signer
) -> Outgoing:
    """What the bus carries for a decision, signed: the hub's answer, or the call to the provider or the
    NGSP."""
    request = admission.request
    if not isinstance(decision, Forward):
        exchange = ExchangeId(
            request.message_id, request.client, request.provider, request.service, admission.reply_to
        )
        if isinstance(decision, Refuse):
            return result_message(exchange, topics, signer, fault=decision.fault)
        return result_message(exchange, topics, signer, payload=decision.payload)
    if decision.national:
        national_call = NgspServiceCall(
            exchange_id=request.message_id,
            province=province,
            client=request.client,
            provider=request.provider,
            service=request.service,
            payload=request.payload,
            deadline=admission.deadline,
        )
        return topics.ngsp_requests, signer.seal(national_call), request.client
    call = ServiceCall(
        exchange_id=request.message_id,
        system=request.provider,
        client=request.client,
        service=request.service,
        payload=request.payload,
        deadline=admission.deadline,
    )
    return topics.inbox(request.provider), signer.seal(call), request.client
