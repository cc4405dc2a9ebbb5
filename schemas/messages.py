"""Every message that travels on the bus, as pydantic models with a `type` discriminator."""

import base64
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from schemas.common import (
    AgencyCode,
    Instant,
    JsonObject,
    Link,
    OptionalJsonObject,
    ProviderAddress,
    SystemCode,
    utcnow,
)
from schemas.onceonly import Code, Document
from schemas.purposes import PURPOSE_MAX_LENGTH, PURPOSE_PATTERN


class Signature(BaseModel):
    """Who signed a message and the Ed25519 signature of its statement (buscore/signing.py).

    `signer` names the key: a system key's public lookup part, or `@hub:<fingerprint>` and
    `@ngsp:<fingerprint>` for the platform keys. `nonce` salts the hash of the personal fields.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Shapes checked at decoding, so a key id a database would refuse (a NUL) never reaches a lookup.
    signer: str = Field(pattern=r"^(?:[0-9a-f]{12}|@(?:hub|ngsp):[0-9a-f]{16})$")
    nonce: str = Field(pattern=r"^[A-Za-z0-9+/]{22}==$", description="Base64 of 16 random bytes")
    value: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$", description="Base64 of the 64-byte signature")


class Message(BaseModel):
    """Fields every message carries: a unique id (the key of idempotent consumers), a send time, and
    the sender's signature (receivers refuse a message without a valid one)."""

    # A validation error's text never quotes the input: a record may carry a key or personal data.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    message_id: UUID = Field(default_factory=uuid4)
    sent_at: Instant = Field(default_factory=utcnow)
    signature: Signature | None = None


class Hello(Message):
    """A connector announces itself and opens a session; its signature proves who it is (no key travels)."""

    type: Literal["hello"] = "hello"
    system: SystemCode
    session_id: UUID
    sdk_version: str = Field(default="", max_length=40)


class Heartbeat(Message):
    """A connector is alive; it names the session its hello opened."""

    type: Literal["heartbeat"] = "heartbeat"
    system: SystemCode
    session_id: UUID


class Probe(Message):
    """An active probe: the receiver must answer on `reply_to` with the same probe id and token."""

    type: Literal["probe"] = "probe"
    system: SystemCode
    probe_id: UUID
    token: str = Field(max_length=128)
    reply_to: str = Field(max_length=249)
    via: Link = Link.LGSP


class ProbeReply(Message):
    """A system's answer to a probe, echoing what it was sent."""

    type: Literal["probe_reply"] = "probe_reply"
    system: SystemCode
    probe_id: UUID
    token: str = Field(max_length=128)
    probe_sent_at: Instant
    via: Link = Link.LGSP


class SessionReset(Message):
    """Hub -> system: the hub does not know this session (e.g. its hello was lost); say hello again."""

    type: Literal["session_reset"] = "session_reset"
    system: SystemCode
    reason: str = Field(default="", max_length=200)


ServiceCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")]


class Fault(BaseModel):
    """Why an exchange failed: a stable code (X-Road style) and a human message."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(max_length=64, examples=["client.access_denied", "server.timeout"])
    message: str = Field(default="", max_length=1000)


class ServiceRequest(Message):
    """Client -> hub (requests topic, keyed by client): call `service` of `provider`.

    `message_id` is the exchange id. `subject` names the person or business the request is about
    (citizen id or tax code); the hub stores only its keyed hash. `purpose` says why (a code of
    `schemas.purposes`, also served at GET /api/v1/purposes): required with a subject, which the
    person can then see (docs/citizens/data-tracker.md).
    """

    type: Literal["service_request"] = "service_request"
    client: SystemCode
    session_id: UUID
    provider: ProviderAddress
    service: ServiceCode
    payload: JsonObject = Field(default_factory=dict)
    timeout_ms: int = Field(default=5000, ge=50, le=120_000)
    subject: str | None = Field(default=None, max_length=64)
    purpose: str | None = Field(default=None, pattern=PURPOSE_PATTERN, max_length=PURPOSE_MAX_LENGTH)


class ServiceCall(Message):
    """Hub -> provider inbox: an authorised request to serve, to be answered before `deadline`."""

    type: Literal["service_call"] = "service_call"
    exchange_id: UUID
    system: SystemCode  # the provider (the inbox's owner)
    client: SystemCode
    service: ServiceCode
    payload: JsonObject
    deadline: Instant


class ServiceResponse(Message):
    """Provider -> hub (responses topic, keyed by client): the answer to a call."""

    type: Literal["service_response"] = "service_response"
    exchange_id: UUID
    provider: SystemCode
    session_id: UUID
    client: SystemCode
    payload: OptionalJsonObject = None
    fault: Fault | None = None


class ServiceResult(Message):
    """Hub -> client inbox: the outcome of the client's request, success or fault."""

    type: Literal["service_result"] = "service_result"
    exchange_id: UUID
    system: SystemCode  # the client (the inbox's owner)
    provider: ProviderAddress
    service: str = Field(max_length=64)
    payload: OptionalJsonObject = None
    fault: Fault | None = None
    crossed_ngsp: bool = False


