"""The national platform stub (NDXP, formerly NGSP): a national catalogue of provincial systems, and probes
through it.

It keeps its own database (the national side is another organisation) and talks to the hub only over
its topics. To probe a system it sends the probe into the system's inbox and reads the reply on its own
topic, so a success proves the whole path hub -> NGSP -> system -> NGSP -> hub. Service calls for the
national databases and other provinces are answered by the national side (`national.py`), to clients
the national catalogue holds: access beyond the province is the NGSP's to grant.
"""

import base64
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from buscore.signing import SignerKey
from lgsp.background import Background, Component
from lgsp.bus import Bus, Delivery, Rejection, Worker
from lgsp.connectivity.probes import check_probe_reply, make_probe
from lgsp.db import Database, UTCDateTime
from lgsp.security import PlatformKeys
from lgsp.settings import Settings
from sandbox.ngsp.national import NationalSide
from schemas.common import Link, utcnow
from schemas.messages import (
    NGSP_REQUESTS,
    PROBE_REPLIES,
    AuditAnchor,
    Fault,
    Message,
    NgspAck,
    NgspProbeRequest,
    NgspProbeResult,
    NgspRegistration,
    NgspServiceCall,
    NgspServiceResult,
    ProbeReply,
)

log = logging.getLogger(__name__)

