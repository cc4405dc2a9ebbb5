"""Fault 3 of issue 7: PostgreSQL restarted under load (a private cluster: never the shared one)."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.sdk import Connector
from schemas.messages import REQUESTS, ServiceRequest
from schemas.onceonly import load_catalogue
from schemas.topics import Topics
from tests.faults.support import (
    DossierStream,
    ExchangeStream,
    PrivateCluster,
    Tap,
    birth_record_pair,
    dossier_rows,
    duplicates,
    exchange_records,
    fault_settings,
    report,
    wait_settled,
)
from tests.support import Broker, Hub, delete_topics, eventually, running_hub

pytestmark = pytest.mark.faults

DOWN = 6.0  # seconds PostgreSQL stays stopped
RATE = 10.0  # exchanges per second
DOSSIER_RATE = 5.0
#: What the API is asked while the database is away: a read and a write as admin, a public read, a list.
PROBES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/systems", None),
    ("GET", "/api/v1/indicators", None),
    ("GET", "/api/v1/exchanges", None),
    ("POST", "/api/v1/agencies", {"code": "SO-XD", "name": "Sở Xây dựng", "level": "province"}),
]


@pytest.fixture
async def cluster() -> AsyncIterator[PrivateCluster]:
    """A PostgreSQL cluster of this test alone, with an empty `lgsp` database."""
    private = PrivateCluster()
    try:
        await asyncio.to_thread(private.init)
        await asyncio.to_thread(private.start)
        await asyncio.to_thread(private.create_database, "lgsp")
        yield private
    finally:
        await asyncio.to_thread(private.remove)


async def ask(hub: Hub, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, str]:
    """One API call; an exception escaping the application counts as a 500 (it is one over HTTP)."""
    try:
        response = await asyncio.wait_for(hub.client.request(method, path, json=body), 20)
    except (httpx.HTTPError, TimeoutError):
        raise  # the test's own client failed: not an answer of the hub
    except Exception as exc:  # raised out of the ASGI app: uvicorn would answer 500
        return 500, f"{type(exc).__name__}: {exc}"[:300]
    if response.status_code == 503 and path != "/readyz":
        error = response.json().get("error", {})
        retry = response.headers.get("Retry-After")
        return 503, f"{error.get('code')}: {error.get('message')} (Retry-After {retry})"
    return response.status_code, response.text[:300]


async def test_postgresql_restarted_under_load(
    cluster: PrivateCluster, broker: Broker, tmp_path: Path
) -> None:
    """PostgreSQL stops (pg_ctl stop -m fast) for a few seconds while exchanges and dossiers flow. While
    it is away the API answers 503 with a clear error, never 500, and /readyz says the database is
    unavailable; when it is back the API recovers without restarting the hub, and the consumers, which
    paused, resume: every request on the bus has exactly one record and every acknowledged dossier is
    in the ledger once."""
    began = time.perf_counter()
    url = cluster.url("lgsp")
    settings = fault_settings(url, tmp_path)
    topics = Topics(settings.topic_prefix)
    connectors: list[Connector] = []
    tap = await Tap(broker.bootstrap, [topics.requests], REQUESTS).start()
    try:
        async with running_hub(settings, broker.bootstrap) as hub:
            pair = await birth_record_pair(hub.client, settings, broker.bootstrap, connectors)
            client = pair.client

            stop = asyncio.Event()
            exchanges = ExchangeStream(client, "HO-TICH", pair.service, RATE, timeout=15.0)
            dossiers = DossierStream(client, load_catalogue(), DOSSIER_RATE)
            streams = [asyncio.create_task(exchanges.run(stop)), asyncio.create_task(dossiers.run(stop))]
            await asyncio.sleep(3)

            # -- PostgreSQL away -----------------------------------------------------------------
            await asyncio.to_thread(cluster.stop, "fast")
            down_since = time.perf_counter()
            answers: Counter[int] = Counter()
            messages: set[str] = set()
            while time.perf_counter() - down_since < DOWN:
                for method, path, body in PROBES:
                    status, message = await ask(hub, method, path, body)
                    answers[status] += 1
                    messages.add(f"{status} {message}" if status != 503 else message)
                readyz = await hub.client.get("/readyz")
                assert readyz.status_code == 503, readyz.text
                assert readyz.json()["checks"]["database"] != "ok"
                await asyncio.sleep(0.5)
            restart_s = await asyncio.to_thread(cluster.start)
            back_since = time.perf_counter()

            # -- back, without restarting the hub ------------------------------------------------
            async def api_back() -> bool:
                return all(
                    [(await ask(hub, "GET", p, None))[0] == 200 for p in ("/api/v1/systems", "/readyz")]
                )

            await eventually(api_back, timeout=30, interval=0.5, what="the API to recover")
            recovered_s = time.perf_counter() - back_since
            await asyncio.sleep(5)
            stop.set()
            await asyncio.gather(*streams)
            await exchanges.settle()

            await wait_settled(url, dossiers.acknowledged, timeout=40)
            await asyncio.sleep(1.0)  # the tap catches up

        requests = Counter(str(m.message_id) for m in tap.of(ServiceRequest) if m.client == "MOT-CUA")
        records = await exchange_records(url)
        ledger = await dossier_rows(url)
        tally = exchanges.tally()
        summary = {
            "down_s": DOWN,
            "api_answers_while_down": dict(answers),
            "api_messages_while_down": sorted(messages),
            "postgres_start_s": round(restart_s, 1),
            "api_recovered_after_s": round(recovered_s, 1),
            "sent": exchanges.started,
            "on_the_bus": len(requests),
            "answered": tally["success"],
            "failed_with_code": {k: v for k, v in tally.items() if k != "success"},
            "records": len(records),
            "lost_records": len(set(requests) - set(records)),
            "duplicated_records": duplicates(c for c, _, _ in records.values()),
            "dossiers_acknowledged": len(dossiers.acknowledged),
            "dossier_rows": sum(ledger.values()),
            "lost_dossiers": len(set(dossiers.acknowledged) - set(ledger)),
            "duplicated_dossiers": duplicates(ledger.values()),
            "pending_records": sum(1 for _, o, _ in records.values() if o == "pending"),
            "runtime_s": round(time.perf_counter() - began, 1),
        }
        report("PostgreSQL restarted", summary)

        assert set(answers) == {503}, f"while PostgreSQL was away the API answered {sorted(messages)}"
        assert all(m.startswith("server.unavailable: ") for m in messages), messages
        assert len(exchanges.outcomes) == exchanges.started, "a request never ended"
        assert not [o for o in tally if o.startswith("error:")], f"requests failed without a code: {tally}"
        assert len(requests) == exchanges.started, "every request reached the bus (the broker stayed up)"
        assert set(records) == set(requests), "exchange records lost, or records nobody sent"
        assert summary["duplicated_records"] == 0 and summary["pending_records"] == 0
        assert tally["client.no_answer"] == 0, f"the hub never answered some requests: {tally}"
        assert not dossiers.failed
        assert set(dossiers.acknowledged) == set(ledger) and summary["duplicated_dossiers"] == 0
    finally:
        await tap.stop()
        for connector in connectors:
            await connector.stop()
        await delete_topics(broker.bootstrap, settings.topic_prefix)