class NgspRegistration(Message):
    """Hub -> NGSP: enter (or withdraw) a provincial system in the national catalogue."""

    type: Literal["ngsp_registration"] = "ngsp_registration"
    system: SystemCode
    name: str = Field(max_length=200)
    agency: AgencyCode
    province: str = Field(max_length=64)
    withdraw: bool = False
    #: The system's bus public keys (base64, by key id), so the NGSP can check the probe replies it gets.
    keys: dict[str, str] = Field(default_factory=dict, max_length=16)


class NgspProbeRequest(Message):
    """Hub -> NGSP: probe this system through the national gateway."""

    type: Literal["ngsp_probe_request"] = "ngsp_probe_request"
    system: SystemCode


class NgspServiceCall(Message):
    """Hub -> NGSP: a request for a national database or another province's system.

    `client` is the calling system of `province`; the NGSP decides access (the client must be in the
    national catalogue) and answers with an `NgspServiceResult` before `deadline`.
    """

    type: Literal["ngsp_service_call"] = "ngsp_service_call"
    exchange_id: UUID
    province: str = Field(max_length=64)
    client: SystemCode
    provider: ProviderAddress
    service: ServiceCode
    payload: JsonObject
    deadline: Instant


class NgspServiceResult(Message):
    """NGSP -> hub (results topic): the answer to an `NgspServiceCall`, success or fault."""

    type: Literal["ngsp_service_result"] = "ngsp_service_result"
    exchange_id: UUID
    client: SystemCode
    provider: ProviderAddress
    payload: OptionalJsonObject = None
    fault: Fault | None = None


class NgspAck(Message):
    """NGSP -> hub: the national catalogue now holds (or no longer holds) the system."""

    type: Literal["ngsp_ack"] = "ngsp_ack"
    system: SystemCode
    registered: bool


class NgspProbeResult(Message):
    """NGSP -> hub: outcome of a probe sent through the national gateway."""

    type: Literal["ngsp_probe_result"] = "ngsp_probe_result"
    system: SystemCode
    ok: bool
    reason: str = Field(default="", max_length=200)


