"""What the tracker decides, without a broker: hellos, heartbeats and probe replies taken in at given
times, then each link's state and the transitions recorded when it is evaluated at given times.

Against a real SQLite file, with the bus replaced by an in-memory double (tests/support/memory_bus.py): a
few milliseconds a case. test_tracking.py runs the same tracker end to end on the real broker.

The tracker's handler sees only what its worker authenticated (lgsp.bus.authentication, with the
registry's keyring): who sent a hello is proven by its signature there, so the cases about keys run the
authentication first, as the worker does."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from buscore.signing import HUB, Signer, b64, system_public_key
from lgsp.bus import Delivery
from lgsp.bus.authentication import Authenticator
from lgsp.connectivity.evaluation import evaluate
from lgsp.connectivity.models import LinkStateChange, SystemStatus
from lgsp.connectivity.probes import make_probe
from lgsp.connectivity.rules import (
    HEARTBEAT_STALE,
    LGSP_UP,
    NEVER_SAID_HELLO,
    NGSP_UP,
    NO_PROBE,
    NOT_ACKNOWLEDGED,
)
from lgsp.connectivity.tracker import ConnectivityTracker
from lgsp.db import Database
from lgsp.registry.keyring import Keyring
from lgsp.registry.models import Agency, ApiKey, Role, System
from lgsp.security import PlatformKeys, issue_key
from lgsp.settings import Settings
from schemas.common import Link, utcnow
from schemas.messages import (
    CONNECTIVITY,
    INBOX,
    Heartbeat,
    Hello,
    NgspAck,
    NgspProbeResult,
    ProbeReply,
    SessionReset,
    encode,
)
from tests.support.memory_bus import MemoryBus
from tests.support.signing import delivered as signed_delivery
from tests.support.signing import key_of, made_up_signer, refusal

M = TypeVar("M")
KEY = PlatformKeys.of("k" * 32)
SECOND = timedelta(seconds=1)
TICK = timedelta(microseconds=1)
#: The TTLs the cases are written against, stated so a change of the defaults does not move them.
SETTINGS = Settings(admin_token=SecretStr("unit-admin-token-0123456789"), heartbeat_ttl=15, probe_ttl=30)


@dataclass
class Tracked:
    """A tracker over a fresh database holding HO-TICH, the bus it sends to, HO-TICH's signer (from its
    API key) and the authentication the tracker's worker runs before it (over the registry's keys)."""

    hub: ConnectivityTracker
    bus: MemoryBus
    signer: Signer
    key_id: int
    offsets: list[int] = field(default_factory=list)  # positions given to records so far

    async def receive(self, *raws: bytes, at: datetime) -> list[str | None]:
        """Records arriving on the connectivity topic at `at`, authenticated then handled as the worker
        does; for each, why it was refused, or None if it was taken."""
        start = len(self.offsets)
        self.offsets += range(start, start + len(raws))
        deliveries = [
            signed_delivery(CONNECTIVITY, raw, at, topic="unit.connectivity", offset=start + n)
            for n, raw in enumerate(raws)
        ]
        accepted, refused = await self.hub.connectivity_worker.authenticate(deliveries)
        rejected = refused + (await self.hub.on_connectivity(accepted) if accepted else [])
        reasons = {r.delivery.offset: r.reason for r in rejected}
        return [reasons.get(d.offset) for d in deliveries]


@pytest.fixture
async def tracked(tmp_path: Path) -> AsyncIterator[Tracked]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}")
    await database.migrate()
    api_key = issue_key()
    key = ApiKey(
        lookup=api_key.lookup,
        digest=api_key.digest,
        role=Role.SYSTEM,
        agency_code="SO-TP",
        verify_key=b64(system_public_key(api_key.plaintext)),  # as the registry stores it at issuance
    )
    async with database.sessions() as session:
        session.add(Agency(code="SO-TP", name="Sở Tư pháp"))
        system = System(code="HO-TICH", name="Civil status", agency_code="SO-TP")
        session.add(system)
        await session.flush()
        assert system.id is not None
        session.add(SystemStatus(system_id=system.id))
        key.system_id = system.id
        session.add(key)
        await session.commit()
        assert key.id is not None
    hub_signer = made_up_signer(HUB)
    keyring = Keyring(database, [key_of(hub_signer)])  # as the hub's: the registry's keys, read per batch
    authenticate = Authenticator(keyring, SETTINGS.bus_replay_window, SETTINGS.bus_clock_skew)
    bus = MemoryBus(signer=hub_signer, authenticate=authenticate)
    try:
        hub = ConnectivityTracker(SETTINGS, database, bus.as_bus(), KEY)
        yield Tracked(hub, bus, Signer.for_system("HO-TICH", api_key.plaintext), key.id)
    finally:
        await database.dispose()


def delivered(message: M, at: datetime) -> Delivery[M]:
    """The message as the worker hands it over once authenticated, received at `at`."""
    return Delivery(message, "unit.connectivity", 0, 0, at)


def probe_reply(hub: ConnectivityTracker, token: str | None = None) -> ProbeReply:
    """HO-TICH's reply to a probe the hub sends now, carrying the probe's token unless told another."""
    probe = make_probe(KEY, "HO-TICH", Link.LGSP, hub.topics.connectivity)
    return ProbeReply(
        system="HO-TICH", probe_id=probe.probe_id, token=token or probe.token, probe_sent_at=probe.sent_at
    )


async def status(hub: ConnectivityTracker) -> SystemStatus:
    """HO-TICH's status as stored now."""
    async with hub.database.sessions() as session:
        found = await session.get(SystemStatus, 1)
        assert found is not None
        return found


