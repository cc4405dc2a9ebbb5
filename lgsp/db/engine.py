"""Async engine and sessions on SQLite (aiosqlite) or PostgreSQL (asyncpg), one code path for both."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

metadata = SQLModel.metadata
_MIGRATIONS = Path(__file__).with_name("migrations")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps text; a fixed naive-UTC form keeps ordering and comparisons right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum: type[StrEnum]) -> sa.Enum:
    """Enums stored as their values in a plain string column: portable, and new members need no migration."""
    return sa.Enum(enum, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (API) and the writer (workers) proceed together; FKs are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


#: Advisory lock ids of the work only one process may do at a time.
MIGRATION_LOCK = 7239001
AUDIT_LOCK = 7239002


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("postgresql"):
            kwargs |= {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def exclusive(self, lock: int) -> AsyncIterator[AsyncConnection]:
        """A transaction that holds `lock` against every other process of the installation until it ends.

        PostgreSQL: a transaction-scoped advisory lock. SQLite: the database's write lock, taken at the
        start (pysqlite would otherwise begin late, and DDL outside any transaction).
        """
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
            elif self.dialect == "sqlite":
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent; safe with several hubs at once)."""
        async with self.exclusive(MIGRATION_LOCK) as conn:
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations shipped in the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def wait_for(database: Database, attempts: int = 30, delay: float = 1.0) -> None:
    """Wait until the database answers (a fresh PostgreSQL may still be starting)."""
    for attempt in range(attempts):
        try:
            await database.ping()
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
