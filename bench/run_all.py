"""``make bench``: every benchmark of the performance issue in one run of under ten minutes on two cores.

Each benchmark runs as its own subprocess, one after the other (they would disturb each other's figures
on two cores), with arguments chosen so that its time is bounded by them (see ``PLAN``); a hard timeout
per benchmark stops a run that hangs, so the whole run always ends. stderr shows one progress line per
benchmark (elapsed against its expected time, and the latest line of its own progress); each one's full
stderr is kept in ``<output>.logs/<name>.log``. At the end:

- ``bench/results/latest.json`` (``--output``): the machine (CPU model, cores, RAM, Python, date, git
  commit), the plan, every benchmark's JSON as it printed it, and the summary below;
- on stdout, a table of every figure the issue asks for against its target (target, measured, met / not
  met), then the same JSON.

Benchmarks and what they cover (issue 6):

1. ``exchange.py`` three times, each run with its own bus ceiling (one-way produce->consume, a
   plain-aiokafka 4-hop no-op forwarder with no project code, and one built from the project's Bus,
   Worker and SDK): one hub process on SQLite, the embedded default (exchanges per second, ratio to the
   plain ceiling, p50/p99 at half and a tenth of saturation), then 1 and 2 hub processes in one
   consumer group on PostgreSQL, the database several processes share (the same figures, and how
   throughput scales with the second process), then 1, 2 and 3 on a 3-node Apache Kafka cluster with
   PostgreSQL (the same, with the machine's busy cores beside each scaling figure);
2. ``dossiers.py``: once-only dossiers (3 required documents) per second end to end, p50/p99;
3. ``registry_scale.py`` at 10,000 systems heartbeating every 10 s: the hub's CPU, heartbeat lag,
   ``GET /api/v1/indicators`` p99 and resident memory. It covers ``heartbeats.py``'s figures (heartbeat
   rate, the hub's CPU share, indicators p99) at the issue's scale, so that one is not run;
4. ``signing.py``: what checking and signing the four messages of an exchange costs the hub (bus
   identity), against the same messages unsigned;
5. ``connectivity_report.py --postgres``: the quarterly report over 1,000,000 exchange records and
   10,000 systems on SQLite and PostgreSQL, seconds and peak memory.

``--quick`` runs the same scripts at tiny sizes (about three minutes, mostly fixed start-up costs), to
check the whole chain without loading the machine; its figures mean nothing, and it writes
``bench/results/quick.json`` unless told otherwise::

    .venv/bin/python bench/run_all.py            # make bench
    .venv/bin/python bench/run_all.py --quick    # the chain at tiny sizes
    .venv/bin/python bench/run_all.py --only dossiers,exchange
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
BUDGET_S = 600.0  # the issue: `make bench` runs in under ten minutes


@dataclass(frozen=True, slots=True)
class Benchmark:
    """One script of the plan: its arguments, how long it should take, and when to give up on it."""

    name: str
    script: str
    args: tuple[str, ...]
    expected_s: float  # on a quiet two-core machine; shown against the elapsed time
    what: str

    @property
    def timeout_s(self) -> float:
        """Twice the expected time, and at least two minutes more: slow is reported, a hang is stopped."""
        return max(2 * self.expected_s, self.expected_s + 120)

    def command(self) -> list[str]:
        return [sys.executable, str(BENCH / self.script), *self.args]


def split(arguments: str) -> tuple[str, ...]:
    return tuple(arguments.split())


# The expected times are estimates for a quiet two-core machine: the fixed costs (broker, hub start-up,
# registration, connecting; measured at small scale) plus the windows the arguments set, plus the seeding
# at the per-row cost measured at 100,000 rows. The windows are shorter than the scripts' defaults where
# those would not fit in ten minutes together. Each exchange run includes the plain-aiokafka ceiling
# (bench/plain.py): about 45 s of start-up, saturation and latency windows.
PLAN = (
    Benchmark(
        "exchange",
        "exchange.py",
        split("--hubs 1 --duration 8 --warmup 2 --latency-duration 6 --latency-fractions 0.1"),
        175,
        "bus ceiling, then one hub on SQLite: saturation, p50/p99 at half and a tenth of it",
    ),
    # Hub processes in one consumer group share a database server: SQLite's single writer would make
    # the second process wait for the first's lock, not add throughput.
    Benchmark(
        "exchange_postgresql",
        "exchange.py",
        split("--database postgresql --hubs 1,2 --duration 8 --warmup 2 --latency-duration 6"),
        195,
        "bus ceiling, then the hub with 1 and 2 processes on PostgreSQL: saturation, p50/p99 at half",
    ),
    # The same on a 3-node Apache Kafka cluster (3 replicas, min ISR 2, acks=all, idempotence), its own
    # ceiling measured the same way on the same cluster.
    Benchmark(
        "exchange_kafka",
        "exchange.py",
        split(
            "--broker kafka --database postgresql --hubs 1,2,3 --duration 8 --warmup 2 --latency-duration 6"
        ),
        345,
        "the same on a 3-node Apache Kafka cluster: ceiling, then 1, 2 and 3 hubs on PostgreSQL",
    ),
    Benchmark(
        "signing",
        "signing.py",
        split("--rounds 20000"),
        30,
        "bus identity: the hub's CPU per exchange for checking and signing its four messages",
    ),
    Benchmark(
        "dossiers",
        "dossiers.py",
        split("--duration 8 --warmup 2 --latency-duration 6"),
        60,
        "once-only dossiers (3 documents) end to end: per second, p50/p99 at half of it",
    ),
    Benchmark(
        "registry_scale",
        "registry_scale.py",
        # The script's default rate of indicator calls (500 in 60 s), which counts in the hub's CPU.
        split("--systems 10000 --window 30 --indicator-calls 250"),
        150,
        "10,000 systems heartbeating every 10 s: hub CPU, heartbeat lag, indicators p99, memory",
    ),
    Benchmark(
        "connectivity_report",
        "connectivity_report.py",
        split("--postgres --systems 10000 --exchanges 1000000"),
        190,
        "quarterly connectivity report, 1,000,000 records and 10,000 systems, SQLite and PostgreSQL",
    ),
)

# The same chain at tiny sizes: every script starts, measures and prints, in a few minutes.
QUICK = (
    Benchmark(
        "exchange",
        "exchange.py",
        split("--hubs 1 --duration 1 --warmup 0.5 --latency-duration 1 --clients 2 --inflight 4"),
        50,
        "tiny exchange run",
    ),
    Benchmark(
        "exchange_postgresql",
        "exchange.py",
        split(
            "--database postgresql --hubs 1,2 --duration 1 --warmup 0.5 --latency-duration 1 --clients 2 "
            "--inflight 4"
        ),
        75,
        "tiny exchange run on PostgreSQL",
    ),
    Benchmark(
        "exchange_kafka",
        "exchange.py",
        split(
            "--broker kafka --database postgresql --hubs 1,2,3 --duration 1 --warmup 0.5 "
            "--latency-duration 1 --clients 2 --inflight 4"
        ),
        150,
        "tiny exchange run on Apache Kafka",
    ),
    Benchmark("signing", "signing.py", split("--rounds 500"), 5, "tiny signing run"),
    Benchmark(
        "dossiers",
        "dossiers.py",
        split(
            "--duration 2 --warmup 0.5 --latency-duration 2 --inflight 6 --offices 2 --applicants 40 "
            "--citizens 500"
        ),
        30,
        "tiny dossiers run",
    ),
    Benchmark(
        "registry_scale",
        "registry_scale.py",
        split("--systems 100 --rest 10 --window 5 --indicator-calls 20 --warm-up 60"),
        40,
        "tiny registry run",
    ),
    Benchmark(
        "connectivity_report",
        "connectivity_report.py",
        split("--postgres --systems 50 --exchanges 2000"),
        15,
        "tiny report run",
    ),
)


# ---------------------------------------------------------------------------------------------------
# The machine


def machine() -> dict[str, Any]:
    """What the figures ran on, and which code."""
    cpu = next(
        (
            line.partition(":")[2].strip()
            for line in read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kib = next(
        (int(line.split()[1]) for line in read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")),
        0,
    )
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(memory_kib / 1024**2, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git("rev-parse", "HEAD"),
        # Uncommitted changes make the commit an approximation of the code measured. --no-optional-locks:
        # a status must not write the index while someone else works in the tree.
        "git_dirty": bool(git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no")),
        "loadavg_at_start": [float(x) for x in read("/proc/loadavg").split()[:3]],
    }


def read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def git(*args: str) -> str | None:
    """A read-only git command's output, or None outside a repository."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPOSITORY, capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