async def connect(tracked: Tracked, at: datetime) -> UUID:
    """HO-TICH says hello at `at` and answers a probe a second later; the session it opened."""
    session = uuid4()
    hello = Hello(system="HO-TICH", session_id=session)
    assert await tracked.hub.on_connectivity([delivered(hello, at)]) == []
    assert await tracked.hub.on_connectivity([delivered(probe_reply(tracked.hub), at + SECOND)]) == []
    return session


async def evaluated(hub: ConnectivityTracker, at: datetime, *, warm: bool = False) -> SystemStatus:
    """The status once the tracker has evaluated HO-TICH at `at`."""
    async with hub.database.engine.begin() as conn:
        await evaluate(conn, at, hub.limits, warm=warm, owned=lambda code: True)
    return await status(hub)


async def transitions(hub: ConnectivityTracker) -> list[tuple[Link, bool, datetime]]:
    """Every transition recorded, in order: (link, connected, when)."""
    async with hub.database.sessions() as session:
        changes = await session.exec(select(LinkStateChange).order_by(col(LinkStateChange.id)))
        return [(c.link, c.connected, c.at) for c in changes]


# -- ingest ---------------------------------------------------------------------------------------------


async def test_a_hello_signed_by_its_system_opens_a_session_and_counts_as_a_beat(tracked: Tracked) -> None:
    now = utcnow()
    session = uuid4()
    hello = tracked.signer.seal(Hello(system="HO-TICH", session_id=session))
    assert await tracked.receive(hello, at=now) == [None]
    assert tracked.bus.sent == []
    state = await status(tracked.hub)
    assert state.session_id == session and state.last_heartbeat_at == now


async def test_a_hello_not_signed_by_a_live_key_of_its_system_is_refused(tracked: Tracked) -> None:
    """No API key travels any more: a hello proves its system by its signature, checked before the
    tracker sees it (a forged one never opens a session), and the tracker refuses a system it does not
    know even so."""
    now = utcnow()
    stranger = Signer.for_system("HO-TICH", issue_key().plaintext)  # a key the hub never issued
    hello = Hello(system="HO-TICH", session_id=uuid4())
    signed = tracked.signer.seal(hello)
    altered = signed.replace(str(hello.session_id).encode(), str(uuid4()).encode())
    old = tracked.signer.seal(hello.model_copy(update={"sent_at": now - timedelta(minutes=10)}))
    cases = {
        stranger.seal(hello): "unknown_signer",
        tracked.signer.seal(Hello(system="KHONG-CO", session_id=uuid4())): "wrong_signer",
        encode(hello): "unsigned",
        altered: "bad_signature",
        old: "stale",
    }
    assert await tracked.receive(*cases, at=now) == list(cases.values())
    assert (await status(tracked.hub)).session_id is None
    # The same signed hello taken once, then seen again at another position: a replay.
    assert await tracked.receive(signed, signed, at=now) == [None, "replayed"]
    assert (await status(tracked.hub)).session_id == hello.session_id
    # Revoked (a rotation, a retirement): the key stops counting at once.
    async with tracked.hub.database.sessions() as session:
        key = await session.get(ApiKey, tracked.key_id)
        assert key is not None
        key.revoked_at = now
        session.add(key)
        await session.commit()
    again = tracked.signer.seal(Hello(system="HO-TICH", session_id=uuid4()))
    assert await tracked.receive(again, at=now) == ["revoked_key"]
    assert (await status(tracked.hub)).session_id == hello.session_id
    # What the authentication lets through, the tracker still checks against the registry.
    unknown = Hello(system="KHONG-CO", session_id=uuid4())
    [rejection] = await tracked.hub.on_connectivity([delivered(unknown, now)])
    assert rejection.reason == "unknown_system"


