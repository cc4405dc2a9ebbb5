"""`lgsp demo` smoke test: the real command starts everything, serves non-trivial indicators, and ends
by itself, taking its embedded broker down with it."""

import asyncio
import re
import socket
import sys
from pathlib import Path

import httpx

from lgsp.bus.broker import free_port


async def test_demo_runs_serves_indicators_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    lgsp = Path(sys.executable).with_name("lgsp")
    process = await asyncio.create_subprocess_exec(
        str(lgsp),
        "demo",
        "--duration",
        # Long enough for systems to connect and the one-stop shop to get answers on a loaded machine
        # (12 s already does on an idle one); the demo runs all of it, so every second more is waited.
        "14",
        "--port",
        str(port),
        "--systems",
        "8",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "COLUMNS": "160"},
    )
    seen = None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for _ in range(200):
            await asyncio.sleep(0.1)
            try:
                body = (await client.get("/api/v1/indicators")).json()
            except httpx.HTTPError:
                continue
            lgsp_link = body["connectivity"]["lgsp"]
            if lgsp_link["connected"] > 0:
                seen = body
                break
    output_bytes, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    output = output_bytes.decode(errors="replace")
    assert process.returncode == 0, output[-3000:]
    assert seen is not None, f"the demo never showed a connected system:\n{output[-3000:]}"
    conn = seen["connectivity"]
    assert conn["lgsp"]["in_scope"] == 7  # 8 systems, one of them exempt (state secret)
    assert 0 < conn["lgsp"]["ratio"] <= 1
    assert "final: LGSP" in output
    # A link to one simulated citizen's data tracker, signed in by the sandbox's identity provider.
    assert re.search(
        r"a citizen's data tracker: http://127\.0\.0\.1:\d+/me#token=[\w-]+\.[\w-]+\.[\w-]+", output
    ), output[:3000]
    # Exchanges flowed: the one-stop-shop got answers from the providers' datasets.
    exchanges = re.search(r"'success': (\d+)", output)
    assert exchanges and int(exchanges.group(1)) > 0, output[-2000:]
    # The embedded broker the demo started is gone with it.
    bus = re.search(r"bus 127\.0\.0\.1:(\d+)", output)
    assert bus, output[:2000]
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(bus.group(1)))) != 0
