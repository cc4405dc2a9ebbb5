"""Alembic migrations: they build the whole schema of the models, idempotently, on SQLite and PostgreSQL."""

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

import lgsp.models  # noqa: F401  (registers every table on the metadata)
from lgsp.db import Database, metadata
from lgsp.db.engine import wait_for
from lgsp.registry.models import AdministrativeLevel, Agency


def _tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def _head(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
    return list(compare_metadata(context, metadata))


async def test_migrate_creates_every_table(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()
        async with database.engine.connect() as conn:
            tables = await conn.run_sync(_tables)
            revision = await conn.run_sync(_head)
        assert set(metadata.tables) <= tables, f"missing: {set(metadata.tables) - tables}"
        assert "alembic_version" in tables
        assert revision is not None
    finally:
        await database.dispose()


async def test_migrate_twice_is_harmless(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()
        async with database.sessions() as session:
            session.add(Agency(code="SO-X", name="Agency X", level=AdministrativeLevel.PROVINCE))
            await session.commit()
        async with database.engine.connect() as conn:
            first = await conn.run_sync(_head)
        await database.migrate()
        async with database.engine.connect() as conn:
            assert await conn.run_sync(_head) == first
            count = (await conn.execute(sa.text("SELECT count(*) FROM agency"))).scalar_one()
        assert count == 1, "a second migrate() must keep the data"
    finally:
        await database.dispose()


async def test_two_hubs_migrate_one_database_at_once(database_url: str) -> None:
    """Two hubs starting together on one database must not both try to create the schema.

    Each starts as the hub's lifespan does: wait for the database, then migrate. (On a brand-new SQLite
    file, SQLite refuses, without waiting, a second connection's switch to WAL while the first holds a
    lock; the wait absorbs that.)
    """
    first, second = Database(database_url), Database(database_url)

    async def start(database: Database) -> None:
        await wait_for(database, attempts=10, delay=0.2)
        await database.migrate()

    try:
        await asyncio.gather(start(first), start(second))
        async with first.engine.connect() as conn:
            assert set(metadata.tables) <= await conn.run_sync(_tables)
    finally:
        await first.dispose()
        await second.dispose()


async def test_models_and_migrations_agree(database_url: str) -> None:
    """Autogenerate finds nothing to do: every model change came with its migration."""
    database = Database(database_url)
    try:
        await database.migrate()
        async with database.engine.connect() as conn:
            differences = await conn.run_sync(_diff)
        assert differences == [], "models and migrations differ; add a migration:\n" + "\n".join(
            map(repr, differences)
        )
    finally:
        await database.dispose()
