"""Fixtures of the docs' samples: a hub served on a real port, and a scratch copy of the repository."""

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from tests.docs.samples import ROOT
from tests.support import Broker

#: Left out of the scratch copy: what a sample must not read, and what is large and not needed.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".env",
    "site",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.egg-info",
    "lgsp.db*",
    "ngsp.db*",
)


@dataclass(frozen=True, slots=True)
class ServedHub:
    url: str
    settings: Settings
    bootstrap: str


@pytest.fixture
async def served_hub(broker: Broker, settings: Settings) -> AsyncIterator[ServedHub]:
    """The hub (API and bus workers) on a free port of the loopback, on the session's broker and this
    test's fresh database: samples run in other processes and reach it as an integrator would."""
    port = free_port("127.0.0.1")
    async with serving(create_app(settings, broker.bootstrap), "127.0.0.1", port):
        yield ServedHub(f"http://127.0.0.1:{port}", settings, broker.bootstrap)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the repository's files where samples run: relative paths such as
    monitoring/prometheus.yml resolve, and whatever a sample writes (a report, a datasets directory, a
    file copied next to the Compose project) stays out of the working tree. The virtual environment is
    linked, not copied, so `make -n` sees it installed."""
    directory = tmp_path / "repository"
    shutil.copytree(ROOT, directory, ignore=IGNORED, symlinks=True)
    (directory / ".venv").symlink_to(ROOT / ".venv")
    return directory
