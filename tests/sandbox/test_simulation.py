"""The once-only simulation end to end (docs/architecture/design.md, sections 6 and 7).

Two seeded runs of `run_simulation` with the same plan, one without holder faults and one with many,
against the session broker:

- causality: taking holder systems down lowers the once-only ratios, and the re-submissions it forces
  are attributed to the unreachable holder;
- privacy: after the faulty run no applicant's citizen id appears in clear in the hub's database,
  its `/metrics` exposition or the `lgsp`/`connectors` log records.

Both runs use SQLite only (a fresh file each): the test is about causality and what the hub writes,
not about the database kind.
"""

import asyncio
import contextlib
import io
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import prometheus_client
import pytest
from rich.console import Console
from sqlalchemy import create_engine, select
from sqlmodel import SQLModel

import sandbox.demo
from lgsp.bus.broker import free_port
from sandbox.demo import DemoOptions, run_simulation
from sandbox.simulation import Prepared, SimulationOptions, prepare
from tests.support import Broker, delete_topics, fast_settings

SEED = 7
# 50 dossiers are two fault epochs of 25: enough for this seed's faulty run to take holders down, and
# ~35 s for both runs (each filing costs bus round trips, a lookup of a holder just gone down its
# timeout, a holder back up its reconnection); a third epoch proved nothing more and cost ~15 s.
DOSSIERS = 50
APPLICANTS = 50
CITIZENS = 300  # the simulated population the applicants are sampled from
FAULT_RATE = 0.7
LOOKUP_TIMEOUT = 5.0
CITIZEN_ID = re.compile(r"^\d{12}$")
LOGGERS = ("lgsp", "connectors")


class RecordList(logging.Handler):
    """Keeps every record it sees (what pytest's caplog does, usable from a module-scoped fixture)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def capturing_logs() -> Iterator[RecordList]:
    """Every record of the `lgsp` and `connectors` loggers, at DEBUG, while the context lasts."""
    handler = RecordList()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@dataclass
class Run:
    """One simulation: the hub's report, its database, the plan filed, and what it exposed."""

    report: dict[str, Any]
    database: Path
    prepared: list[Prepared]
    seconds: float
    metrics: list[str] = field(default_factory=list)  # /metrics bodies fetched while the hub ran
    registry: str = ""  # this process's Prometheus registry after the run
    records: list[logging.LogRecord] = field(default_factory=list)

    @property
    def applicants(self) -> set[str]:
        """Every citizen id that filed a dossier (business tax codes are not personal ids)."""
        return {d.applicant for p in self.prepared for d in p.dossiers if CITIZEN_ID.match(d.applicant)}

    @property
    def causes(self) -> dict[str, int]:
        """Re-submissions by cause."""
        return {line["cause"]: line["resubmissions"] for line in self.report["by_cause"]}


