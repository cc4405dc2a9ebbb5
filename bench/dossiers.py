"""Benchmark of once-only dossiers end to end: one-stop shops -> evidence lookups -> the hub's ledger.

The issue's step 3, on the real parts: one embedded Tansu broker, the hub as a separate ``lgsp hub``
process (SQLite by default, a fresh PostgreSQL database with ``--database postgresql``), started and
measured with the helpers of ``bench/exchange.py`` (``bench/common.py``), and the SDK's ``Connector``
for every system. The evidence holders serve generated datasets (``connectors/datasets``, the way
``lgsp demo`` serves them) and the one-stop shops run ``connectors/onestop.py``'s ``OneStopShop``.

The catalogue is the shipped one cut down to a single procedure requiring three documents, each from a
different provincial holder, so each dossier asks three holder connectors at once, like the shipped
three-document procedures (marriage registration, land-use transfer), without the NGSP stub those need
for the national population database (the NGSP path is not what this measures):

    bench-three-documents: requires birth-certificate (HO-TICH), land-use-right-certificate (DAT-DAI) and
    health-insurance-card (BHXH); produces marital-status-confirmation (HO-TICH)

One dossier is therefore three evidence lookups in parallel, then the issued document registered with
its holder (four routed exchanges through the hub, each persisted), then the dossier report on
``<prefix>.dossiers``, which the hub's ledger classifies and records. Applicants are sampled from the
generated population, and each brings a copy of every required document (the holder's own when its
dataset has one, else one obtained elsewhere), so no dossier is refused: lookups the data answer are
reused, the others are submitted, and a copy submitted again later is a re-submission, as in life.

A dossier is done **end to end** when the ledger has recorded it: its ``recorded_at`` (the hub's clock,
set in the ledger's transaction) is read back from the hub's database afterwards, so measuring adds no
load while the hub works. Phases, after a warm-up in which every shop gets answers from every holder:

1. **saturation** (closed loop): ``--inflight`` dossiers always in flight, spread over ``--offices``
   one-stop shops; after ``--warmup`` seconds, the dossiers the ledger recorded over ``--duration``
   seconds (``dossiers_per_s``), with the hub's, the broker's and this process's CPU meanwhile;
2. **latency** at half that rate (open loop): dossiers started on a fixed schedule for
   ``--latency-duration`` seconds after a warm-up; latency from each scheduled start to the ledger's
   record (``p50_ms``, ``p99_ms``; queueing counts), and to the shop's completion (report acknowledged by
   the broker) apart.

The load (shops and holders, with their SQLite lookups) runs in this process, whose CPU is reported
as ``generator_cpu_cores``. One JSON object on stdout, figures with their unit in the key; progress on
stderr. A default run takes about a minute::

    .venv/bin/python bench/dossiers.py
    .venv/bin/python bench/dossiers.py --database postgresql
    .venv/bin/python bench/dossiers.py --duration 5 --latency-duration 5 --inflight 20 --applicants 200
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col

from connectors.datasets import Datasets, PopulationStore, SqliteStore, generate_all
from connectors.declarative.holder import evidence_declarations
from connectors.evidence import EvidenceHolder, evidence_stores
from connectors.onestop import Filing, OneStopShop
from connectors.sdk import Connector
from connectors.services import served_datasets
from lgsp.bus.broker import EmbeddedBroker
from lgsp.db import Database
from lgsp.onceonly.models import Dossier
from schemas.onceonly import Catalogue, Document, EvidenceQuery, content_hash, load_catalogue
from schemas.topics import Topics

from common import (
    ADMIN_TOKEN,
    FETCH_MAX_WAIT_MS,
    INBOX_PARTITIONS,
    PARTITIONS,
    SESSION_TIMEOUT_MS,
    Child,
    Clock,
    create_topics,
    database_url,
    loadavg,
    note,
    percentile_ms,
    rss_mib,
    spread_codes,
    start_hub,
    topic_layout,
    wait_connected,
)

PROCEDURE = "bench-three-documents"
REQUIRED = ("birth-certificate", "land-use-right-certificate", "health-insurance-card")
#: The purpose the warm-up lookups name (every request about a person names one).
WARM_UP_PURPOSE = "identity-verification"
PRODUCED = ("marital-status-confirmation",)
HOLDER_AGENCY = "SO-BENCH"
OFFICE_AGENCY = "VP-UBND"
# Long enough that no lookup times out at saturation: a timeout would turn into a "holder unreachable"
# component and a cheaper dossier, flattering the figure.
LOOKUP_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 60.0  # longest wait for the ledger to record the dossiers already reported
SEED = 7


def bench_catalogue(path: Path) -> Catalogue:
    """Write the benchmark's catalogue (one procedure, and the shipped document types of its holders) to
    `path` for the hub, and load it back through the same validation the hub applies. Every type of those
    holders, not only the procedure's: each holder's shipped config serves evidence of all the types it
    holds, and refuses to start on a catalogue that does not give it one of them."""
    shipped = load_catalogue()
    holders = {shipped.document_type(code).holder for code in (*REQUIRED, *PRODUCED)}
    types = {
        code: document_type.model_dump(mode="json", exclude={"code"})
        for code, document_type in shipped.document_types.items()
        if document_type.holder in holders
    }
    procedure = {
        "name": "Thủ tục đo hiệu năng (three documents from three holders)",
        "applicant": "citizen",
        "requires": list(REQUIRED),
        "produces": list(PRODUCED),
        "weight": 1,
    }
    document = {"document_types": types, "procedures": {PROCEDURE: procedure}}
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_catalogue(path)


@dataclass(frozen=True, slots=True)
class Applicant:
    """A citizen and the copies they bring of every required document."""

    citizen_id: str
    brought: dict[str, Document]


async def applicants(datasets: Datasets, catalogue: Catalogue, count: int) -> list[Applicant]:
    """`count` citizens of the datasets with their papers, read from the holders' data without the bus
    (what `lgsp simulate` does too); a copy the data do not hold is one the applicant obtained
    elsewhere, with content no holder knows."""
    async with await datasets.open(PopulationStore) as people:
        citizens = await people.sample_citizens(min(count, datasets.citizens), SEED)
    stores: list[SqliteStore] = []
    try:
        papers: dict[str, EvidenceHolder] = {}
        for holder in sorted(catalogue.holders()):
            opened = [await datasets.open(store) for store in evidence_stores(holder, catalogue)]
            stores += opened
            papers[holder] = EvidenceHolder(holder, catalogue, opened, as_of=datasets.as_of)
        result = []
        for citizen in citizens:
            brought: dict[str, Document] = {}
            for code in REQUIRED:
                query = EvidenceQuery(document_type=code, subject=citizen, on=datasets.as_of)
                held = (await papers[catalogue.document_type(code).holder].get(query)).document
                brought[code] = held or obtained_elsewhere(code, citizen, datasets.as_of)
            result.append(Applicant(citizen, brought))
        return result
    finally:
        for store in stores:
            await store.close()


def obtained_elsewhere(document_type: str, subject: str, day: date) -> Document:
    """A copy the applicant got outside the axis a month before `day`, valid for a year."""
    issued = day - timedelta(days=30)
    return Document(
        document_type=document_type,
        subject=subject,
        issued_on=issued,
        valid_until=issued + timedelta(days=365),
        content_hash=content_hash(document_type, subject, {"obtained": issued.isoformat(), "bench": True}),
    )


# ---------------------------------------------------------------------------------------------------
# The load: one-stop shops filing dossiers, closed and open loop


@dataclass
class Sample:
    """One dossier: when it started (scheduled, in the open loop) and when the shop had filed it, as wall
    time (`time.time()`, comparable with the hub's `recorded_at`)."""

    dossier_id: str
    started: float
    filed: float


@dataclass
class Office:
    """The one-stop shops, what they file, and what their dossiers' lookups found."""

    shops: list[OneStopShop]
    people: list[Applicant]
    day: date
    lookups: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    reported: int = 0  # dossiers filed and reported to the ledger so far

    async def file(self, n: int) -> str | None:
        """File dossier number `n` (shop and applicant round-robin); its id, or None if it failed."""
        person = self.people[n % len(self.people)]
        filing = Filing(PROCEDURE, person.citizen_id, self.day, dict(person.brought))
        try:
            report = await self.shops[n % len(self.shops)].file(filing)
        except Exception as exc:  # counted and shown: a failed dossier must not stop the load
            self.errors[type(exc).__name__] += 1
            return None
        self.lookups.update(component.lookup for component in report.components)
        self.reported += 1
        return str(report.dossier_id)

    async def warm_up(self, within: float = 60.0) -> None:
        """Every shop gets an answer from every holder (the hub may not yet know a session, or count a
        holder connected, for a moment after the connectors start)."""
        deadline = time.perf_counter() + within
        person = self.people[0]
        for shop in self.shops:
            for code in REQUIRED:
                while (
                    found := await shop.lookup(code, person.citizen_id, self.day, WARM_UP_PURPOSE)
                ).outcome == ("holder_unreachable"):
                    if time.perf_counter() > deadline:
                        raise TimeoutError(
                            f"{shop.connector.system} got no answer for {code}: {found.reason}"
                        )
                    await asyncio.sleep(0.2)


async def closed_loop(
    office: Office, inflight: int, warmup: float, seconds: float, pids: Sequence[int]
) -> tuple[list[Sample], tuple[float, float], Clock, Clock]:
    """`inflight` dossiers always in flight; every dossier's sample, the measured window (wall times,
    after `warmup`) and the CPU clocks at its start and end."""
    samples: list[Sample] = []
    counter = iter(range(10**9))
    running = True

    async def loop() -> None:
        while running:
            started = time.time()
            dossier = await office.file(next(counter))
            if dossier is not None:
                samples.append(Sample(dossier, started, time.time()))
            else:
                await asyncio.sleep(0.05)  # a failing dossier must not turn into a busy loop

    tasks = [asyncio.create_task(loop()) for _ in range(inflight)]
    try:
        await asyncio.sleep(warmup)
        start, window_start = Clock.now(pids), time.time()
        await asyncio.sleep(seconds)
        end, window_end = Clock.now(pids), time.time()
        running = False
        async with asyncio.timeout(3 * LOOKUP_TIMEOUT_S + 15):  # the dossiers in flight finish
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return samples, (window_start, window_end), start, end


async def open_loop(
    office: Office, rate: float, warmup: float, seconds: float
) -> tuple[list[Sample], int, float]:
    """Dossiers started on a fixed schedule at `rate` per second for `warmup` + `seconds`; the samples of
    those scheduled after `warmup` (started = the scheduled time), the starts more than 5 ms late, and
    this process's CPU in cores while scheduling."""
    samples: list[Sample] = []
    total = max(1, int(rate * (warmup + seconds)))
    begin = time.perf_counter() + 0.05
    wall_offset = time.time() - time.perf_counter()  # perf_counter -> wall time
    measured_from = begin + warmup
    late_starts = 0

    async def one(n: int, scheduled: float) -> None:
        dossier = await office.file(n)
        if dossier is not None and scheduled >= measured_from:
            samples.append(Sample(dossier, scheduled + wall_offset, time.time()))

    tasks: list[asyncio.Task[None]] = []
    start_cpu = time.process_time()
    while len(tasks) < total:
        now = time.perf_counter()
        due = min(total, int((now - begin) * rate) + 1)
        while len(tasks) < due:
            scheduled = begin + len(tasks) / rate
            late_starts += now - scheduled > 0.005
            tasks.append(asyncio.create_task(one(len(tasks), scheduled)))
        await asyncio.sleep(max(0.0, begin + len(tasks) / rate - time.perf_counter()))
    generator_cores = (time.process_time() - start_cpu) / (time.perf_counter() - begin)
    async with asyncio.timeout(3 * LOOKUP_TIMEOUT_S + 15):
        await asyncio.gather(*tasks)
    return samples, late_starts, round(generator_cores, 3)


# ---------------------------------------------------------------------------------------------------
# What the ledger recorded


async def recorded_count(database: Database) -> int:
    """Dossiers in the ledger so far."""
    async with database.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(Dossier))).scalar_one())


