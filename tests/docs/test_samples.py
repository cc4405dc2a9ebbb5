"""Every code sample of the README and the docs is run, so none can rot.

- `python` blocks are whole programs: each runs in its own process against a real hub served on a
  free port, on the session's broker, with the hub's address, bus and admin token in its environment.
- `bash` blocks: each command runs for real where it finishes on its own (`promtool` checks, `curl` of
  the served hub's metrics piped into promtool); a long-running server (`lgsp hub`, `lgsp ngsp`,
  `prometheus`, ...) or a long job (`make demo`, `make bench`, `lgsp simulate`) is run with `--help`,
  or for make as a dry run (`make -n`), which proves the command and its options exist; `export
  LGSP_...` lines must name real settings.
- `text` blocks are illustrations and are not run.
"""

import asyncio
import os
import re
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from tests.support import ADMIN_TOKEN, Broker

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
#: Commands that serve or run until stopped, or for minutes: their `--help` is run instead.
LONG_RUNNING = {
    ("lgsp", "hub"),
    ("lgsp", "ngsp"),
    ("lgsp", "connector"),
    ("lgsp", "broker"),
    ("lgsp", "simulate"),
    ("lgsp", "demo"),
    ("lgsp", "report"),
    ("lgsp", "db-upgrade"),
    ("prometheus",),
}
BIN = Path(sys.executable).parent


#: The samples run against one hub: which database it has is not what they show.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def samples(language: str) -> Iterator[tuple[str, str]]:
    """(where, code) of every fenced block in `language` in the README and docs/."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                line = text[: match.start()].count("\n") + 1
                yield f"{path.relative_to(ROOT)}:{line}", match.group(2)


def _commands(code: str) -> Iterator[str]:
    for line in code.splitlines():
        command = line.split("  #")[0].strip()
        if command and not command.startswith("#"):
            yield command


def test_the_docs_have_samples_of_each_kind(database_url: str) -> None:
    """The collection itself can fail: a docs tree without samples would make the tests below vacuous."""
    assert list(samples("python")) and list(samples("bash"))


@pytest.fixture
async def served_hub(broker: Broker, settings: Settings) -> AsyncIterator[tuple[str, Settings]]:
    """The hub on a real port (a sample runs in another process)."""
    port = free_port("127.0.0.1")
    async with serving(create_app(settings, broker.bootstrap), "127.0.0.1", port):
        yield f"http://127.0.0.1:{port}", settings


@pytest.mark.parametrize(("where", "code"), list(samples("python")), ids=lambda v: str(v)[:40])
async def test_python_samples_run(
    where: str, code: str, served_hub: tuple[str, Settings], broker: Broker
) -> None:
    url, settings = served_hub
    env = os.environ | {
        "LGSP_HUB_URL": url,
        "LGSP_KAFKA_BOOTSTRAP": broker.bootstrap,
        "LGSP_TOPIC_PREFIX": settings.topic_prefix,
        "LGSP_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(90):
        out, _ = await process.communicate()
    assert process.returncode == 0, f"{where} failed:\n{out.decode()[-3000:]}"


def _run(command: str, where: str) -> None:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert done.returncode == 0, f"{where}: `{command}` failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}"


@pytest.mark.parametrize(("where", "code"), list(samples("bash")), ids=lambda v: str(v)[:40])
async def test_shell_samples_run(where: str, code: str, served_hub: tuple[str, Settings]) -> None:
    url, _ = served_hub
    fields = {f"LGSP_{name.upper()}" for name in Settings.model_fields}
    for command in _commands(code):
        words = shlex.split(command.split("|")[0])
        if words[0] == "export":
            name = words[1].split("=")[0]
            assert name in fields, f"{where}: {name} is not a setting"
        elif words[0] == "make":
            _run(f"make -n {shlex.join(words[1:])}", where)
        elif tuple(words[:2]) in LONG_RUNNING or tuple(words[:1]) in LONG_RUNNING:
            subcommand = [w for w in words[1:3] if not w.startswith("-") and "=" not in w][:2]
            program = words[0]
            if program == "lgsp" and subcommand[:1] != ["report"]:
                subcommand = subcommand[:1]
            await asyncio.to_thread(_run, shlex.join([program, *subcommand, "--help"]), where)
        else:
            await asyncio.to_thread(_run, command.replace("http://127.0.0.1:8000", url), where)
