"""declarative sources stored on the hub: one row per source of a system, its desired and reported state

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lgsp.db.engine

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", _enum("sourcekind", "database", "rest"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("target", _enum("targetstate", "RUNNING", "PAUSED"), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("state", _enum("sourcestate", "UNASSIGNED", "RUNNING", "FAILED", "PAUSED"), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("connector", sa.String(length=200), nullable=True),
        sa.Column("reported_at", lgsp.db.engine.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", lgsp.db.engine.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lgsp.db.engine.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["system_id"], ["system.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system_id", "name", name="uq_source_system_name"),
    )
    op.create_index("ix_source_system_id", "source", ["system_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_source_system_id", table_name="source")
    op.drop_table("source")
