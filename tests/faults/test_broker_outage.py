"""Fault 2 of issue 7: the broker stopped for 20 seconds under load, then started again."""

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from connectors.sdk import Connector
from lgsp.bus.broker import EmbeddedBroker
from lgsp.bus.outbox import OutboxMessage
from lgsp.db import Database
from sandbox.ngsp.service import running_gateway
from schemas.messages import NGSP_REQUESTS, NgspRegistration
from schemas.topics import Topics
from tests.faults.support import (
    ExchangeStream,
    Tap,
    birth_record_pair,
    exchange_records,
    fault_settings,
    report,
    where_stuck,
)
from tests.support import Hub, connector_for, eventually, running_hub

pytestmark = pytest.mark.faults

OUTAGE = 20.0  # seconds the broker stays down
RATE = 10.0  # exchanges per second, before, during and after the outage
NEW_SYSTEMS = ["DAT-DAI", "XAY-DUNG", "BHXH"]


async def outbox(database: Database) -> list[OutboxMessage]:
    async with database.sessions() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def links(hub: Hub, system_id: int) -> tuple[bool, bool]:
    body = (await hub.client.get(f"/api/v1/systems/{system_id}/status")).json()
    return bool(body["lgsp_connected"]), bool(body["ngsp_connected"])


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_broker_down_for_20_seconds_under_load(
    database_url: str, own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """The broker (the test's own) stops for 20 s while exchanges flow. Meanwhile systems registered
    over REST are kept (201 at once) and their NGSP registrations wait in the outbox; when the broker is
    back the outbox delivers them, hub and connectors reconnect by themselves, exchanges succeed again,
    the new systems connect on both links, and the connectivity report shows the gap as platform
    downtime (the hub could reach nobody, so the systems are not blamed for it)."""
    began = time.perf_counter()
    settings = fault_settings(database_url, tmp_path)
    topics = Topics(settings.topic_prefix)
    bootstrap = own_broker.bootstrap
    connectors: list[Connector] = []
    database = Database(database_url)
    tap = await Tap(bootstrap, [topics.ngsp_requests], NGSP_REQUESTS).start()
    try:
        async with running_hub(settings, bootstrap) as hub, running_gateway(settings, bootstrap):
            pair = await birth_record_pair(hub.client, settings, bootstrap, connectors)
            client = pair.client
            ids = [pair.provider_system["id"], pair.client_system["id"]]

            async def both_linked() -> bool:
                return all([await links(hub, i) == (True, True) for i in ids])

            await eventually(both_linked, timeout=30, what="provider and client on both links")
            await asyncio.sleep(1.5)  # the router's directory cache catches up

            stop = asyncio.Event()
            exchanges = ExchangeStream(client, "HO-TICH", pair.service, RATE, timeout=5.0)
            stream = asyncio.create_task(exchanges.run(stop))
            await asyncio.sleep(3)
            before = exchanges.tally()

            # -- the outage ------------------------------------------------------------------------
            await own_broker.stop()  # memory only: every topic, message and group offset goes with it
            stopped_at = datetime.now(UTC)
            down_since = time.perf_counter()
            registered: dict[str, dict[str, Any]] = {}
            for code in NEW_SYSTEMS:
                body = {"code": code, "name": f"System {code}", "agency_code": "SO-TP"}
                response = await asyncio.wait_for(hub.client.post("/api/v1/systems", json=body), 5)
                assert response.status_code == 201, response.text
                registered[code] = response.json()
            listing = (await hub.client.get("/api/v1/systems", params={"limit": 100})).json()
            assert {s["code"] for s in listing["items"]} >= set(NEW_SYSTEMS), "registrations kept"
            waiting = [NGSP_REQUESTS.decode(row.value) for row in await outbox(database)]
            pending = {m.message_id: m.system for m in waiting if isinstance(m, NgspRegistration)}
            assert set(pending.values()) >= set(NEW_SYSTEMS), "their NGSP registrations wait in the outbox"

            async def bus_down() -> bool:
                response = await hub.client.get("/readyz")
                return response.status_code == 503 and response.json()["checks"]["bus"] != "ok"

            await eventually(bus_down, timeout=10, what="/readyz to report the bus down")
            await asyncio.sleep(max(0.0, OUTAGE - (time.perf_counter() - down_since)))
            during = exchanges.tally() - before
            await own_broker.start()  # same port, empty
            restarted_at = datetime.now(UTC)
            back_since = time.perf_counter()
            await tap.reopen()

            # -- recovery, by themselves -----------------------------------------------------------
            async def outbox_drained() -> bool:
                return not await outbox(database)

            async def registrations_delivered() -> bool:
                seen = {m.message_id for m in tap.of(NgspRegistration)}
                return set(pending) <= seen

            await eventually(outbox_drained, timeout=60, interval=0.5, what="the outbox to drain")
            await eventually(
                registrations_delivered, timeout=30, what="the outbox's registrations on the bus"
            )
            try:
                await eventually(both_linked, timeout=60, interval=0.5, what="old connectors reconnected")
            except AssertionError as exc:
                states = (await hub.client.get("/api/v1/connectivity/systems")).json()["items"]
                seen = [(s["code"], s["lgsp_connected"], s["last_heartbeat_at"]) for s in states]
                stuck = where_stuck("-heartbeat", "-inbox", "-worker")
                raise AssertionError(f"{exc}: {seen}; tasks: {stuck}") from None
            reconnected_s = time.perf_counter() - back_since
            mark = exchanges.started

            async def exchanging_again() -> bool:
                return any(o == "success" for n, o in exchanges.outcomes.items() if n >= mark)

            try:
                await eventually(
                    exchanging_again, timeout=60, interval=0.5, what="exchanges to succeed again"
                )
            except AssertionError as exc:
                since = Counter(o for n, o in exchanges.outcomes.items() if n >= mark)
                workers = [(w.name, w.healthy, w.owned_partitions()) for w in hub.app.state.runtime.workers]
                stuck = where_stuck("-requests", "-responses", "-heartbeat", "-inbox")
                raise AssertionError(
                    f"{exc}: outcomes since {since}, hub workers {workers}; {stuck}"
                ) from None
            exchanging_s = time.perf_counter() - back_since

            newcomers = [connector_for(registered[c], settings, bootstrap) for c in NEW_SYSTEMS]
            connectors += newcomers
            for connector in newcomers:
                await connector.start()

            async def newcomers_linked() -> bool:
                return all([await links(hub, registered[c]["id"]) == (True, True) for c in NEW_SYSTEMS])

            await eventually(newcomers_linked, timeout=60, interval=0.5, what="the new systems connected")

            async def ready() -> bool:
                return (await hub.client.get("/readyz")).status_code == 200

            await eventually(ready, timeout=30, what="/readyz to report every worker consuming")
            await asyncio.sleep(3)
            stop.set()
            await stream
            await exchanges.settle()

            today = datetime.now(UTC).date()
            period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
            response = await hub.client.get("/api/v1/reports/connectivity", params=period | {"outages": True})
            assert response.status_code == 200, response.text
            connectivity = response.json()

        records = await exchange_records(database_url)
        downtime = [
            (parse(d["start"]), parse(d["end"]), d["seconds"]) for d in connectivity["platform_downtime"]
        ]
        # The stretch of downtime that overlaps the outage (the day before the hub started is one too).
        gap = [d for d in downtime if d[0] < restarted_at and d[1] > stopped_at]
        by_code = {line["code"]: line for line in connectivity["systems"]}
        after = exchanges.tally() - before - during
        told_success = {n for n, o in exchanges.outcomes.items() if o == "success"}
        summary = {
            "outage_s": round((restarted_at - stopped_at).total_seconds(), 1),
            "broker_stopped_at": stopped_at.isoformat(timespec="seconds"),
            "broker_started_at": restarted_at.isoformat(timespec="seconds"),
            "sent": exchanges.started,
            "outcomes_before": dict(before),
            "outcomes_during": dict(during),
            "outcomes_after": dict(after),
            "records": len(records),
            "success_records": sum(1 for _, o, _ in records.values() if o == "success"),
            "told_success": len(told_success),
            "registered_during_outage": len(NEW_SYSTEMS),
            "outbox_events_delivered": len(pending),
            "reconnected_after_s": round(reconnected_s, 1),
            "exchanging_after_s": round(exchanging_s, 1),
            "platform_downtime_in_gap": [
                (s.isoformat(timespec="seconds"), e.isoformat(timespec="seconds"), round(x, 1))
                for s, e, x in gap
            ],
            "lgsp_share": {c: round(line["lgsp"]["share"] or 0, 3) for c, line in by_code.items()},
            "runtime_s": round(time.perf_counter() - began, 1),
        }
        report("broker stopped 20 s", summary)

        unclear = [o for o in exchanges.tally() if o.startswith("error:")]
        assert not unclear, f"failures without a stable code (or answers mixed up): {unclear}"
        assert len(exchanges.outcomes) == exchanges.started, "a request never ended"
        successes = sum(1 for _, o, _ in records.values() if o == "success")
        assert successes >= len(told_success), "a client was told of a success the records do not hold"
        assert gap, f"the broker outage is not platform downtime: {downtime}"
        (start, end, seconds) = max(gap, key=lambda d: d[2])
        assert seconds >= OUTAGE - 8, f"platform downtime {seconds:.1f}s for a {OUTAGE:.0f}s broker outage"
        assert start >= stopped_at - timedelta(seconds=1) and end <= restarted_at + timedelta(seconds=15)
    finally:
        await tap.stop()
        for connector in connectors:
            await connector.stop()
        await database.dispose()