async def drain(database: Database, expected: int) -> tuple[float, int]:
    """Wait until the ledger holds `expected` dossiers; the seconds waited and how many are missing."""
    started = time.perf_counter()
    while (count := await recorded_count(database)) < expected:
        if time.perf_counter() - started > DRAIN_TIMEOUT_S:
            return round(time.perf_counter() - started, 2), expected - count
        await asyncio.sleep(0.1)
    return round(time.perf_counter() - started, 2), 0


async def recorded_at(database: Database) -> dict[str, float]:
    """Every recorded dossier's `recorded_at` as wall time, by id (read once, after the load)."""
    async with database.engine.connect() as conn:
        rows = await conn.execute(sa.select(col(Dossier.id), col(Dossier.recorded_at)))
        return {dossier_id: at.timestamp() for dossier_id, at in rows}


async def metric_totals(base: str, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Counters of a hub process's /metrics by name, then by their label values (outcome, reason)."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        text = (await client.get("/metrics")).text
    totals: dict[str, dict[str, float]] = {name: {} for name in names}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                label = ",".join(sample.labels.values())
                totals[sample.name][label] = totals[sample.name].get(label, 0.0) + sample.value
    return totals


def latencies(samples: Sequence[Sample], recorded: dict[str, float]) -> tuple[list[float], list[float]]:
    """Seconds from start to the ledger's record (of the recorded dossiers) and to the shop's completion."""
    end_to_end = [recorded[s.dossier_id] - s.started for s in samples if s.dossier_id in recorded]
    return end_to_end, [s.filed - s.started for s in samples]


# ---------------------------------------------------------------------------------------------------
# The run


async def register(
    api: httpx.AsyncClient, holders: Sequence[str], offices: Sequence[str]
) -> tuple[dict[str, str], dict[str, int], str]:
    """Holders and one-stop shops over the REST API, as integrators would; the holders' evidence services
    declared and granted to the shops' agency. The API keys and registry ids by system code, and the
    trust anchor the registrations gave (the platform keys connectors check the hub's messages with)."""
    for agency in (HOLDER_AGENCY, OFFICE_AGENCY):
        response = await api.post(
            "/api/v1/agencies", json={"code": agency, "name": agency, "level": "province"}
        )
        response.raise_for_status()
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    trust = ""
    for code in [*holders, *offices]:
        agency = HOLDER_AGENCY if code in holders else OFFICE_AGENCY
        response = await api.post(
            "/api/v1/systems", json={"code": code, "name": f"System {code}", "agency_code": agency}
        )
        response.raise_for_status()
        body = response.json()
        keys[code], ids[code], trust = body["api_key"], body["id"], body["bus_trust"]
    for code in holders:
        for declaration in evidence_declarations():
            url = f"/api/v1/systems/{ids[code]}"
            (await api.post(f"{url}/services", json=declaration)).raise_for_status()
            grant = {"service": declaration["code"], "client_agency": OFFICE_AGENCY}
            (await api.post(f"{url}/grants", json=grant)).raise_for_status()
    return keys, ids, trust


@dataclass
class Axis:
    """Everything a measurement needs while the axis runs: the shops, the hub and its database."""

    office: Office
    database: Database
    hub: Child
    base: str  # the hub's URL
    broker_pid: int


@contextlib.asynccontextmanager
async def running_axis(
    args: argparse.Namespace, workdir: Path, catalogue: Catalogue, datasets: Datasets, people: list[Applicant]
) -> AsyncIterator[Axis]:
    """Broker, a fresh database, the hub process with the benchmark's catalogue, the holders serving
    their datasets and the shops, registered, connected and warmed up; all stopped on exit."""
    holders = sorted(catalogue.holders())
    offices = spread_codes("MOT-CUA", args.offices, PARTITIONS)
    async with EmbeddedBroker() as broker, database_url(args.database, args.pg_server, workdir) as url:
        assert broker._process is not None  # private, but only its CPU is read
        prefix = f"bench{os.urandom(4).hex()}"
        await create_topics(broker.bootstrap, topic_layout(Topics(prefix), [*holders, *offices]))
        hub: Child | None = None
        connectors: list[Connector] = []
        serving = contextlib.AsyncExitStack()
        database = Database(url)
        try:
            settings = {"LGSP_CATALOGUE": str(workdir / "catalogue.yaml")}
            hub, base = await start_hub(0, broker.bootstrap, url, prefix, workdir, settings)
            note(f"hub ready on {args.database}; registering {len(holders)} holders and {len(offices)} shops")
            async with httpx.AsyncClient(
                base_url=base, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as api:
                keys, ids, trust = await register(api, holders, offices)
                connectors = [
                    Connector(
                        code,
                        keys[code],
                        broker.bootstrap,
                        trust=trust,
                        topic_prefix=prefix,
                        session_timeout_ms=SESSION_TIMEOUT_MS,
                        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                    )
                    for code in [*holders, *offices]
                ]
                for holder in connectors[: len(holders)]:
                    await serving.enter_async_context(served_datasets(holder, datasets, catalogue))
                for connector in connectors:
                    await connector.start()
                async with asyncio.timeout(60):  # a call sent before an inbox listens would be missed
                    for connector in connectors:
                        await connector._inbox_ready.wait()
                for code in holders:
                    await wait_connected(api, ids[code])
            shops = [
                OneStopShop(c, catalogue, lookup_timeout=LOOKUP_TIMEOUT_S) for c in connectors[len(holders) :]
            ]
            office = Office(shops, people, datasets.as_of)
            await office.warm_up()
            yield Axis(office, database, hub, base, broker._process.pid)
        finally:
            await asyncio.gather(*(c.stop() for c in connectors), return_exceptions=True)
            await serving.aclose()
            await database.dispose()
            if hub is not None:
                await hub.stop()


async def saturation(axis: Axis, args: argparse.Namespace) -> dict[str, Any]:
    """Closed loop: the dossiers the ledger recorded in the window, the CPU of everyone meanwhile."""
    office, hub_pid, broker_pid = axis.office, axis.hub.pid, axis.broker_pid
    note(f"saturating with {args.inflight} dossiers in flight for {args.warmup}+{args.duration} s")
    samples, (t0, t1), start, end = await closed_loop(
        office, args.inflight, args.warmup, args.duration, [hub_pid, broker_pid]
    )
    drain_s, missing = await drain(axis.database, office.reported)
    recorded = await recorded_at(axis.database)
    in_window = sum(1 for at in recorded.values() if t0 <= at < t1)
    filed = sum(1 for s in samples if t0 <= s.filed < t1)
    e2e, shop = latencies([s for s in samples if t0 <= s.started < t1], recorded)
    wall = t1 - t0
    hub_cores = end.cores_since(start, hub_pid)
    figures = {
        "in_flight": args.inflight,
        "measured_s": round(wall, 2),
        "dossiers_recorded": in_window,
        "dossiers_per_s": round(in_window / wall, 1),
        "dossiers_filed": filed,
        "filed_per_s": round(filed / wall, 1),
        "errors": sum(office.errors.values()),
        "error_kinds": dict(office.errors),
        "lookups": dict(office.lookups),
        "closed_loop_p50_ms": percentile_ms(e2e, 50),
        "closed_loop_p99_ms": percentile_ms(e2e, 99),
        "closed_loop_shop_p50_ms": percentile_ms(shop, 50),
        "closed_loop_shop_p99_ms": percentile_ms(shop, 99),
        "ledger_drain_after_s": drain_s,
        "not_recorded": missing,
        "hub_cpu_cores": hub_cores,
        "hub_cpu_ms_per_dossier": round(1000 * hub_cores * wall / in_window, 3) if in_window else None,
        "broker_cpu_cores": end.cores_since(start, broker_pid),
        "generator_cpu_cores": end.cores_since(start),
    }
    note(f"saturation: {figures['dossiers_per_s']} dossiers/s recorded by the ledger")
    return figures


async def latency(axis: Axis, args: argparse.Namespace, rate: float) -> dict[str, Any]:
    """Open loop at `rate`: latency from each scheduled start to the ledger's record, and to the shop's."""
    office = axis.office
    office.errors.clear()
    note(f"latency at {rate:.1f} dossiers/s for {args.warmup}+{args.latency_duration} s")
    timed, late, generator = await open_loop(office, rate, args.warmup, args.latency_duration)
    drain_s, missing = await drain(axis.database, office.reported)
    recorded = await recorded_at(axis.database)
    e2e, shop = latencies(timed, recorded)
    to_ledger = [recorded[s.dossier_id] - s.filed for s in timed if s.dossier_id in recorded]
    figures = {
        "rate_per_s": round(rate, 1),
        "measured_s": args.latency_duration,
        "dossiers": len(e2e),
        "errors": sum(office.errors.values()),
        "error_kinds": dict(office.errors),
        "not_recorded": missing,
        "p50_ms": percentile_ms(e2e, 50),
        "p90_ms": percentile_ms(e2e, 90),
        "p99_ms": percentile_ms(e2e, 99),
        "max_ms": round(max(e2e) * 1000, 2) if e2e else None,
        "shop_p50_ms": percentile_ms(shop, 50),
        "shop_p99_ms": percentile_ms(shop, 99),
        "shop_to_ledger_p50_ms": percentile_ms(to_ledger, 50),
        "shop_to_ledger_p99_ms": percentile_ms(to_ledger, 99),
        "ledger_drain_after_s": drain_s,
        "started_over_5ms_late": late,
        "generator_cpu_cores": generator,
    }
    note(f"latency: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Data, the axis, both phases; the result as one JSON-ready dict."""
    started = time.perf_counter()
    result: dict[str, Any] = {
        "benchmark": "dossiers",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": loadavg(),
        },
        "parameters": {
            "database": args.database,
            "procedure": PROCEDURE,
            "required_documents": list(REQUIRED),
            "produced_documents": list(PRODUCED),
            "exchanges_per_dossier": len(REQUIRED) + len(PRODUCED),
            "offices": args.offices,
            "inflight_dossiers": args.inflight,
            "applicants": args.applicants,
            "citizens": args.citizens,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "latency_duration_s": args.latency_duration,
            "lookup_timeout_s": LOOKUP_TIMEOUT_S,
            "partitions": PARTITIONS,
            "inbox_partitions": INBOX_PARTITIONS,
        },
    }
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-dossiers-") as tmp:
        workdir = Path(tmp)
        catalogue = bench_catalogue(workdir / "catalogue.yaml")
        note(
            f"generating datasets for {args.citizens} citizens and the papers of {args.applicants} applicants"
        )
        datasets = await generate_all(workdir / "datasets", citizens=args.citizens, seed=SEED)
        people = await applicants(datasets, catalogue, args.applicants)
        async with running_axis(args, workdir, catalogue, datasets, people) as axis:
            saturated = await saturation(axis, args)
            timed = None
            if args.latency_duration > 0 and saturated["dossiers_per_s"] > 0:
                timed = await latency(axis, args, saturated["dossiers_per_s"] / 2)
            memory = rss_mib(axis.hub.pid)
            counters = await metric_totals(
                axis.base,
                [
                    "lgsp_dossiers_total",
                    "lgsp_dossier_components_total",
                    "lgsp_exchanges_total",
                    "lgsp_dead_letters_total",
                ],
            )
    result |= {
        "dossiers_per_s": saturated["dossiers_per_s"],
        "p50_ms": timed["p50_ms"] if timed else None,
        "p99_ms": timed["p99_ms"] if timed else None,
        "rate_for_latency_per_s": timed["rate_per_s"] if timed else None,
        "hub_cpu_cores": saturated["hub_cpu_cores"],
        "hub_rss_mib": round(memory[0], 1),
        "hub_peak_rss_mib": round(memory[1], 1),
        "generator_cpu_cores": saturated["generator_cpu_cores"],
        "generator_bound": saturated["generator_cpu_cores"] > 0.85,
        "saturation": saturated,
        "latency_at_half_saturation": timed,
        "ledger": {
            "dossiers_by_outcome": counters["lgsp_dossiers_total"],
            "documents_by_outcome": counters["lgsp_dossier_components_total"],
        },
        "hub_exchanges_by_outcome": counters["lgsp_exchanges_total"],
        "hub_dead_letters_by_reason": counters["lgsp_dead_letters_total"],
    }
    result["machine"]["loadavg_at_end"] = loadavg()
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    result["method"] = METHOD
    return result


METHOD = {
    "end_to_end": "from a dossier's start (scheduled start in the open loop) to the ledger's recorded_at "
    "(the hub's wall clock, set in the transaction that records it), read from the hub's database after "
    "the load; shop_* stop when OneStopShop.file returns (lookups answered, the issued document "
    "registered, the report acknowledged by the broker)",
    "saturation": "closed loop: inflight concurrent filers, round-robin over the shops and applicants; "
    "dossiers_per_s counts the dossiers the ledger recorded within the measured window",
    "latency": "open loop at half dossiers_per_s: dossiers started on a fixed schedule, round-robin over "
    "the shops; queueing counts",
    "cpu": "utime+stime from /proc/<pid>/stat over the saturation window, in cores; generator = this "
    "process (the shops and the holders, with their dataset lookups); a PostgreSQL server's CPU is not "
    "counted",
    "generator_bound": "true when the generator used more than 0.85 of a core: it, not the hub, may then "
    "limit the figures",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the saturation run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring (2)")
    parser.add_argument(
        "--latency-duration", type=float, default=8.0, help="seconds of the latency run (8; 0 skips)"
    )
    parser.add_argument("--inflight", type=int, default=200, help="dossiers in flight at saturation (200)")
    parser.add_argument("--offices", type=int, default=6, help="one-stop shop connectors (6)")
    parser.add_argument("--applicants", type=int, default=2_000, help="distinct applicants (2000)")
    parser.add_argument("--citizens", type=int, default=20_000, help="citizens in the generated data (20000)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-server",
        default=os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432"),
        help="USER@HOST:PORT of a PostgreSQL server with a `test` database (trust auth)",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
