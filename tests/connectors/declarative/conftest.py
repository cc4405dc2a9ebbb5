"""Real databases with one small table, `people`, for the declarative connector's tests: a SQLite file,
a fresh PostgreSQL database and a fresh MariaDB database (scripts/with-mariadb.sh), dropped after."""

import contextlib
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomysql  # type: ignore[import-untyped]  # no stubs; only the tests use it directly
import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.databases import PG_SERVER

#: MariaDB's test user, as scripts/with-mariadb.sh makes it: user:password@host:port.
MARIADB = os.environ.get("LGSP_TEST_MARIADB", "test:test@127.0.0.1:3306")
PEOPLE = [
    (1, "079203001234", "Nguyễn Văn An", "2003-04-05", "1.50"),
    (2, "079203005678", "Trần Thị Bình", "1999-12-31", None),
    (3, "079203009999", "Lê Văn Cường", "1999-12-31", "20.25"),
]
CREATE = (
    "CREATE TABLE people"
    " (id INTEGER PRIMARY KEY, citizen_id CHAR(12), name VARCHAR(100), born DATE, fee NUMERIC(10, 2))"
)


def _mariadb_parts() -> tuple[str, str, str, int]:
    credentials, _, address = MARIADB.rpartition("@")
    user, _, password = credentials.partition(":")
    host, _, port = address.partition(":")
    return user, password, host, int(port or 3306)


async def _mariadb(statements: list[str]) -> None:
    user, password, host, port = _mariadb_parts()
    conn = await aiomysql.connect(host=host, port=port, user=user, password=password, autocommit=True)
    try:
        async with conn.cursor() as cursor:
            for statement in statements:
                await cursor.execute(statement)
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class FreshDatabase:
    """An empty database: its URL with the password written in (to fill it) and as a config gives it
    (MariaDB's password from `${LGSP_TEST_MARIADB_PASSWORD}`, as a config must take it)."""

    url: str
    config_url: str


@contextlib.asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[FreshDatabase]:
    """A new empty PostgreSQL or MariaDB database (`kind`), dropped after."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    if kind == "postgresql":
        admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = f"postgresql+asyncpg://{PG_SERVER}/{name}"
        try:
            yield FreshDatabase(url, url)
        finally:
            admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        return
    user, password, host, port = _mariadb_parts()
    await _mariadb([f"CREATE DATABASE {name} CHARACTER SET utf8mb4"])
    try:
        yield FreshDatabase(
            f"mariadb+aiomysql://{user}:{password}@{host}:{port}/{name}",
            f"mariadb+aiomysql://{user}:${{LGSP_TEST_MARIADB_PASSWORD}}@{host}:{port}/{name}",
        )
    finally:
        await _mariadb([f"DROP DATABASE IF EXISTS {name}"])


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def people_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A SQLAlchemy URL of a fresh database of each kind holding `people` (PEOPLE)."""
    rows = ", ".join(
        f"({n}, '{cid}', '{name}', '{born}', {fee or 'NULL'})" for n, cid, name, born, fee in PEOPLE
    )
    if request.param == "sqlite":
        path = tmp_path / "people.db"
        with sqlite3.connect(path) as conn:
            conn.executescript(f"{CREATE}; INSERT INTO people VALUES {rows};")
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with fresh_database(request.param) as database:
        engine = create_async_engine(database.url)
        try:
            async with engine.begin() as conn:
                statements = [CREATE, f"INSERT INTO people VALUES {rows}"]
                if request.param == "postgresql":
                    statements.append("CREATE SEQUENCE tickets")  # what a read-only query must not advance
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()
        yield database.config_url


@pytest.fixture(autouse=True)
def mariadb_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MariaDB test user's password where a config's `${LGSP_TEST_MARIADB_PASSWORD}` finds it."""
    monkeypatch.setenv("LGSP_TEST_MARIADB_PASSWORD", _mariadb_parts()[1])
