"""Fault 1 of issue 7: the hub process SIGKILLed in the middle of a stream of exchanges and dossiers."""

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from connectors.sdk import Connector
from schemas.messages import INBOX, REQUESTS, ServiceRequest, ServiceResult
from schemas.onceonly import load_catalogue
from schemas.topics import Topics
from tests.faults.support import (
    DossierStream,
    ExchangeStream,
    HubProcess,
    Tap,
    birth_record_pair,
    disconnections,
    dossier_rows,
    duplicates,
    exchange_records,
    fault_settings,
    report,
    wait_settled,
)
from tests.support import Broker, delete_topics

pytestmark = pytest.mark.faults

RATE = 20.0  # exchanges per second
DOSSIER_RATE = 8.0  # dossier reports per second
BEFORE_KILL = 5.0  # seconds of traffic before the kill
DOWN = 1.0  # seconds between the kill and the restart (traffic goes on: the broker keeps it)
AFTER_RESTART = 5.0  # seconds of traffic once the restarted hub is ready
REQUEST_TIMEOUT = 15.0  # long enough that a restart does not time out what was already forwarded


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_hub_killed_mid_stream_loses_and_duplicates_nothing(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    """A hub killed with SIGKILL while exchanges and dossiers stream through it, then started again:
    every request ends with an answer or an ExchangeError code given by the hub, every request the broker
    took has exactly one exchange record (none lost, none duplicated), the records agree with what the
    clients were told, and every acknowledged dossier report is in the ledger exactly once.

    The hub runs as its own OS process (`lgsp hub`) on the session broker and a fresh PostgreSQL
    database; the connectors run here, so they live through the crash as real integrators' would.
    """
    began = time.perf_counter()
    settings = fault_settings(database_url, tmp_path)
    topics = Topics(settings.topic_prefix)
    hub = HubProcess(settings, broker.bootstrap, tmp_path)
    catalogue = load_catalogue()
    taps: list[Tap] = []
    connectors: list[Connector] = []
    try:
        first_start = await hub.start()
        async with hub.client() as api:
            pair = await birth_record_pair(api, settings, broker.bootstrap, connectors)
            client, served = pair.client, pair.served

        taps = [
            await Tap(broker.bootstrap, [topics.requests], REQUESTS).start(),
            await Tap(broker.bootstrap, [topics.inbox("MOT-CUA")], INBOX).start(),
        ]
        stop = asyncio.Event()
        exchanges = ExchangeStream(client, "HO-TICH", pair.service, RATE, REQUEST_TIMEOUT)
        dossiers = DossierStream(client, catalogue, DOSSIER_RATE)
        streams = [asyncio.create_task(exchanges.run(stop)), asyncio.create_task(dossiers.run(stop))]

        await asyncio.sleep(BEFORE_KILL)
        await hub.kill()
        sent_before_kill = exchanges.started
        await asyncio.sleep(DOWN)
        restart = await hub.start()
        await asyncio.sleep(AFTER_RESTART)
        stop.set()
        await asyncio.gather(*streams)
        await exchanges.settle()  # each request ends within its timeout + 10 s

        await wait_settled(database_url, dossiers.acknowledged, timeout=30)
        await asyncio.sleep(1.0)  # the taps catch up with the last results

        requests = [m for m in taps[0].of(ServiceRequest) if m.client == "MOT-CUA"]
        results = taps[1].of(ServiceResult)
        records = await exchange_records(database_url)
        ledger = await dossier_rows(database_url)
        # The systems stayed up all along: a disconnection recorded now would blame them for the crash.
        blamed = await disconnections(database_url)

        sent = Counter(str(m.message_id) for m in requests)
        number = {str(m.message_id): int(m.payload["citizen_id"][3:]) for m in requests}
        delivered = Counter(str(m.exchange_id) for m in results)
        tally = exchanges.tally()
        # What each client was told against what its record says (no_answer: the hub never told it).
        disagreements = []
        for exchange_id, (_, outcome, code) in records.items():
            told = exchanges.outcomes.get(number.get(exchange_id, -1))
            recorded = "success" if outcome == "success" else code
            if told is not None and told != "client.no_answer" and told != recorded:
                disagreements.append((exchange_id, told, recorded))
        summary = {
            "sent": exchanges.started,
            "sent_before_kill": sent_before_kill,
            "on_the_bus": len(sent),
            "answered": tally["success"],
            "failed_with_code": {k: v for k, v in tally.items() if k != "success"},
            "records": len(records),
            "lost_records": len(set(sent) - set(records)),
            "duplicated_records": duplicates(c for c, _, _ in records.values()),
            "unanswered": tally["client.no_answer"],
            "results_delivered_twice": duplicates(delivered.values()),
            "served_twice_by_provider": duplicates(served.values()),
            "disagreements": len(disagreements),
            "disconnections_recorded": blamed,
            "dossiers_acknowledged": len(dossiers.acknowledged),
            "dossier_send_failures": dict(dossiers.failed),
            "dossier_rows": sum(ledger.values()),
            "lost_dossiers": len(set(dossiers.acknowledged) - set(ledger)),
            "duplicated_dossiers": duplicates(ledger.values()),
            "pending_records": sum(1 for _, o, _ in records.values() if o == "pending"),
            "hub_start_s": round(first_start, 1),
            "hub_restart_s": round(restart, 1),
            "runtime_s": round(time.perf_counter() - began, 1),
        }
        report("hub SIGKILLed", summary)

        assert len(exchanges.outcomes) == exchanges.started, "a request never ended"
        assert not [o for o in tally if o.startswith("error:")], f"requests failed without a code: {tally}"
        assert len(sent) == exchanges.started and duplicates(sent.values()) == 0, "what reached the bus"
        assert set(records) == set(sent), "exchange records lost, or records nobody sent"
        assert summary["duplicated_records"] == 0 and summary["pending_records"] == 0
        assert summary["unanswered"] == 0, f"the hub never answered some requests: {tally}"
        assert not disagreements, f"clients told one thing, records say another: {disagreements[:5]}"
        assert summary["served_twice_by_provider"] == 0
        assert not dossiers.failed, "the broker stayed up: every dossier report must be acknowledged"
        assert summary["lost_dossiers"] == 0 and summary["duplicated_dossiers"] == 0
        assert set(dossiers.acknowledged) == set(ledger), "dossiers nobody sent in the ledger"
    finally:
        for tap in taps:
            await tap.stop()
        for connector in connectors:
            await connector.stop()
        await hub.stop()
        await delete_topics(broker.bootstrap, settings.topic_prefix)