class DossierComponent(BaseModel):
    """What happened to one required document of a dossier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    document_type: Code
    #: reused: fetched from the holder, nothing asked of the applicant; submitted: the applicant gave it.
    source: Literal["reused", "submitted"]
    #: What the evidence lookup found: held, not_held (the holder answered no), holder_unreachable
    #: (no answer: disconnected, timed out or failed).
    lookup: Literal["held", "not_held", "holder_unreachable"]
    reason: str = Field(default="", max_length=200, description="The holder's reason or the fault code")
    holder: ProviderAddress
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    issued_on: date
    valid_until: date | None = None


class DossierReport(Message):
    """One-stop shop -> hub (dossiers topic, keyed by applicant): a completed dossier, for the ledger.

    The hub classifies each submitted component against the ledger of accepted documents (a re-submission
    matches type, subject and content hash of a document still valid on `received_on`), stores the dossier
    and makes its inputs and `outputs` accepted documents. `applicant` travels like exchange payloads do;
    the hub keeps only its keyed hash.
    """

    type: Literal["dossier_report"] = "dossier_report"
    dossier_id: UUID
    office: SystemCode
    session_id: UUID
    procedure: Code
    applicant: str = Field(min_length=1, max_length=64, description="Citizen id or tax code")
    received_on: date = Field(description="The day the dossier was received (the office's calendar)")
    components: list[DossierComponent] = Field(min_length=1, max_length=50)
    outputs: list[Document] = Field(default=[], max_length=50)


class DeadLetter(Message):
    """A record a consumer rejected, with why: its envelope is kept, its personal fields only as keyed
    hashes, API keys never (buscore.deadletters; the whole record only in an operator's raw mode)."""

    type: Literal["dead_letter"] = "dead_letter"
    source_topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    original_b64: str

    @property
    def original(self) -> bytes:
        """What is kept of the rejected record: its envelope (buscore.deadletters), or in raw mode its
        bytes as received, API keys redacted."""
        return base64.b64decode(self.original_b64)


class AuditAnchor(Message):
    """Hub -> NGSP (and the hub's anchor file): the head of the hub's audit chain, signed by the hub.

    Kept outside the hub's database, it lets an auditor tell a chain whose last links were removed, or
    sealed again differently, from the chain the hub had when it signed (docs/auditors/audit-trail.md).
    """

    type: Literal["audit_anchor"] = "audit_anchor"
    province: str = Field(min_length=1, max_length=64, description="The province whose hub keeps the chain")
    links: int = Field(ge=0, description="How many links the chain had: the sequence number of its last")
    head: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="The hash of that last link (64 zeros for an empty chain)"
    )


ConnectivityMessage = Annotated[Hello | Heartbeat | ProbeReply, Field(discriminator="type")]
InboxMessage = Annotated[Probe | SessionReset | ServiceCall | ServiceResult, Field(discriminator="type")]
NgspRequest = Annotated[
    NgspRegistration | NgspProbeRequest | NgspServiceCall | AuditAnchor, Field(discriminator="type")
]
NgspEvent = Annotated[NgspAck | NgspProbeResult, Field(discriminator="type")]


class DecodeError(ValueError):
    """A record that is not a valid message; `reason` is a short stable code for metrics."""

    def __init__(self, reason: Literal["malformed", "invalid"], detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


M = TypeVar("M")


class Codec(Generic[M]):
    """Encodes and decodes one topic's messages (JSON, UTF-8)."""

    def __init__(self, model: Any) -> None:
        self._adapter: TypeAdapter[M] = TypeAdapter(model)

    def decode(self, raw: bytes | None) -> M:
        """Parse and validate a record value, or raise DecodeError saying why not."""
        if raw is None:
            raise DecodeError("malformed", "empty record")
        try:
            return self._adapter.validate_json(raw)
        except ValidationError as exc:
            malformed = any(e["type"] == "json_invalid" for e in exc.errors())
            detail = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise DecodeError("malformed" if malformed else "invalid", detail) from None


def encode(message: Message) -> bytes:
    """Serialise any message to its wire form."""
    return message.model_dump_json().encode()


CONNECTIVITY: Codec[Hello | Heartbeat | ProbeReply] = Codec(ConnectivityMessage)
INBOX: Codec[Probe | SessionReset | ServiceCall | ServiceResult] = Codec(InboxMessage)
REQUESTS: Codec[ServiceRequest] = Codec(ServiceRequest)
RESPONSES: Codec[ServiceResponse] = Codec(ServiceResponse)
NGSP_REQUESTS: Codec[NgspRegistration | NgspProbeRequest | NgspServiceCall | AuditAnchor] = Codec(NgspRequest)
NGSP_RESULTS: Codec[NgspServiceResult] = Codec(NgspServiceResult)
NGSP_EVENTS: Codec[NgspAck | NgspProbeResult] = Codec(NgspEvent)
PROBE_REPLIES: Codec[ProbeReply] = Codec(ProbeReply)
DOSSIERS: Codec[DossierReport] = Codec(DossierReport)