national_metadata = sa.MetaData()
national_catalogue = sa.Table(
    "national_catalogue",
    national_metadata,
    sa.Column("system", sa.String(64), primary_key=True),
    sa.Column("province", sa.String(64), nullable=False),
    sa.Column("agency", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("registered", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The system's bus public keys (JSON: key id -> base64), from its registration: its probe replies
    # to the NGSP must be signed with one of them.
    sa.Column("bus_keys", sa.Text, nullable=False, server_default="{}"),
)
#: The hub's signed audit anchors, kept as the national side received them: what was signed and the
#: signature, so anyone with the hub's public key can check them again (docs/auditors/audit-trail.md).
audit_anchors = sa.Table(
    "audit_anchor",
    national_metadata,
    sa.Column("message_id", sa.String(36), primary_key=True),
    sa.Column("province", sa.String(64), nullable=False),
    sa.Column("links", sa.BigInteger, nullable=False),
    sa.Column("head", sa.String(64), nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),  # the Signature as JSON: signer, nonce, value
)


class NationalKeys:
    """The NGSP's key source (lgsp.bus.authentication.KeySource): the hub's key, and the keys of the
    systems the national catalogue holds as registered."""

    def __init__(self, database: Database, hub: SignerKey) -> None:
        self.database = database
        self.hub = hub

    async def keys(self, kids: set[str]) -> Mapping[str, SignerKey]:
        """The keys named `kids` this side knows."""
        found = {self.hub.kid: self.hub} if self.hub.kid in kids else {}
        if kids - found.keys():
            async with self.database.engine.connect() as conn:
                table = national_catalogue.c
                rows = await conn.execute(sa.select(table.system, table.registered, table.bus_keys))
                for system, registered, keys in rows:
                    for kid, public in json.loads(keys).items():
                        if kid in kids:
                            raw = base64.b64decode(public)
                            found[kid] = SignerKey(kid, system, raw, revoked=not registered)
        return found


class NationalGateway(Component):
    """Consumes the NGSP topics and answers the hub, like the national platform would."""

    def __init__(
        self, settings: Settings, database: Database, bus: Bus, national: NationalSide | None = None
    ) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.national = national
        self.topics = bus.topics
        self._key = PlatformKeys.of(secrets.token_hex(32))  # its probes are its own: a key of its own
        group = f"{self.topics.prefix}.ngsp"
        self.requests: Worker[NgspRegistration | NgspProbeRequest | NgspServiceCall | AuditAnchor] = Worker(
            bus,
            "ngsp-requests",
            self.topics.ngsp_requests,
            NGSP_REQUESTS,
            self.on_requests,
            group=f"{group}.requests",
        )
        self.replies: Worker[ProbeReply] = Worker(
            bus,
            "ngsp-probe-replies",
            self.topics.ngsp_probe_replies,
            PROBE_REPLIES,
            self.on_probe_replies,
            group=f"{group}.probe-replies",
        )

    async def prepare(self) -> None:
        """Create the national catalogue (the stub's own schema) if needed."""
        async with self.database.engine.begin() as conn:
            await conn.run_sync(national_metadata.create_all)

    def background(self) -> list[Background]:
        """The gateway's consumers."""
        return [self.requests, self.replies]

    async def registered(self) -> dict[str, bool]:
        """The catalogue: system code -> currently registered."""
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(sa.select(national_catalogue.c.system, national_catalogue.c.registered))
            return {r.system: r.registered for r in rows}

    async def on_requests(
        self,
        deliveries: Sequence[Delivery[NgspRegistration | NgspProbeRequest | NgspServiceCall | AuditAnchor]],
    ) -> list[Rejection]:
        """Record registrations (idempotent upserts) and keep the hub's audit anchors, then acknowledge the
        registrations, send the asked-for probes and answer the service calls."""
        registrations = [d.message for d in deliveries if isinstance(d.message, NgspRegistration)]
        if registrations:
            await self._upsert(registrations)
        await self._keep_anchors([d for d in deliveries if isinstance(d.message, AuditAnchor)])
        catalogue = await self.registered()
        out: list[tuple[str, bytes, str | None]] = []
        for delivery in deliveries:
            message = delivery.message
            reply: Message
            if isinstance(message, AuditAnchor):
                continue  # kept above; nothing to answer
            if isinstance(message, NgspRegistration):
                reply = NgspAck(system=message.system, registered=not message.withdraw)
                out.append((self.topics.ngsp_events, self.bus.seal(reply), message.system))
            elif isinstance(message, NgspServiceCall):
                result = await self._serve(message, registered=bool(catalogue.get(message.client)))
                out.append((self.topics.ngsp_results, self.bus.seal(result), message.client))
            elif catalogue.get(message.system):
                probe = make_probe(self._key, message.system, Link.NGSP, self.topics.ngsp_probe_replies)
                out.append((self.topics.inbox(message.system), self.bus.seal(probe), message.system))
            else:
                reply = NgspProbeResult(
                    system=message.system, ok=False, reason="not in the national catalogue"
                )
                out.append((self.topics.ngsp_events, self.bus.seal(reply), message.system))
        await self.bus.send_all(out)
        return []

    async def _serve(self, call: NgspServiceCall, *, registered: bool) -> NgspServiceResult:
        answer: dict[str, Any] | Fault
        if not registered:
            answer = Fault(
                code="client.access_denied", message=f"{call.client} is not in the national catalogue"
            )
        elif call.deadline < utcnow():
            answer = Fault(code="server.timeout", message="the call reached the NGSP after its deadline")
        elif self.national is None:
            answer = Fault(code="server.provider_unreachable", message="the national databases are offline")
        else:
            answer = await self.national.answer(call.provider, call.service, call.payload)
        fault = answer if isinstance(answer, Fault) else None
        payload = None if isinstance(answer, Fault) else answer
        return NgspServiceResult(
            exchange_id=call.exchange_id,
            client=call.client,
            provider=call.provider,
            payload=payload,
            fault=fault,
        )

    async def _upsert(self, registrations: list[NgspRegistration]) -> None:
        latest: dict[str, NgspRegistration] = {}
        for r in registrations:  # in order, so the last word on a system wins
            latest[r.system] = r
        now: datetime = utcnow()
        values = [
            {
                "system": r.system,
                "province": r.province,
                "agency": r.agency,
                "name": r.name,
                "registered": not r.withdraw,
                "updated_at": now,
                "bus_keys": json.dumps(r.keys),
            }
            for r in latest.values()
        ]
        dialect = self.database.dialect
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(national_catalogue)
        statement = insert.on_conflict_do_update(
            index_elements=["system"],
            set_={
                c: insert.excluded[c]
                for c in ("province", "agency", "name", "registered", "updated_at", "bus_keys")
            },
        )
        async with self.database.engine.begin() as conn:
            await conn.execute(statement, values)

    async def _keep_anchors(self, deliveries: Sequence[Delivery[Any]]) -> None:
        """Keep each anchor once (the worker checked the hub's signature; a redelivery adds nothing)."""
        values = [
            {
                "message_id": str(d.message.message_id),
                "province": d.message.province,
                "links": d.message.links,
                "head": d.message.head,
                "sent_at": d.message.sent_at,
                "received_at": d.received_at,
                "statement": d.statement.decode(),
                "signature": d.message.signature.model_dump_json(),
            }
            for d in deliveries
            if d.statement is not None and d.message.signature is not None
        ]
        if not values:
            return
        insert = (postgresql.insert if self.database.dialect == "postgresql" else sqlite.insert)(
            audit_anchors
        )
        async with self.database.engine.begin() as conn:
            await conn.execute(insert.on_conflict_do_nothing(index_elements=["message_id"]), values)

    async def anchors(self) -> list[dict[str, Any]]:
        """The hub's audit anchors kept, oldest first."""
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(sa.select(audit_anchors).order_by(audit_anchors.c.sent_at))
            return [dict(row._mapping) for row in rows]

    async def on_probe_replies(self, deliveries: Sequence[Delivery[ProbeReply]]) -> list[Rejection]:
        """Turn systems' replies to NGSP probes into results for the hub."""
        rejections: list[Rejection] = []
        out: list[tuple[str, bytes, str | None]] = []
        for delivery in deliveries:
            reply = delivery.message
            outcome = check_probe_reply(self._key, reply, delivery.received_at, self.settings.probe_timeout)
            if outcome == "bad_token":
                rejections.append(Rejection(delivery, "bad_token", "probe token does not verify"))
                continue
            result = NgspProbeResult(system=reply.system, ok=outcome == "ok", reason=outcome)
            out.append((self.topics.ngsp_events, self.bus.seal(result), reply.system))
        await self.bus.send_all(out)
        return rejections
