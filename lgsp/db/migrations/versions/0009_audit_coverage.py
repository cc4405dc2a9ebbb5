"""Audit coverage: the acting key of registry events, and a queue the database fills with every link state
change, hub uptime stretch and dossier written, for the sealer (lgsp/audit/records.py).

Those three tables keep no `audit_seq` of their own: a trigger on each adds the new row's key to
`audit_pending` in the transaction that inserts it, so no row is missed whatever order concurrent
transactions commit in. Rows already there are queued too, so the chain covers the history.

SQLite drops a table's triggers when Alembic's batch mode rebuilds it: a later migration that rebuilds
link_state_change, hub_uptime or dossier must create its trigger again (tests/audit/test_coverage.py
fails on SQLite otherwise).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: kind in the chain -> (table, the key written as text, the order existing rows are queued in)
QUEUED = {
    "link_state": ("link_state_change", "id", "id"),
    "hub_uptime": ("hub_uptime", "instance_id", "started_at"),
    "dossier": ("dossier", "id", "recorded_at, id"),
}


def _text(column: str) -> str:
    """The key as text, the same in the trigger and in the backfill (a UUID: 32 hex digits on SQLite,
    the dashed form on PostgreSQL; the sealer reads either)."""
    return f"CAST({column} AS VARCHAR(64))"


def upgrade() -> None:
    with op.batch_alter_table("registry_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_key", sa.String(length=32), nullable=True))
    op.create_table(
        "audit_pending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for kind, (table, key, order) in QUEUED.items():
        name = f"audit_queue_{kind}"
        if postgresql:
            # One statement-level trigger per INSERT (the tracker and the ledger insert many rows at once).
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"INSERT INTO audit_pending (kind, ref) SELECT '{kind}', {_text(key)} FROM queued "
                f"ORDER BY {order}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table} REFERENCING NEW TABLE AS queued "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO audit_pending (kind, ref) VALUES ('{kind}', {_text('NEW.' + key)}); END"
            )
        existing = f"SELECT '{kind}', {_text(key)} FROM {table} ORDER BY {order}"
        op.execute(f"INSERT INTO audit_pending (kind, ref) {existing}")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for kind, (table, _, _) in QUEUED.items():
        name = f"audit_queue_{kind}"
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("audit_pending")
    with op.batch_alter_table("registry_event", schema=None) as batch_op:
        batch_op.drop_column("actor_key")
