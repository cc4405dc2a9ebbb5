"""A database source: each service one read-only SELECT, answered within its timeout and row limit.

Read-only twice over: the query was checked to be one SELECT (`sql.py`), and it runs in a read-only
transaction (PostgreSQL and MariaDB sessions are read-only from the moment they connect; SQLite
connections are `query_only`). Every query has a deadline the server enforces where it can
(`statement_timeout`, `max_statement_time`) and the connector enforces in any case, interrupting
SQLite's worker thread; a connection that outlived its deadline is thrown away, never reused.
"""

import asyncio
import base64
import contextlib
import logging
import os
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from connectors.declarative.config import DatabaseSource, QueryService
from connectors.declarative.health import Health
from connectors.declarative.secrets import SourceError, interpolate, resolve
from connectors.faults import ServiceFault

log = logging.getLogger(__name__)
#: How long past its deadline the connector waits for the server to cancel a query itself.
GRACE = 0.5
#: What PostgreSQL, MariaDB and MySQL say when they stop a query at its deadline.
_TIMED_OUT = ("statement timeout", "max_statement_time", "maximum statement execution time")
#: MySQL client errors of a connection that is gone: cannot connect, server gone away, lost connection.
_MYSQL_LOST = {2003, 2006, 2013}


def jsonable(value: Any) -> Any:
    """A column's value as JSON: times in ISO 8601, exact decimals as strings (a float would round
    them), bytes in base64, UUIDs as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _value(value: Any, boolean: bool) -> Any:
    """A column's value as JSON; a boolean column's 0 or 1 as false or true."""
    return bool(value) if boolean and value is not None else jsonable(value)


def database_url(source: DatabaseSource, base: Path) -> URL:
    """The source's URL with its password put in and a relative SQLite path made relative to `base`."""
    url = make_url(interpolate(source.url))
    if source.password is not None:
        url = url.set(password=resolve(source.password, base))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        path = path if path.is_absolute() else base / path
        # Opened as a URI in mode rw: a missing file is an unreachable database, not a new empty one.
        url = url.set(database=f"file:{quote(str(path))}", query={**url.query, "mode": "rw", "uri": "true"})
    return url


