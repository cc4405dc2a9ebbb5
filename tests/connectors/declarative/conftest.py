"""Real databases with one small table, `people`, for the declarative connector's tests: a SQLite file,
a fresh PostgreSQL database and a fresh MariaDB database (scripts/with-mariadb.sh), dropped after."""

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomysql  # type: ignore[import-untyped]  # no stubs; only the tests use it directly
import asyncpg
import pytest

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
    name = f"test_{uuid.uuid4().hex[:12]}"
    if request.param == "postgresql":
        admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(f"postgresql://{PG_SERVER}/{name}")
        await conn.execute(f"{CREATE}; INSERT INTO people VALUES {rows}; CREATE SEQUENCE tickets")
        await conn.close()
        try:
            yield f"postgresql+asyncpg://{PG_SERVER}/{name}"
        finally:
            admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        return
    await _mariadb([f"CREATE DATABASE {name}", f"USE {name}", CREATE, f"INSERT INTO people VALUES {rows}"])
    user, _, host, port = _mariadb_parts()
    try:
        # The password comes from the environment, as a config must take it.
        yield f"mariadb+aiomysql://{user}:${{LGSP_TEST_MARIADB_PASSWORD}}@{host}:{port}/{name}"
    finally:
        await _mariadb([f"DROP DATABASE IF EXISTS {name}"])


@pytest.fixture(autouse=True)
def mariadb_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MariaDB test user's password where a config's `${LGSP_TEST_MARIADB_PASSWORD}` finds it."""
    monkeypatch.setenv("LGSP_TEST_MARIADB_PASSWORD", _mariadb_parts()[1])