# ---------------------------------------------------------------------------------------------------
# Running one benchmark


@dataclass
class Outcome:
    """What one benchmark left: its exit status, time, the JSON it printed, and why it failed."""

    exit_status: int | None
    elapsed_s: float
    result: Any
    error: str | None
    log: Path

    def as_json(self) -> dict[str, Any]:
        return {
            "exit_status": self.exit_status,
            "elapsed_s": self.elapsed_s,
            "error": self.error,
            "log": str(self.log.relative_to(REPOSITORY) if self.log.is_relative_to(REPOSITORY) else self.log),
            "result": self.result,
        }


def parse_json_values(text: str) -> Any:
    """The JSON a script printed: one value, or a list when it printed several (connectivity_report
    prints one object per backend, a line each)."""
    decoder = json.JSONDecoder()
    values = []
    position = 0
    text = text.strip()
    while position < len(text):
        value, position = decoder.raw_decode(text, position)
        values.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
    return values[0] if len(values) == 1 else values


async def run_one(benchmark: Benchmark, logs: Path, status: Callable[[str], None]) -> Outcome:
    """Run one script to its end (or its timeout), its stderr to a log and its last line to `status`."""
    log = logs / f"{benchmark.name}.log"
    started = time.perf_counter()
    # Its own session, so a timeout stops the whole group: the script and the broker and hub it started.
    process = await asyncio.create_subprocess_exec(
        *benchmark.command(),
        cwd=REPOSITORY,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    stderr = process.stderr

    async def follow() -> None:
        with log.open("w", encoding="utf-8") as out:
            out.write(f"$ {' '.join(benchmark.command())}\n")
            async for raw in stderr:
                line = raw.decode(errors="replace").rstrip()
                out.write(line + "\n")
                out.flush()
                if line.strip():
                    status(line.strip())

    following = asyncio.create_task(follow())
    output = asyncio.create_task(process.stdout.read())
    error: str | None = None
    try:
        async with asyncio.timeout(benchmark.timeout_s):
            await process.wait()
    except TimeoutError:
        error = f"stopped after {benchmark.timeout_s:.0f} s (expected about {benchmark.expected_s:.0f} s)"
        await stop_group(process)
    except asyncio.CancelledError:  # Ctrl-C or SIGTERM: in its own session, the group would not see it
        await stop_group(process)
        raise
    try:  # a process of the group that outlived it may hold the pipes open: do not wait for it forever
        async with asyncio.timeout(30):
            await following
            stdout = (await output).decode(errors="replace")
    except TimeoutError:
        following.cancel()
        output.cancel()
        stdout = ""
        error = error or "its output did not end with it (a process it started is still running)"
    elapsed = round(time.perf_counter() - started, 1)
    result: Any = None
    if stdout.strip():
        try:
            result = parse_json_values(stdout)
        except ValueError as exc:
            error = error or f"its output is not JSON: {exc}"
    if process.returncode != 0 and error is None:
        error = f"exit status {process.returncode}; the end of its log: {tail(log)}"
    elif result is None and error is None:
        error = "it printed nothing"
    return Outcome(process.returncode, elapsed, result, error, log)


async def stop_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the benchmark's process group (it stops its hub and broker), SIGKILL after 20 s."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            async with asyncio.timeout(grace):
                await process.wait()
            return
        except TimeoutError:
            continue


def tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def run_plan(plan: Sequence[Benchmark], logs: Path, console: Console) -> dict[str, Outcome]:
    """Every benchmark in turn, with a progress line each on `console` (stderr)."""
    outcomes: dict[str, Outcome] = {}
    columns = (
        SpinnerColumn(finished_text=" "),
        TextColumn("{task.description:<20}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
        TextColumn("of ~{task.fields[expected]}"),
        TextColumn("{task.fields[status]}", style="dim"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, TaskID] = {
            b.name: progress.add_task(
                b.name, total=b.expected_s, start=False, expected=clock(b.expected_s), status="waiting"
            )
            for b in plan
        }
        for benchmark in plan:
            task = tasks[benchmark.name]
            progress.start_task(task)
            width = max(20, console.width - 75)

            def status(line: str, task: TaskID = task, width: int = width) -> None:
                progress.update(task, status=line[:width])

            ticker = asyncio.create_task(tick(progress, task, benchmark.expected_s))
            try:
                outcome = await run_one(benchmark, logs, status)
            finally:
                ticker.cancel()
            outcomes[benchmark.name] = outcome
            done = f"[green]done in {clock(outcome.elapsed_s)}[/]"
            failed = f"[red]failed after {clock(outcome.elapsed_s)}: {outcome.error}[/]"
            progress.update(
                task,
                completed=benchmark.expected_s,
                status=failed if outcome.error else done,
            )
            progress.stop_task(task)
    return outcomes


async def tick(progress: Progress, task: TaskID, expected: float) -> None:
    """Fill the bar with the elapsed share of the expected time (a benchmark reports no fraction)."""
    started = time.perf_counter()
    while True:
        progress.update(task, completed=min(expected * 0.99, time.perf_counter() - started))
        await asyncio.sleep(0.5)


def clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


# ---------------------------------------------------------------------------------------------------
# The summary: every figure of the issue against its target


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the summary: a figure, its target (if the issue sets one) and whether it is met."""

    figure: str
    target: str
    measured: str
    met: bool | None  # None: no target, or not measured

    def as_json(self) -> dict[str, Any]:
        return {"figure": self.figure, "target": self.target, "measured": self.measured, "met": self.met}


def dig(value: Any, *path: str | int) -> Any:
    """`value[path[0]][path[1]]...`, or None as soon as a step is missing."""
    for key in path:
        if isinstance(value, dict) and isinstance(key, str):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        else:
            return None
    return value


def number(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}{unit}"
    return str(value)


def compare(value: Any, test: Callable[[float], bool]) -> bool | None:
    return test(float(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


def row(
    figure: str,
    value: Any,
    target: str = "-",
    test: Callable[[float], bool] | None = None,
    *,
    unit: str = "",
    digits: int = 1,
) -> Row:
    """A summary line for one measured value: met when `test` holds for it (no `test`: no target)."""
    return Row(figure, target, number(value, unit, digits), compare(value, test) if test else None)


def pair(first: Any, second: Any) -> str:
    return f"{number(first)} / {number(second)}"


def summary(results: dict[str, Any], elapsed_s: float, quick: bool) -> list[Row]:
    """The figures of the issue's steps 1 to 6, each against its target where the issue sets one."""
    exchange = results.get("exchange")
    exchange_pg = results.get("exchange_postgresql")
    exchange_kafka = results.get("exchange_kafka")
    dossiers = results.get("dossiers")
    registry = results.get("registry_scale")
    reports = results.get("connectivity_report")
    # connectivity_report prints one object per backend: a list, or one object if only one ran.
    listed = reports if isinstance(reports, list) else [reports] if isinstance(reports, dict) else []
    by_backend = {dig(report, "backend"): report for report in listed}
    rows = exchange_rows(exchange, "sqlite", ("1",), ceiling_rows=True)
    tenth = dig(exchange, "details", "hub_1", "latency_by_fraction_of_saturation", "0.1")
    rows.append(
        Row(
            "hub x1 (sqlite): p50 / p99 at a tenth of saturation, ms",
            "-",
            pair(dig(tenth, "p50_ms"), dig(tenth, "p99_ms")),
            None,
        )
    )
    rows += exchange_rows(exchange_pg, "postgresql", ("1", "2"), ceiling_rows=False)
    rows += scaling_rows(exchange_pg, "postgresql", ("2",))
    kafka = "postgresql, Apache Kafka x3"
    rows += exchange_rows(exchange_kafka, kafka, ("1", "2", "3"), ceiling_rows=True)
    rows += scaling_rows(exchange_kafka, kafka, ("2", "3"))
    signing = dig(results.get("signing"), "hub_us_per_exchange")
    rows += [
        row("exchange: load generator saturated", generator_bound(exchange, exchange_pg, exchange_kafka)),
        Row(
            "bus identity: hub CPU per exchange, unsigned -> signed, µs",
            "-",
            f"{number(dig(signing, 'before'))} -> {number(dig(signing, 'after'))}",
            None,
        ),
        row("dossiers (3 documents) end to end, per second", dig(dossiers, "dossiers_per_s")),
        Row(
            "dossier p50 / p99 at half that rate, ms",
            "-",
            pair(dig(dossiers, "p50_ms"), dig(dossiers, "p99_ms")),
            None,
        ),
        row("dossiers: load generator saturated", dig(dossiers, "generator_bound")),
    ]
    window = dig(registry, "window")
    systems = number(dig(registry, "parameters", "systems"), digits=0)
    keeps_up = dig(registry, "targets", "keeps_up_with_1000_heartbeats_per_second")
    rows += [
        Row(
            f"heartbeats ({systems} systems every 10 s): accepted/s, lag p99",
            "keeps up with 1,000/s",
            f"{number(dig(window, 'heartbeats_accepted_per_second'))}/s, "
            f"lag p99 {number(dig(window, 'heartbeat_lag_p99_ms'))} ms",
            keeps_up if isinstance(keeps_up, bool) else None,
        ),
        row("heartbeats: hub CPU, cores", dig(window, "hub_cpu_cores"), "< 0.5", lambda c: c < 0.5, digits=3),
        row(
            f"GET /api/v1/indicators p99 at {systems} systems, ms",
            dig(window, "indicators_p99_ms"),
            "< 20",
            lambda p: p < 20,
            digits=2,
        ),
    ]
    for backend in ("sqlite", "postgresql"):
        report = by_backend.get(backend)
        figure = (
            f"connectivity report, {backend}, {number(dig(report, 'exchange_records'), digits=0)} records, s"
        )
        seconds = dig(report, "seconds")
        if backend == "postgresql":
            rows.append(row(figure, seconds, "< 2", lambda s: s < 2, digits=3))
        else:
            rows.append(row(figure, seconds, digits=3))
    exchange_peaks = [
        dig(run, "details", f"hub_{hubs}", "saturation", "hub_peak_rss_mib_each")
        for run in (exchange, exchange_pg)
        for hubs in ("1", "2")
    ]
    report_peaks = [dig(by_backend.get(backend), "peak_rss_mb") for backend in ("sqlite", "postgresql")]
    peaks = {
        "hub peak RSS, exchange (largest process), MiB": max_or_none(exchange_peaks),
        "hub peak RSS, dossiers, MiB": dig(dossiers, "hub_peak_rss_mib"),
        "hub peak RSS, registry scale, MiB": dig(registry, "hub_memory_at_end", "peak_rss_mib"),
        "report process peak RSS (either backend), MiB": max_or_none(report_peaks),
    }
    rows += [row(figure, value, "< 300", lambda m: m < 300) for figure, value in peaks.items()]
    rows.append(
        row(
            "make bench, wall time, s" + (" (--quick)" if quick else ""),
            elapsed_s,
            f"< {BUDGET_S:.0f}",
            lambda s: s < BUDGET_S,
        )
    )
    return rows


def exchange_rows(
    exchange: Any, database: str, hub_counts: Sequence[str], *, ceiling_rows: bool
) -> list[Row]:
    """One exchange.py run's figures: its bus ceiling (the one-way rate only where `ceiling_rows`),
    then, for each number of hub processes, throughput, ratio to that run's ceiling and latency."""
    ceiling = dig(exchange, "ceiling")
    one_way = dig(ceiling, "one_way_records_per_s")
    rows = (
        [row(f"ceiling ({database} run): one-way produce->consume, records/s", one_way)]
        if ceiling_rows
        else []
    )
    rows += [
        row(
            f"ceiling ({database} run): plain aiokafka 4-hop no-op forwarder, exchanges/s",
            dig(ceiling, "plain_exchanges_per_s"),
        ),
        Row(
            f"ceiling ({database} run): plain aiokafka p50 / p99 at half load, ms",
            "-",
            pair(dig(ceiling, "plain_p50_ms"), dig(ceiling, "plain_p99_ms")),
            None,
        ),
        row(
            f"ceiling ({database} run): no-op forwarder of the project's Bus/Worker/SDK, exchanges/s",
            dig(ceiling, "forwarder_exchanges_per_s"),
        ),
        row(
            f"ceiling ({database} run): that forwarder / the plain one",
            dig(ceiling, "forwarder_ratio_to_plain"),
            digits=3,
        ),
        Row(
            f"ceiling ({database} run): no-op forwarder p50 / p99 at half load, ms",
            "-",
            pair(dig(ceiling, "forwarder_p50_ms"), dig(ceiling, "forwarder_p99_ms")),
            None,
        ),
    ]
    for hubs in hub_counts:
        hub = dig(exchange, "hub", hubs)
        label = f"hub x{hubs} ({database})"
        rows += [
            row(f"{label}: exchanges/s at saturation", dig(hub, "exchanges_per_s")),
            row(
                f"{label}: ratio to the plain aiokafka ceiling",
                dig(hub, "ratio_to_ceiling"),
                ">= 0.6",
                lambda ratio: ratio >= 0.6,
                digits=3,
            ),
            row(f"{label}: p50 at half saturation, ms", dig(hub, "p50_ms")),
            row(f"{label}: p99 at half saturation, ms", dig(hub, "p99_ms"), "< 50", lambda p: p < 50),
        ]
    return rows


def scaling_rows(exchange: Any, database: str, hub_counts: Sequence[str]) -> list[Row]:
    """For each number of hub processes, its throughput over one process's in the same run, and the
    machine's busy cores meanwhile (at the core count, the machine is the limit, not the hubs)."""
    one = dig(exchange, "hub", "1", "exchanges_per_s")
    rows: list[Row] = []
    for hubs in hub_counts:
        more = dig(exchange, "hub", hubs, "exchanges_per_s")
        ratio = (
            round(more / one, 2)
            if isinstance(one, int | float) and isinstance(more, int | float) and one
            else None
        )
        rows += [
            row(
                f"{hubs} hub processes / 1 ({database}), throughput",
                ratio,
                "> 1 (scales)",
                lambda s: s > 1,
                unit="x",
                digits=2,
            ),
            row(
                f"machine busy cores, {hubs} hubs at saturation ({database})",
                dig(exchange, "hub", hubs, "machine_busy_cores"),
                digits=2,
            ),
        ]
    return rows


def generator_bound(*runs: Any) -> bool | None:
    """Whether the load generator saturated in any of the runs that say; None when none does."""
    said = [bound for bound in (dig(run, "generator_bound") for run in runs) if isinstance(bound, bool)]
    return any(said) if said else None


def max_or_none(values: Any) -> float | None:
    """The largest number among `values` (lists of numbers are flattened); None without any."""
    found: list[float] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int | float) and not isinstance(item, bool):
                found.append(float(item))
    return max(found) if found else None


def table(rows: Sequence[Row], title: str) -> Table:
    view = Table(title=title, title_justify="left")
    view.add_column("figure")
    view.add_column("target", justify="right")
    view.add_column("measured", justify="right")
    view.add_column("", justify="left")
    for row in rows:
        verdict = "" if row.met is None else "[green]met[/]" if row.met else "[red]not met[/]"
        view.add_row(row.figure, row.target, row.measured, verdict)
    return view


# ---------------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> int:
    plan: tuple[Benchmark, ...] = QUICK if args.quick else PLAN
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {b.name for b in plan}
        if unknown:
            raise SystemExit(f"unknown benchmarks: {', '.join(sorted(unknown))}")
        plan = tuple(b for b in plan if b.name in wanted)
    output = (
        Path(args.output)
        if args.output
        else BENCH / "results" / ("quick.json" if args.quick else "latest.json")
    )
    logs = output.with_suffix(".logs")
    logs.mkdir(parents=True, exist_ok=True)
    errors = Console(stderr=True)
    errors.print(
        f"[bold]{len(plan)} benchmarks[/], about {clock(sum(b.expected_s for b in plan))} in all"
        f"{' (--quick: tiny sizes, meaningless figures)' if args.quick else ''}; logs in {logs}"
    )
    about = machine()
    started = time.perf_counter()
    outcomes = await run_plan(plan, logs, errors)
    elapsed = round(time.perf_counter() - started, 1)
    results = {name: outcome.result for name, outcome in outcomes.items()}
    rows = summary(results, elapsed, args.quick)
    document = {
        "command": "make bench" if not args.quick and not args.only else " ".join(sys.argv),
        "quick": args.quick,
        "machine": about | {"loadavg_at_end": [float(x) for x in read("/proc/loadavg").split()[:3]]},
        "elapsed_s": elapsed,
        "under_10_minutes": elapsed < BUDGET_S,
        "plan": [
            {
                "name": b.name,
                "command": " ".join(["python", f"bench/{b.script}", *b.args]),
                "expected_s": b.expected_s,
                "timeout_s": b.timeout_s,
                "what": b.what,
            }
            for b in plan
        ],
        "summary": [row.as_json() for row in rows],
        "benchmarks": {name: outcome.as_json() for name, outcome in outcomes.items()},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    out = Console(file=sys.stdout, width=max(130, Console(file=sys.stdout).width), soft_wrap=False)
    title = f"issue 6 figures, {about['cpu_model']}, {about['cores']} cores, {about['date']}"
    out.print(table(rows, title + (" (--quick: meaningless)" if args.quick else "")))
    failed = [name for name, outcome in outcomes.items() if outcome.error]
    for name in failed:
        out.print(f"[red]{name} failed:[/] {outcomes[name].error}")
    sys.stdout.flush()
    print(json.dumps(document, indent=2), flush=True)  # plain, not through rich: no wrapping, no markup
    errors.print(f"written to {output}; {elapsed:.0f} s in all")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the chain, not the figures")
    parser.add_argument("--only", help="comma-separated benchmark names (exchange,dossiers,...)")
    parser.add_argument(
        "--output", help="where the JSON goes (bench/results/latest.json; quick.json with --quick)"
    )
    args = parser.parse_args()
    sys.exit(asyncio.run(until_terminated(main_async(args))))


async def until_terminated(main: Coroutine[Any, Any, int]) -> int:
    """Run `main`, cancelling it on SIGTERM as Ctrl-C does, so the running benchmark is stopped too."""
    task = asyncio.ensure_future(main)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        print("interrupted: the running benchmark was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    main()
