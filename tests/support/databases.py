"""Fresh databases for tests: a SQLite file or a new PostgreSQL database, dropped afterwards."""

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

PG_SERVER = os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432")


@contextlib.asynccontextmanager
async def fresh_database(kind: str, directory: Path) -> AsyncIterator[str]:
    """A new, empty database of `kind` ("sqlite" in `directory`, or "postgresql"), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'lgsp.db'}"
        return
    name = f"lgsp_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_SERVER}/{name}"
    finally:
        admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
