"""What the tracker makes of hellos, heartbeats and probe replies, decided against a real SQLite file
with the bus replaced by an in-memory double: no broker, a few milliseconds a case."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import SecretStr

from lgsp.bus import Delivery
from lgsp.connectivity.models import SystemStatus
from lgsp.connectivity.probes import make_probe
from lgsp.connectivity.tracker import ConnectivityTracker
from lgsp.db import Database
from lgsp.registry.models import Agency, ApiKey, Role, System
from lgsp.security import issue_key
from lgsp.settings import Settings
from schemas.common import Link, utcnow
from schemas.messages import INBOX, Heartbeat, Hello, ProbeReply, SessionReset
from tests.support.memory_bus import MemoryBus

KEY = b"k" * 32
Tracked = tuple[ConnectivityTracker, MemoryBus, str]


@pytest.fixture
async def tracker(tmp_path: Path) -> AsyncIterator[Tracked]:
    """A tracker over a fresh SQLite database holding HO-TICH with an API key; returns the key too."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}")
    await database.migrate()
    api_key = issue_key()
    async with database.sessions() as session:
        session.add(Agency(code="SO-TP", name="Sở Tư pháp"))
        system = System(code="HO-TICH", name="Civil status", agency_code="SO-TP")
        session.add(system)
        await session.flush()
        assert system.id is not None
        session.add(SystemStatus(system_id=system.id))
        session.add(
            ApiKey(
                lookup=api_key.lookup,
                digest=api_key.digest,
                role=Role.SYSTEM,
                system_id=system.id,
                agency_code="SO-TP",
            )
        )
        await session.commit()
    bus = MemoryBus()
    settings = Settings(admin_token=SecretStr("unit-admin-token-0123456789"))
    try:
        yield ConnectivityTracker(settings, database, bus.as_bus(), KEY), bus, api_key.plaintext
    finally:
        await database.dispose()


def delivered(
    message: Hello | Heartbeat | ProbeReply, after: timedelta = timedelta()
) -> Delivery[Hello | Heartbeat | ProbeReply]:
    """The message as the worker hands it over, received now (or `after` from now)."""
    return Delivery(message, "unit.connectivity", 0, 0, utcnow() + after)


async def status(tracker: ConnectivityTracker) -> SystemStatus:
    async with tracker.database.sessions() as session:
        found = await session.get(SystemStatus, 1)
        assert found is not None
        return found


async def test_a_hello_with_the_right_key_opens_a_session_and_counts_as_a_beat(tracker: Tracked) -> None:
    hub, bus, api_key = tracker
    session = uuid4()
    rejections = await hub.on_connectivity(
        [delivered(Hello(system="HO-TICH", session_id=session, api_key=api_key))]
    )
    assert rejections == [] and bus.sent == []
    state = await status(hub)
    assert state.session_id == session and state.last_heartbeat_at is not None


async def test_a_heartbeat_without_a_hello_is_refused_and_told_to_say_hello(tracker: Tracked) -> None:
    hub, bus, _ = tracker
    [rejection] = await hub.on_connectivity([delivered(Heartbeat(system="HO-TICH", session_id=uuid4()))])
    assert rejection.reason == "unknown_session"
    [reset] = bus.sent_to(hub.topics.inbox("HO-TICH"), INBOX)
    assert isinstance(reset, SessionReset) and reset.system == "HO-TICH"
    assert (await status(hub)).last_heartbeat_at is None


async def test_a_wrong_key_or_an_unknown_system_is_refused(tracker: Tracked) -> None:
    hub, _, api_key = tracker
    rejections = await hub.on_connectivity(
        [
            delivered(Hello(system="HO-TICH", session_id=uuid4(), api_key=issue_key().plaintext)),
            delivered(Hello(system="KHONG-CO", session_id=uuid4(), api_key=api_key)),
        ]
    )
    assert [r.reason for r in rejections] == ["unauthenticated", "unknown_system"]
    assert (await status(hub)).session_id is None


async def test_a_probe_reply_counts_only_with_its_token_and_in_time(tracker: Tracked) -> None:
    hub, _, _ = tracker
    probe = make_probe(KEY, "HO-TICH", Link.LGSP, hub.topics.connectivity)

    def reply(token: str) -> ProbeReply:
        return ProbeReply(system="HO-TICH", probe_id=probe.probe_id, token=token, probe_sent_at=probe.sent_at)

    [forged] = await hub.on_connectivity([delivered(reply("forged-token"))])
    assert forged.reason == "bad_token"
    assert await hub.on_connectivity([delivered(reply(probe.token), after=timedelta(seconds=60))]) == []
    assert (await status(hub)).last_probe_ok_at is None, "a late reply proves nothing"
    assert await hub.on_connectivity([delivered(reply(probe.token))]) == []
    assert (await status(hub)).last_probe_ok_at is not None