class DatabaseBackend:
    """The engine of one database source and how its services answer."""

    def __init__(self, source: DatabaseSource, base: Path) -> None:
        self.source = source
        self.health = Health(source.name)
        url = database_url(source, base)
        self.backend = url.get_backend_name()
        self.engine = self._engine(url)

    def _engine(self, url: URL) -> AsyncEngine:
        connect = self.source.connect_timeout_ms / 1000
        args: dict[str, Any] = {}
        if self.backend == "postgresql":
            args = {"timeout": connect, "server_settings": {"default_transaction_read_only": "on"}}
        elif self.backend in {"mariadb", "mysql"}:
            args = {"connect_timeout": connect, "init_command": "SET SESSION TRANSACTION READ ONLY"}
        engine = create_async_engine(
            url,
            pool_size=self.source.pool_size,
            max_overflow=0,
            pool_timeout=connect,
            pool_pre_ping=True,  # a connection that died with its server is replaced, not handed out
            connect_args=args,
        )
        if self.backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _query_only)
            event.listen(engine.sync_engine.pool, "checkout", _same_file)
        return engine

    async def check(self) -> None:
        """Connect and run `SELECT 1`; SourceError saying why not (before the connector goes on the bus)."""
        try:
            async with asyncio.timeout(self.source.connect_timeout_ms / 1000 + GRACE):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            raise SourceError(f"source {self.source.name}: cannot reach the database ({_why(exc)})") from None

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def answer(self, service: QueryService, payload: dict[str, Any]) -> dict[str, Any]:
        """Run the service's query with the payload's fields bound; its answer, or a ServiceFault."""
        limit = 2 if service.answer == "one" else service.max_rows + 1
        rows = await self._rows(service, payload, limit)
        self.health.answered()
        if len(rows) >= limit:
            what = "more than one row" if service.answer == "one" else f"more than {service.max_rows} rows"
            raise ServiceFault("server.provider_error", f"{service.code}: the query returned {what}")
        if not rows and service.not_found == "fault":
            raise ServiceFault("client.not_found", f"{service.code}: nothing found")
        if service.answer == "one":
            return {"found": bool(rows), "record": rows[0] if rows else None}
        return {"found": bool(rows), "records": rows}

    async def _rows(self, service: QueryService, payload: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        seconds = service.timeout_ms / 1000
        statement = text(service.query)
        params = {name: payload.get(name) for name in statement.compile().binds}
        try:
            async with asyncio.timeout(self.source.connect_timeout_ms / 1000 + GRACE):
                conn = await self.engine.connect()
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            raise self.health.unreachable(f"cannot reach the database ({_why(exc)})") from None
        # SQLAlchemy's aiosqlite adapter does not give way to a cancellation while SQLite works: there,
        # a watchdog interrupts the query at its deadline instead.
        watchdog = (
            asyncio.create_task(self._interrupt_at(conn, seconds)) if self.backend == "sqlite" else None
        )
        try:
            async with asyncio.timeout(seconds + GRACE):
                await self._limit_time(conn, service.timeout_ms)
                result = await conn.stream(statement, params)
                booleans = set(service.booleans)
                rows = [
                    {k: _value(v, k in booleans) for k, v in r._mapping.items()}
                    for r in await result.fetchmany(limit)
                ]
                await result.close()
                await conn.rollback()
                return rows
        except TimeoutError:
            await conn.invalidate()  # its state is unknown: never hand it out again
            raise ServiceFault("server.provider_error", _slow(service)) from None
        except Exception as exc:
            raise self._fault(service, exc, watchdog is not None and watchdog.done()) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(GRACE):
                    await conn.close()

    def _fault(self, service: QueryService, exc: Exception, interrupted: bool) -> ServiceFault:
        """The fault a failed query answers: the database lost, too slow, or the query's own error."""
        if _lost(exc):
            return self.health.unreachable(f"lost the database ({_why(exc)})")
        if interrupted or any(marker in str(exc) for marker in _TIMED_OUT):
            return ServiceFault("server.provider_error", _slow(service))
        # The database's message may quote the values bound (personal data): the log has it, the caller
        # gets its class only.
        log.warning("source %s, %s: the query failed: %s", self.source.name, service.code, exc)
        return ServiceFault("server.provider_error", f"{service.code}: the query failed ({_why(exc)})")

    async def _interrupt_at(self, conn: AsyncConnection, seconds: float) -> None:
        await asyncio.sleep(seconds)
        raw = await conn.get_raw_connection()
        if raw.driver_connection is not None:
            await raw.driver_connection.interrupt()  # the query runs on aiosqlite's thread until then

    async def _limit_time(self, conn: AsyncConnection, timeout_ms: int) -> None:
        """Have the server stop the transaction's statements at the deadline, where it can."""
        if self.backend == "postgresql":
            await conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(timeout_ms)}
            )
        elif self.backend in {"mariadb", "mysql"} and conn.dialect.is_mariadb:  # type: ignore[attr-defined]
            await conn.execute(text("SET SESSION max_statement_time = :s"), {"s": timeout_ms / 1000})
        elif self.backend == "mysql":
            await conn.execute(text("SET SESSION max_execution_time = :ms"), {"ms": timeout_ms})


def _query_only(dbapi_connection: Any, record: Any) -> None:
    """A SQLite connection that refuses every write (SQLite has no read-only transactions), and the
    identity of the file it opened, for `_same_file`."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.execute("PRAGMA database_list")
    opened = next((row[2] for row in cursor.fetchall() if row[1] == "main"), "")
    cursor.close()
    record.info["sqlite_file"] = (opened, _identity(opened))


def _same_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Refuse a pooled SQLite connection whose file was removed or replaced since it opened it (it would
    go on reading the old one): the pool connects anew, and a missing file is then an unreachable
    database."""
    path, identity = record.info.get("sqlite_file", ("", None))
    if path and _identity(path) != identity:
        raise DisconnectionError(f"{path} was removed or replaced")


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a file, None if there is none (or no path: an in-memory database)."""
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return (found.st_dev, found.st_ino) if found is not None else None


def _slow(service: QueryService) -> str:
    return f"{service.code}: the query took longer than {service.timeout_ms} ms"


def _why(exc: BaseException) -> str:
    """The class of an error (its driver's, if SQLAlchemy wrapped it): enough to act on, no values."""
    orig = getattr(exc, "orig", None)
    return type(orig if isinstance(orig, BaseException) else exc).__name__


def _lost(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the connection to the database is gone."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, OSError | asyncpg.ConnectionDoesNotExistError | asyncpg.InterfaceError):
            return True
        if type(seen).__module__.startswith("pymysql") and seen.args and seen.args[0] in _MYSQL_LOST:
            return True
        orig = getattr(seen, "orig", None)
        seen = orig if isinstance(orig, BaseException) and orig is not seen else seen.__cause__
    return False