async def _poll_metrics(port: int, bodies: list[str]) -> None:
    """Fetch the hub's /metrics every half second for as long as it answers (until cancelled)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get("/metrics")
                if response.status_code == 200:
                    bodies.append(response.text)
            await asyncio.sleep(0.5)


async def simulate(broker: Broker, workdir: Path, fault_rate: float) -> Run:
    """One `lgsp simulate` in process, quiet, on the session broker, a fresh SQLite file, fresh topics
    and a free port; records the plan it filed, the /metrics it served and the log records."""
    database = workdir / "lgsp.db"
    base = fast_settings(f"sqlite+aiosqlite:///{database}", workdir, kafka_bootstrap=broker.bootstrap)
    world = DemoOptions(systems=7, citizens=CITIZENS, port=free_port(), seed=SEED)
    # A holder that is up answers well within LOOKUP_TIMEOUT even on a loaded machine: only a holder that
    # is down may make a clean lookup fail.
    options = SimulationOptions(
        applicants=APPLICANTS,
        dossiers=DOSSIERS,
        rate=100.0,
        fault_rate=fault_rate,
        seed=SEED,
        lookup_timeout=LOOKUP_TIMEOUT,
    )
    prepared: list[Prepared] = []

    async def recording_prepare(*args: Any, **kwargs: Any) -> Prepared:
        # run_simulation does not expose its plan: keep what it prepared, to know the applicants.
        result = await prepare(*args, **kwargs)
        prepared.append(result)
        return result

    metrics: list[str] = []
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as patch, capturing_logs() as logs:
        patch.setattr(sandbox.demo, "prepare", recording_prepare)
        poller = asyncio.create_task(_poll_metrics(world.port, metrics))
        try:
            report = await run_simulation(base, world, options, Console(file=io.StringIO()))
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await delete_topics(broker.bootstrap, base.topic_prefix)
    # The hub ran in this process: its registry after the run is the last word on what it exposed.
    registry = prometheus_client.generate_latest().decode()
    seconds = time.perf_counter() - started
    return Run(report, database, prepared, seconds, metrics, registry, logs.records)


@dataclass(frozen=True)
class Runs:
    clean: Run
    faulty: Run


@pytest.fixture(scope="module")
async def runs(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runs]:
    """The same seeded plan filed twice: without faults, then with holders down most epochs."""
    clean = await simulate(broker, tmp_path_factory.mktemp("clean"), 0.0)
    faulty = await simulate(broker, tmp_path_factory.mktemp("faulty"), FAULT_RATE)
    yield Runs(clean, faulty)


def _measure(run: Run, name: str) -> tuple[int, int, float]:
    value = run.report["measures"][name]
    return value["numerator"], value["denominator"], value["ratio"]


def test_holder_faults_lower_the_once_only_ratios(runs: Runs) -> None:
    clean, faulty = runs.clean, runs.faulty
    # Same seed, same plan: only the faults differ.
    assert [p.dossiers for p in clean.prepared] == [p.dossiers for p in faulty.prepared]
    assert clean.report["outages"] == 0
    assert faulty.report["outages"] > 0
    assert clean.report["filed"] > 0 and faulty.report["filed"] > 0
    shown = {
        run: {m: _measure(getattr(runs, run), m) for m in ("by_dossier", "by_applicant", "reuse")}
        for run in ("clean", "faulty")
    } | {"seconds": (round(clean.seconds, 1), round(faulty.seconds, 1))}
    assert _measure(faulty, "by_dossier")[2] < _measure(clean, "by_dossier")[2], shown
    assert _measure(faulty, "by_applicant")[2] <= _measure(clean, "by_applicant")[2], shown
    # The forced re-submissions are put down to the unreachable holder, and only where one was down.
    assert faulty.causes.get("holder_unreachable", 0) > 0, faulty.report["by_cause"]
    assert "holder_unreachable" not in clean.causes, clean.report["by_cause"]


def _leaks(texts: list[str], ids: set[str]) -> set[str]:
    """The ids found in any of the texts."""
    return {i for text in texts for i in ids if i in text}


def _database_texts(database: Path) -> tuple[list[str], dict[str, int]]:
    """Every text value of every row of every table (JSON values serialised), and rows per table.

    Binary columns are left out: the only one is the outbox's message bytes, bus payloads on their way
    out, which legitimately carry ids (and the outbox is drained by the end of a run anyway).
    """
    texts: list[str] = []
    rows: dict[str, int] = {}
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            for table in SQLModel.metadata.sorted_tables:
                found = conn.execute(select(table)).all()
                rows[table.name] = len(found)
                for row in found:
                    for value in row:
                        if isinstance(value, str):
                            texts.append(value)
                        elif isinstance(value, dict | list):
                            texts.append(json.dumps(value, ensure_ascii=False))
    finally:
        engine.dispose()
    return texts, rows


def test_no_citizen_id_in_clear_in_the_hubs_records_metrics_or_logs(runs: Runs) -> None:
    run = runs.faulty
    ids = run.applicants
    assert len(ids) >= 10, "the plan should have many citizen applicants"

    texts, rows = _database_texts(run.database)
    # The scan must have seen the ledger and the exchange log, or it proves nothing.
    assert rows["dossier"] >= run.report["filed"] and rows["exchange_record"] > 0, rows
    assert not _leaks(texts, ids), "citizen ids stored in clear in the hub's database"

    # Fetched from the running hub (the last ones after the ledger had every dossier), and the registry
    # of this process, where the hub ran, once it had stopped.
    assert any("lgsp_dossiers_total" in body for body in run.metrics), "/metrics never fetched in time"
    assert not _leaks([*run.metrics, run.registry], ids), "citizen ids in the /metrics exposition"

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(record) for record in run.records]
    assert logged, "no log record was captured"
    leaked = [line for line in logged if _leaks([line], ids)]
    assert not leaked, f"citizen ids in {len(leaked)} log records, e.g. {leaked[:3]}"