async def test_what_the_tracker_sends_is_signed_by_the_hub(tracked: Tracked) -> None:
    beat = Heartbeat(system="HO-TICH", session_id=uuid4())
    assert await tracked.receive(tracked.signer.seal(beat), at=utcnow()) == ["unknown_session"]
    [(topic, value, _)] = tracked.bus.sent
    assert topic == tracked.hub.topics.inbox("HO-TICH")
    assert refusal(INBOX, value, key_of(tracked.bus.signer)) is None
    assert refusal(INBOX, value, key_of(made_up_signer("HO-TICH"))) == "unknown_signer"


async def test_a_heartbeat_without_a_hello_is_refused_and_told_to_say_hello(tracked: Tracked) -> None:
    hub, bus = tracked.hub, tracked.bus
    beat = Heartbeat(system="HO-TICH", session_id=uuid4())
    [rejection] = await hub.on_connectivity([delivered(beat, utcnow())])
    assert rejection.reason == "unknown_session"
    inbox = hub.topics.inbox("HO-TICH")
    [reset] = bus.sent_to(inbox, INBOX)
    assert isinstance(reset, SessionReset) and reset.system == "HO-TICH"
    assert bus.keys_sent_to(inbox) == ["HO-TICH"]
    assert (await status(hub)).last_heartbeat_at is None


async def test_a_probe_reply_counts_only_with_its_token_and_in_time(tracked: Tracked) -> None:
    hub = tracked.hub
    reply = probe_reply(hub)
    timeout = timedelta(seconds=SETTINGS.probe_timeout)
    [forged] = await hub.on_connectivity([delivered(probe_reply(hub, "forged-token"), utcnow())])
    assert forged.reason == "bad_token"
    assert await hub.on_connectivity([delivered(reply, reply.probe_sent_at + timeout + TICK)]) == []
    assert (await status(hub)).last_probe_ok_at is None, "a late reply proves nothing"
    assert await hub.on_connectivity([delivered(reply, reply.probe_sent_at + timeout)]) == []
    assert (await status(hub)).last_probe_ok_at == reply.probe_sent_at + timeout


async def test_a_heartbeat_received_late_never_moves_the_last_one_back(tracked: Tracked) -> None:
    start = utcnow()
    session = await connect(tracked, start)
    beat = Heartbeat(system="HO-TICH", session_id=session)
    assert await tracked.hub.on_connectivity([delivered(beat, start + 10 * SECOND)]) == []
    assert await tracked.hub.on_connectivity([delivered(beat, start + 5 * SECOND)]) == []
    assert (await status(tracked.hub)).last_heartbeat_at == start + 10 * SECOND


# -- evaluation -----------------------------------------------------------------------------------------


async def test_a_new_reason_is_stored_without_a_transition(tracked: Tracked) -> None:
    start = utcnow()
    state = await evaluated(tracked.hub, start)
    assert (state.lgsp_connected, state.lgsp_reason, state.lgsp_since) == (False, NEVER_SAID_HELLO, None)
    hello = Hello(system="HO-TICH", session_id=uuid4())
    await tracked.hub.on_connectivity([delivered(hello, start)])
    state = await evaluated(tracked.hub, start)
    assert (state.lgsp_connected, state.lgsp_reason, state.lgsp_since) == (False, NO_PROBE, None)
    assert await transitions(tracked.hub) == []


