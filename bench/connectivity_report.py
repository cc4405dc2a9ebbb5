"""Scale check of the connectivity report: a province of 10,000 systems, a quarter of state changes, hub
restarts and 1,000,000 exchange records, then the report for that quarter, timed.

The history is written in bulk into a fresh SQLite file (and a fresh PostgreSQL database with
``--postgres``, or when ``LGSP_DATABASE_URL`` names a PostgreSQL server, on which the fresh database is
created and dropped again), migrated by the hub's own migrations. The load uses COPY on PostgreSQL, and
the secondary indexes of the two big tables are dropped for it and built again after it with their own
DDL: the same database, in a fraction of the time of a million indexed inserts. Each system connects
shortly after it is registered; outages arrive every ten days on average and last from seconds to days
(log-normal, median half an hour), the NGSP link follows the LGSP link with its own delay and has
outages of its own; 10% of the systems are registered during the quarter, 2% retired, 1% are exempt; two
hub processes run side by side and restart a few times, once after a three-hour platform outage.
PostgreSQL's statistics are refreshed (VACUUM ANALYZE) as autovacuum would in production; SQLite gets
none, as in the hub.

The report is then computed in a fresh child process, so its memory figures are the report's own
(interpreter and imports included), not the bulk load's. One JSON object per backend on stdout:
``seconds`` is the default report (every figure, not the list of outages), with pooled connections
already open, as in a running hub, and ``peak_rss_mb`` the process's memory high-water mark after it;
``seconds_repeat`` the same again; ``seconds_with_outages`` the report listing every outage, as its HTML
form does; ``render_seconds`` its CSV plus HTML. Progress goes to stderr. From the repository root::

    .venv/bin/python bench/connectivity_report.py                 # SQLite only
    .venv/bin/python bench/connectivity_report.py --postgres      # and PostgreSQL on 127.0.0.1:5432
    .venv/bin/python bench/connectivity_report.py --systems 1000 --exchanges 100000

Target (reported, not enforced): under 2 s on PostgreSQL for 1,000,000 exchange records.
"""

import argparse
import asyncio
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp.connectivity.models import HubUptime, LinkStateChange, SystemStatus
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from lgsp.registry.models import Agency, System
from lgsp.reports.connectivity import connectivity_report
from lgsp.reports.connectivity_html import report_csv, report_html
from lgsp.settings import Settings

from common import database_url

QUARTER = (date(2025, 1, 1), date(2025, 4, 1))
Q0 = datetime(2025, 1, 1, tzinfo=UTC)
Q1 = datetime(2025, 4, 1, tzinfo=UTC)
HISTORY = datetime(2024, 10, 1, tzinfo=UTC)  # systems registered and changes recorded from here on
DAY = 86_400.0
CHUNK = 20_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def expo(rng: random.Random, mean_seconds: float) -> timedelta:
    return timedelta(seconds=rng.expovariate(1 / mean_seconds))


def outage_length(rng: random.Random) -> timedelta:
    """Seconds to days, median half an hour."""
    return timedelta(seconds=min(rng.lognormvariate(math.log(1800), 1.6), 4 * DAY))


def table(model: Any) -> sa.Table:
    local: sa.Table = sa.inspect(model).local_table
    return local


