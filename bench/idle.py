"""Benchmark of what a short consumer fetch wait costs an idle hub: CPU of the hub and the broker.

The embedded broker answers a waiting fetch only when it expires, so every hop of an exchange may wait
up to ``LGSP_CONSUMER_FETCH_MAX_WAIT_MS``: a shorter wait cuts latency, and costs a fetch round trip per
consumer that often while nothing happens. For each wait in ``--waits``, this starts one ``lgsp hub``
process (SQLite, no system registered) on a fresh embedded Tansu broker, lets it settle, and measures the
CPU cores the hub and the broker use over ``--window`` seconds of idling. Prints one JSON object::

    .venv/bin/python bench/idle.py                      # waits 100,50,20,10,5 ms, 15 s each
    .venv/bin/python bench/idle.py --waits 100,10 --window 10
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from lgsp.bus.broker import EmbeddedBroker

from common import Clock, database_url, loadavg, note, start_hub


async def idle_cost(wait_ms: int, window: float, settle: float) -> dict[str, Any]:
    """An idle hub with fetch wait `wait_ms`: its CPU and its broker's over `window` seconds."""
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-idle-") as tmp:
        workdir = Path(tmp)
        async with EmbeddedBroker() as broker, database_url("sqlite", "", workdir) as url:
            assert broker._process is not None
            broker_pid = broker._process.pid
            wait = {"LGSP_CONSUMER_FETCH_MAX_WAIT_MS": str(wait_ms)}
            hub, _ = await start_hub(0, broker.bootstrap, url, f"idle{wait_ms}", workdir, wait)
            try:
                await asyncio.sleep(settle)
                start = Clock.now([hub.pid, broker_pid])
                await asyncio.sleep(window)
                end = Clock.now([hub.pid, broker_pid])
            finally:
                await hub.stop()
    return {
        "fetch_max_wait_ms": wait_ms,
        "hub_cpu_cores": end.cores_since(start, hub.pid),
        "broker_cpu_cores": end.cores_since(start, broker_pid),
        "machine_busy_cores": end.machine_cores_since(start),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    runs = []
    for wait in args.waits:
        note(f"idle hub with a fetch wait of {wait} ms for {args.window} s")
        runs.append(await idle_cost(wait, args.window, args.settle))
        note(f"{wait} ms: hub {runs[-1]['hub_cpu_cores']} cores, broker {runs[-1]['broker_cpu_cores']}")
    return {
        "benchmark": "idle",
        "loadavg": loadavg(),
        "window_s": args.window,
        "runs": runs,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--waits",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[100, 50, 20, 10, 5],
        help="fetch waits to measure, ms (100,50,20,10,5)",
    )
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per wait (15)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the hub is ready (5)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