async def test_the_lgsp_link_is_up_until_the_heartbeat_is_older_than_its_ttl(tracked: Tracked) -> None:
    start = utcnow()
    await connect(tracked, start)
    up = start + SECOND
    state = await evaluated(tracked.hub, up)
    assert (state.lgsp_connected, state.lgsp_reason, state.lgsp_since) == (True, LGSP_UP, up)
    assert (state.ngsp_connected, state.ngsp_reason) == (False, NOT_ACKNOWLEDGED)
    # The hello was the last beat: it still counts at exactly the TTL, and not a microsecond later.
    edge = start + timedelta(seconds=SETTINGS.heartbeat_ttl)
    assert (await evaluated(tracked.hub, edge)).lgsp_connected
    state = await evaluated(tracked.hub, edge + TICK)
    assert (state.lgsp_connected, state.lgsp_reason, state.lgsp_since) == (
        False,
        HEARTBEAT_STALE,
        edge + TICK,
    )
    assert await transitions(tracked.hub) == [(Link.LGSP, True, up), (Link.LGSP, False, edge + TICK)]


async def test_heartbeats_keep_the_link_up_only_while_a_probe_is_fresh(tracked: Tracked) -> None:
    start = utcnow()
    session = await connect(tracked, start)  # the probe answered at start + 1 s
    beat = Heartbeat(system="HO-TICH", session_id=session)
    for n in range(1, 7):  # the last at start + 30 s, fresh past the probe's TTL
        await tracked.hub.on_connectivity([delivered(beat, start + 5 * n * SECOND)])
    edge = start + SECOND + timedelta(seconds=SETTINGS.probe_ttl)
    assert (await evaluated(tracked.hub, edge)).lgsp_connected
    state = await evaluated(tracked.hub, edge + TICK)
    assert (state.lgsp_connected, state.lgsp_reason) == (False, NO_PROBE)


async def test_the_ngsp_link_needs_the_lgsp_link_and_the_national_evidence(tracked: Tracked) -> None:
    hub = tracked.hub
    start = utcnow()
    await connect(tracked, start)
    at = start + 2 * SECOND
    national: list[Delivery[NgspAck | NgspProbeResult]] = [
        delivered(NgspAck(system="HO-TICH", registered=True), at),
        delivered(NgspProbeResult(system="HO-TICH", ok=True), at),
    ]
    await hub.on_ngsp_events(national)
    state = await evaluated(hub, at)
    assert (state.ngsp_connected, state.ngsp_reason, state.ngsp_since) == (True, NGSP_UP, at)
    stale = start + timedelta(seconds=SETTINGS.heartbeat_ttl) + TICK
    state = await evaluated(hub, stale)
    assert (state.lgsp_connected, state.ngsp_connected) == (False, False)
    assert state.ngsp_reason == f"not connected to the LGSP ({HEARTBEAT_STALE})"
    assert await transitions(hub) == [
        (Link.LGSP, True, at),
        (Link.NGSP, True, at),
        (Link.LGSP, False, stale),
        (Link.NGSP, False, stale),
    ]


async def test_while_warm_a_connected_link_is_held_and_a_new_one_still_connects(tracked: Tracked) -> None:
    hub = tracked.hub
    start = utcnow()
    await connect(tracked, start)
    up = start + SECOND
    assert (await evaluated(hub, up, warm=True)).lgsp_connected
    late = start + timedelta(minutes=5)
    state = await evaluated(hub, late, warm=True)
    assert (state.lgsp_connected, state.lgsp_reason, state.lgsp_since) == (True, LGSP_UP, up)
    state = await evaluated(hub, late)
    assert (state.lgsp_connected, state.lgsp_reason, state.lgsp_since) == (False, HEARTBEAT_STALE, late)


async def test_a_system_another_hub_process_owns_is_left_alone(tracked: Tracked) -> None:
    hub = tracked.hub
    start = utcnow()
    await connect(tracked, start)
    async with hub.database.engine.begin() as conn:
        await evaluate(conn, start + SECOND, hub.limits, warm=False, owned=lambda code: code != "HO-TICH")
    state = await status(hub)
    assert (state.lgsp_connected, state.lgsp_reason) == (False, "never seen")