def systems_rows(count: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        in_quarter = rng.random() < 0.10
        created = (
            Q0 + (Q1 - Q0) * rng.random() * 0.95
            if in_quarter
            else HISTORY + (Q0 - HISTORY - timedelta(days=7)) * rng.random()
        )
        retired = created + (Q1 - created) * rng.random() if rng.random() < 0.02 else None
        exempt = rng.random() < 0.01
        rows.append(
            {
                "id": i + 1,
                "code": f"SYS-{i:05d}",
                "name": f"System {i}",
                "level": rng.choice(["province", "district", "commune"]),
                "kind": rng.choice(["database", "information_system"]),
                "exempt": exempt,
                "exempt_reason": "state secret" if exempt else None,
                "contact_email": None,
                "description": "",
                "agency_code": f"AG-{rng.randrange(200):03d}",
                "created_at": created,
                "updated_at": created,
                "retired_at": retired,
            }
        )
    return rows


def state_changes(system: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """One system's LGSP and NGSP history from registration to retirement or the quarter's end."""
    end = system["retired_at"] or Q1
    national = not system["exempt"]

    def change(link: str, connected: bool, at: datetime, reason: str) -> dict[str, Any]:
        return {
            "system_id": system["id"],
            "link": link,
            "connected": connected,
            "at": at,
            "reason": reason,
        }

    up = system["created_at"] + expo(rng, 2 * 3600)
    ngsp_up = up + expo(rng, 1800)
    if up >= end:
        return
    yield change("lgsp", True, up, "heartbeat and probe fresh")
    if national and ngsp_up < end:
        yield change("ngsp", True, ngsp_up, "probed through the NGSP")
    cursor = max(up, ngsp_up)
    while True:
        start = cursor + expo(rng, 10 * DAY)
        if start >= end:
            break
        back = start + outage_length(rng)
        if rng.random() < 0.25 and national:  # an outage of the national link only
            yield change("ngsp", False, start, "no NGSP probe within the TTL")
            if back < end:
                yield change("ngsp", True, back, "probed through the NGSP")
            cursor = back
            continue
        yield change("lgsp", False, start, "heartbeat stale")
        if national:
            yield change("ngsp", False, start, "not connected to the LGSP (heartbeat stale)")
        if back < end:
            yield change("lgsp", True, back, "heartbeat and probe fresh")
        ngsp_back = back + expo(rng, 300)
        if national and ngsp_back < end:
            yield change("ngsp", True, ngsp_back, "probed through the NGSP")
        cursor = max(back, ngsp_back)
    if system["retired_at"] is not None:
        yield change("lgsp", False, end, "retired")
        if national:
            yield change("ngsp", False, end, "retired")


def hub_rows(rng: random.Random) -> list[dict[str, Any]]:
    """Two hub processes side by side, restarted a few times; one three-hour platform outage."""
    cuts = sorted(HISTORY + (Q1 - HISTORY) * rng.random() for _ in range(8))
    downs = [(cut, cut + timedelta(minutes=rng.uniform(1, 10))) for cut in cuts]
    outage = Q0 + timedelta(days=40, hours=3)
    downs = sorted([*downs, (outage, outage + timedelta(hours=3))])
    rows = []
    begin = HISTORY - timedelta(hours=1)
    for down_from, down_to in [*downs, (Q1 + timedelta(days=1), Q1 + timedelta(days=1))]:
        for _ in range(2):
            crashed = rng.random() < 0.3
            rows.append(
                {
                    "instance_id": uuid.UUID(int=rng.getrandbits(128)),
                    "started_at": begin + timedelta(seconds=rng.uniform(0, 5)),
                    "last_seen_at": down_from,
                    "stopped_at": None if crashed else down_from,
                }
            )
        begin = down_to
    return rows


def exchange_rows(count: int, codes: list[str], rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    """Exchange records spread over the quarter, in chunks; busy systems are busier (skewed choice)."""
    span = (Q1 - Q0).total_seconds()
    chunk: list[dict[str, Any]] = []
    for _ in range(count):
        at = Q0 + timedelta(seconds=rng.random() * span)
        national = rng.random() < 0.05
        fault = rng.random() < 0.05
        chunk.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "client": codes[int(len(codes) * rng.random() ** 2)],
                "provider": "VN/DAN-CU" if national else codes[int(len(codes) * rng.random() ** 3)],
                "service": "record.get",
                "subject_hash": None,
                "request_in_at": at,
                "request_out_at": at + timedelta(milliseconds=3),
                "response_in_at": at + timedelta(milliseconds=40),
                "response_out_at": at + timedelta(milliseconds=43),
                "request_size": 120,
                "response_size": 800,
                "outcome": "fault" if fault else "success",
                "fault_code": "server.provider_error" if fault else None,
                "fault_message": "provider failed" if fault else None,
                "crossed_ngsp": national,
                "deadline": at + timedelta(seconds=30),
                "reply_to": None,
            }
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def insert(conn: AsyncConnection, model: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        await conn.execute(sa.insert(table(model)), rows[i : i + CHUNK])


async def bulk_insert(conn: AsyncConnection, model: Any, rows: list[dict[str, Any]]) -> None:
    """`insert` for the big tables: on PostgreSQL with COPY (asyncpg's binary copy, in the transaction
    already open), which spares the per-row INSERT work; the rows are the same either way."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        await insert(conn, model, rows)
        return
    columns = list(rows[0])
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection  # asyncpg's own connection, inside the transaction already open
    assert driver is not None
    await driver.copy_records_to_table(
        table(model).name, records=[tuple(row[c] for c in columns) for row in rows], columns=columns
    )


@asynccontextmanager
async def secondary_indexes_after(conn: AsyncConnection, models: list[Any]) -> AsyncIterator[None]:
    """Drop the tables' secondary indexes for the bulk load and create them again after it, each with
    its own DDL as the migrations made it: one sorted build instead of a random insert per row and
    index, so the database ends up exactly as it would otherwise, only sooner."""
    names = [table(model).name for model in models]
    if conn.dialect.name == "postgresql":
        query = sa.text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = ANY(:names) AND NOT x.indisprimary AND NOT x.indisunique"
        )
        indexes = [(name, ddl) for name, ddl in await conn.execute(query, {"names": names})]
    else:
        query = sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND sql NOT LIKE 'CREATE UNIQUE%' AND tbl_name IN :names"
        ).bindparams(sa.bindparam("names", expanding=True))
        indexes = [(name, ddl) for name, ddl in await conn.execute(query, {"names": names})]
    for name, _ in indexes:
        await conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    log(f"  building {len(indexes)} indexes")
    for _, ddl in indexes:
        await conn.exec_driver_sql(ddl)


async def build(url: str, systems: int, exchanges: int, seed: int) -> int:
    """Migrate the fresh database and fill it; the number of state changes written."""
    rng = random.Random(seed)
    database = Database(url)
    try:
        await database.migrate()
        async with database.engine.begin() as conn:
            await insert(
                conn,
                Agency,
                [
                    {"code": f"AG-{i:03d}", "name": f"Agency {i}", "level": "province", "created_at": HISTORY}
                    for i in range(200)
                ],
            )
            system_rows = systems_rows(systems, rng)
            await insert(conn, System, system_rows)
            await insert(
                conn,
                SystemStatus,
                [
                    {"system_id": s["id"], "last_heartbeat_at": s["retired_at"] or Q1 - timedelta(seconds=3)}
                    for s in system_rows
                ],
            )
            async with secondary_indexes_after(conn, [LinkStateChange, ExchangeRecord]):
                changes = 0
                pending: list[dict[str, Any]] = []
                for system in system_rows:
                    pending.extend(state_changes(system, rng))
                    if len(pending) >= CHUNK:
                        await bulk_insert(conn, LinkStateChange, pending)
                        changes += len(pending)
                        pending = []
                await bulk_insert(conn, LinkStateChange, pending)
                changes += len(pending)
                await insert(conn, HubUptime, hub_rows(rng))
                log(f"  {systems:,} systems, {changes:,} state changes")
                codes = [s["code"] for s in system_rows]
                written = 0
                for chunk in exchange_rows(exchanges, codes, rng):
                    await bulk_insert(conn, ExchangeRecord, chunk)
                    written += len(chunk)
                    if written % 200_000 == 0:
                        log(f"  {written:,} exchange records")
        # Fresh statistics on PostgreSQL, as autovacuum keeps them in production. SQLite keeps none unless
        # told (nothing in the hub runs ANALYZE), so none are made for it here either.
        if database.dialect == "postgresql":
            async with database.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE")
        return changes
    finally:
        await database.dispose()


def peak_rss_mb() -> float:
    """This process's high-water mark of resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def measure(url: str) -> dict[str, Any]:
    """In the child process: the report for the quarter, timed, and this process's peak RSS."""
    database = Database(url)
    settings = Settings(database_url=url)
    try:
        await asyncio.gather(*(database.ping() for _ in range(4)))  # pooled connections, as in the hub
        timings = []
        for outages in (False, False, True):
            if outages:
                default_rss = peak_rss_mb()
            started = time.perf_counter()
            report = await connectivity_report(database, settings, *QUARTER, outages=outages)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        report_csv(report)
        report_html(report)
        render = time.perf_counter() - started
    finally:
        await database.dispose()
    return {
        "seconds": round(timings[0], 3),
        "seconds_repeat": round(timings[1], 3),
        "seconds_with_outages": round(timings[2], 3),
        "render_seconds": round(render, 3),
        "peak_rss_mb": default_rss,
        "peak_rss_mb_with_outages_and_render": peak_rss_mb(),
        "listed_systems": len(report.systems) + len(report.exempt),
        "outages": len(report.outages or []),
        "lgsp_ratio": report.province.lgsp.ratio,
        "ngsp_ratio": report.province.ngsp.ratio,
        "platform_downtime_seconds": report.province.platform_downtime_seconds,
    }


async def run(backend: str, args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    async with database_url(backend, args.pg_server, directory) as url:
        log(f"{backend}: building")
        started = time.perf_counter()
        changes = await build(url, args.systems, args.exchanges, args.seed)
        built = time.perf_counter() - started
        log(f"{backend}: built in {built:.0f} s; timing the report in a fresh process")
        child = await asyncio.to_thread(
            subprocess.run, [sys.executable, __file__, "--measure", url], stdout=subprocess.PIPE, text=True
        )
        if child.returncode:
            raise SystemExit(f"{backend}: the report failed (exit status {child.returncode})")
        figures: dict[str, Any] = json.loads(child.stdout)
    return {
        "backend": backend,
        "systems": args.systems,
        "exchange_records": args.exchanges,
        "state_changes": changes,
        "seconds": figures.pop("seconds"),
        "peak_rss_mb": figures.pop("peak_rss_mb"),
        **figures,
        "build_seconds": round(built, 1),
    }


def pg_server_default() -> str | None:
    """USER@HOST:PORT of the server in LGSP_DATABASE_URL when it is PostgreSQL."""
    configured = os.environ.get("LGSP_DATABASE_URL", "")
    if not configured.startswith("postgresql"):
        return None
    url = make_url(configured)
    return f"{url.username or 'postgres'}@{url.host or '127.0.0.1'}:{url.port or 5432}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--systems", type=int, default=10_000, help="registered systems (10000)")
    parser.add_argument("--exchanges", type=int, default=1_000_000, help="exchange records (1000000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="also on a fresh PostgreSQL database")
    parser.add_argument(
        "--pg-server",
        default=pg_server_default() or os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432"),
        help="USER@HOST:PORT of a PostgreSQL server with a `test` database (trust auth)",
    )
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure))))
        return
    backends = ["sqlite"] + (["postgresql"] if args.postgres or pg_server_default() else [])
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-") as directory:
        for backend in backends:
            print(json.dumps(asyncio.run(run(backend, args, Path(directory)))), flush=True)


if __name__ == "__main__":
    main()
