"""Loading generated datasets into a real database: PostgreSQL, MariaDB or MySQL (or another SQLite file).

The mock systems' declarative configs (connectors/configs/) read the same tables wherever they are, so
the loader creates each table as its store declares it (same names, same columns), in the types the
target database has for them: text for text (bounded where MariaDB must index it), 64-bit integers,
doubles, booleans. Dates stay ISO text, as in the SQLite files, so a record reads back identically on
every database and hashes the same (connectors.evidence). Existing tables of the same names are
replaced: loading twice gives the same database.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from connectors.datasets.generate import STORES, Datasets
from connectors.datasets.sqlite import SqliteStore, Table, connect_read_only

#: Called as (table, rows loaded, rows in all) after each batch.
LoadProgress = Callable[[str, int, int], None]
#: The widest key the generated datasets hold (document ids are 19 characters); MariaDB indexes only
#: bounded text.
KEY_LENGTH = 64


def _column(table: Table, name: str, declared: str) -> sa.Column[Any]:
    kind = declared.split()[0]
    keyed = name in table.unique or name in table.indexed
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "TEXT": sa.String(KEY_LENGTH) if keyed else sa.Text(),
        "INTEGER": sa.BigInteger(),
        "REAL": sa.Double(),
        "BOOLEAN": sa.Boolean(create_constraint=False),
    }
    return sa.Column(name, types[kind], nullable="NOT NULL" not in declared)


def schema(stores: Sequence[type[SqliteStore]]) -> sa.MetaData:
    """The tables of `stores` and their lookup indexes, as SQLAlchemy declares them for any database."""
    metadata = sa.MetaData()
    for store in stores:
        for table in store.TABLES:
            declared = sa.Table(table.name, metadata, *(_column(table, n, k) for n, k in table.columns))
            for column in table.unique:
                sa.Index(f"{table.name}_{column}", declared.c[column], unique=True)
            for column in table.indexed:
                sa.Index(f"{table.name}_{column}", declared.c[column])
    return metadata


async def load_into(
    datasets: Datasets,
    url: str,
    stores: Sequence[type[SqliteStore]] = STORES,
    progress: LoadProgress | None = None,
    batch_size: int = 5_000,
) -> dict[str, int]:
    """Create the tables of `stores` in the database at `url` (a SQLAlchemy async URL) and copy the
    generated rows into them, one transaction per batch; returns the rows loaded per table."""
    metadata = schema(stores)
    engine = create_async_engine(url)
    counts: dict[str, int] = {}
    try:
        async with engine.begin() as conn:
            # Indexes are built after the rows, which is much faster than keeping them up to date.
            indexes = [index for table in metadata.sorted_tables for index in table.indexes]
            for table in metadata.sorted_tables:
                table.indexes.clear()
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
        for store in stores:
            for kept in store.TABLES:
                counts[kept.name] = await _copy(
                    datasets, store, kept, metadata.tables[kept.name], engine.connect, batch_size, progress
                )
        async with engine.begin() as conn:
            for index in indexes:
                await conn.run_sync(index.create)
    finally:
        await engine.dispose()
    return counts


async def _copy(
    datasets: Datasets,
    store: type[SqliteStore],
    table: Table,
    target: sa.Table,
    connect: Callable[[], Any],
    batch_size: int,
    progress: LoadProgress | None,
) -> int:
    """Copy one table, in rowid order (the order the generator wrote it in)."""
    total = datasets.counts.get(table.name, 0)
    done = 0
    source = await connect_read_only(datasets.path(store))
    try:
        columns = ", ".join(table.column_names)
        async with source.execute(f"SELECT {columns} FROM {table.name} ORDER BY rowid") as cursor:
            conn: AsyncConnection
            async with connect() as conn:
                while rows := list(await cursor.fetchmany(batch_size)):
                    # as_dict reads SQLite's 0/1 as booleans, which PostgreSQL insists on.
                    await conn.execute(target.insert(), [table.as_dict(row) for row in rows])
                    await conn.commit()
                    done += len(rows)
                    if progress is not None:
                        progress(table.name, done, max(total, done))
    finally:
        await source.close()
    return done
