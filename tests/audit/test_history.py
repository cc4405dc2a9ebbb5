"""The chain covers what was written before the hub could seal it: migration 0009 queues the link state
changes, stretches of uptime and dossiers already in the database."""

from uuid import uuid4

from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from lgsp.audit.models import AuditEntry, AuditPending
from lgsp.audit.service import seal, verify
from lgsp.connectivity.models import HubUptime
from lgsp.db import Database
from lgsp.db.engine import alembic_config
from lgsp.onceonly.models import AcceptedDocument, Dossier, DossierComponentRecord
from schemas.common import utcnow
from tests.audit.support import dossier_rows


def _migrate(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if revision == "head":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def test_what_was_written_before_the_upgrade_is_sealed_too(database_url: str) -> None:
    """Migration 0009 queues the rows already there, so the chain covers the history."""
    database = Database(database_url)
    hub_id, dossier_id = uuid4(), str(uuid4())
    dossier, components, documents = dossier_rows(dossier_id)
    try:
        await database.migrate()
        async with database.engine.begin() as conn:
            await conn.run_sync(_migrate, "0008")
            now = utcnow()
            await conn.execute(
                insert(HubUptime),
                [{"instance_id": hub_id, "started_at": now, "last_seen_at": now, "stopped_at": now}],
            )
            await conn.execute(insert(Dossier), [dossier])
            await conn.execute(insert(DossierComponentRecord), components)
            await conn.execute(insert(AcceptedDocument), documents)
            await conn.run_sync(_migrate, "head")
            queued = (await conn.execute(select(AuditPending.kind).order_by(col(AuditPending.id)))).scalars()
            assert list(queued) == ["hub_uptime", "dossier"]
        assert await seal(database) == 2
        async with database.engine.connect() as conn:
            chained = (
                await conn.execute(select(AuditEntry.kind, AuditEntry.ref).order_by(col(AuditEntry.seq)))
            ).all()
            assert [tuple(row) for row in chained] == [("hub_uptime", str(hub_id)), ("dossier", dossier_id)]
            assert not (await conn.execute(select(AuditPending.id))).first()
        assert (await verify(database)).ok
    finally:
        await database.dispose()
