"""SQLite plumbing shared by every store: table declarations, the one batched writer, read-only access."""

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import aiosqlite

SqlValue = str | int | float | None
Row = tuple[SqlValue, ...]
# What a generator hands the writer for one batch: rows per table, in each table's column order.
Batch = Mapping["Table", Sequence[Row]]

# SQLite's historical default limit on bound parameters per statement.
_MAX_PARAMETERS = 999


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a store: its columns (name, SQL type) and the columns lookups go through."""

    name: str
    columns: tuple[tuple[str, str], ...]
    unique: tuple[str, ...] = ()
    indexed: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in declaration (and row) order."""
        return tuple(name for name, _ in self.columns)

    @property
    def bool_columns(self) -> frozenset[str]:
        """Columns stored as 0/1 that read back as booleans."""
        return frozenset(name for name, sql_type in self.columns if sql_type.startswith("BOOLEAN"))

    def create_sql(self) -> str:
        """The CREATE TABLE statement."""
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in self.columns)
        return f"CREATE TABLE {self.name} ({columns})"

    def insert_sql(self) -> str:
        """The parameterised INSERT taking one row."""
        marks = ", ".join("?" * len(self.columns))
        return f"INSERT INTO {self.name} ({', '.join(self.column_names)}) VALUES ({marks})"

    def index_sql(self) -> list[str]:
        """CREATE INDEX statements for the lookup columns."""
        statements = [
            f"CREATE UNIQUE INDEX {self.name}_{column} ON {self.name} ({column})" for column in self.unique
        ]
        statements += [
            f"CREATE INDEX {self.name}_{column} ON {self.name} ({column})" for column in self.indexed
        ]
        return statements

    def as_dict(self, row: Sequence[Any]) -> dict[str, Any]:
        """A row read with `SELECT <all columns>` as a JSON-able dict."""
        bools = self.bool_columns
        return {
            name: bool(value) if name in bools and value is not None else value
            for name, value in zip(self.column_names, row, strict=True)
        }


class BatchWriter:
    """Writes one store into a fresh SQLite file, one transaction per batch.

    The file is built under a temporary name and moved into place on a clean exit, so a connector
    opening the store never sees a half-written one; indexes are built once at the end, which is
    several times faster than maintaining them row by row.
    """

    def __init__(self, path: Path, tables: Sequence[Table]) -> None:
        self.path = path
        self.tables = tuple(tables)
        self.counts = dict.fromkeys((table.name for table in tables), 0)
        self._partial = path.with_name(path.name + ".partial")
        self._connection: aiosqlite.Connection | None = None

    async def __aenter__(self) -> Self:
        self._partial.unlink(missing_ok=True)
        # isolation_level=None: transactions are exactly the BEGIN/COMMIT pairs written below.
        self._connection = await aiosqlite.connect(self._partial, isolation_level=None)
        # A crash leaves only a discarded .partial file, so durability syncs buy nothing here.
        await self._connection.execute("PRAGMA journal_mode = MEMORY")
        await self._connection.execute("PRAGMA synchronous = OFF")
        for table in self.tables:
            await self._connection.execute(table.create_sql())
        return self

    async def write(self, batch: Batch) -> None:
        """Append one batch of rows, to one or several tables, in a single transaction."""
        connection = self._require()
        await connection.execute("BEGIN")
        for table, rows in batch.items():
            if rows:
                await connection.executemany(table.insert_sql(), rows)
                self.counts[table.name] += len(rows)
        await connection.execute("COMMIT")

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        connection = self._require()
        try:
            if error is None:
                for table in self.tables:
                    for statement in table.index_sql():
                        await connection.execute(statement)
        finally:
            await connection.close()
            self._connection = None
        if error is None:
            self._partial.replace(self.path)
        else:
            self._partial.unlink(missing_ok=True)

    def _require(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("BatchWriter used outside its async with block")
        return self._connection


async def connect_read_only(path: Path) -> aiosqlite.Connection:
    """A read-only connection to a generated store; fails if the file does not exist."""
    return await aiosqlite.connect(_read_only_uri(path), uri=True)


def _read_only_uri(path: Path) -> str:
    return f"{path.absolute().as_uri()}?mode=ro"


class SqliteStore:
    """Read-only, async access to one generated store; subclasses add the lookups handlers call.

    Open with `await Store.open(path)` (or `Datasets.open`) and close with `await store.close()`, or
    use `async with`. Every lookup returns plain JSON-able dicts: dates are ISO strings.
    """

    DATASET: ClassVar[str]
    TABLES: ClassVar[tuple[Table, ...]]

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    @classmethod
    def file_name(cls) -> str:
        """The store's file name inside a datasets directory."""
        return f"{cls.DATASET}.sqlite"

    @classmethod
    async def open(cls, path: Path) -> Self:
        """Open a generated store file read-only."""
        return cls(await connect_read_only(path))

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def count(self, table: Table) -> int:
        """How many rows `table` holds."""
        async with self._connection.execute(f"SELECT count(*) FROM {table.name}") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _one(self, table: Table, where: str, *params: SqlValue) -> dict[str, Any] | None:
        rows = await self._all(table, f"{where} LIMIT 1", *params)
        return rows[0] if rows else None

    async def _all(self, table: Table, where: str, *params: SqlValue) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(table.column_names)} FROM {table.name} WHERE {where}"
        async with self._connection.execute(sql, params) as cursor:
            return [table.as_dict(row) for row in await cursor.fetchall()]

    async def _sample(self, table: Table, column: str, n: int, seed: int) -> list[str]:
        """`n` distinct values of `column` from rows drawn without replacement, reproducibly.

        Generated tables are append-only, so their rowids are exactly 1..count and a seeded sample of
        rowids is a uniform, deterministic sample of rows with no full scan or ORDER BY random().
        """
        rowids = random.Random(seed).sample(range(1, await self.count(table) + 1), n)
        found: dict[int, str] = {}
        for start in range(0, len(rowids), _MAX_PARAMETERS):
            chunk = rowids[start : start + _MAX_PARAMETERS]
            sql = f"SELECT rowid, {column} FROM {table.name} WHERE rowid IN ({', '.join('?' * len(chunk))})"
            async with self._connection.execute(sql, chunk) as cursor:
                found.update((int(rowid), str(value)) for rowid, value in await cursor.fetchall())
        return [found[rowid] for rowid in rowids]
