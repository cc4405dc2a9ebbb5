"""Indicators the measured cannot bend (issue 16): scope-change requests, grants to national services, and
what the ledger checks of an office's claims (unverified reuses, the day a dossier was received as the
office said it, the evidence lookup behind each reuse, and an index to find those lookups by subject).

Columns are added with plain ALTER TABLE ... ADD COLUMN, never by rebuilding a table: SQLite would drop
the audit trigger migration 0009 put on `dossier`.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lgsp.db.engine

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = sa.Enum("pending", "approved", "rejected", name="requeststatus", native_enum=False, length=32)
EVIDENCE_ONLY = "service = 'evidence.get'"


def _decided() -> list[sa.Column[object]]:
    """Who asked and who decided, as both request tables keep them."""
    return [
        sa.Column("status", STATUS, nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_key", sa.String(length=40), nullable=False),
        sa.Column("requested_at", lgsp.db.engine.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_key", sa.String(length=40), nullable=True),
        sa.Column("decided_at", lgsp.db.engine.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "scope_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column(
            "change",
            sa.Enum("exempt", "include", "retire", name="scopechange", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        *_decided(),
        sa.ForeignKeyConstraint(["system_id"], ["system.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("system_id", "status", "requested_at", "decided_at"):
        op.create_index(f"ix_scope_request_{column}", "scope_request", [column], unique=False)

    op.create_table(
        "national_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=73), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("client_system_id", sa.Integer(), nullable=True),
        sa.Column("client_agency_code", sa.String(length=64), nullable=True),
        *_decided(),
        sa.ForeignKeyConstraint(["client_agency_code"], ["agency.code"]),
        sa.ForeignKeyConstraint(["client_system_id"], ["system.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_national_grant_client_system_id", "national_grant", ["client_system_id"], unique=False
    )

    # Null for the dossiers already there: their claimed reuses were never checked.
    op.add_column("dossier", sa.Column("unverified", sa.Integer(), nullable=True))
    op.add_column("dossier", sa.Column("claimed_received_on", sa.Date(), nullable=True))
    op.add_column("dossier_component", sa.Column("evidence", sa.String(length=36), nullable=True))
    op.create_index("ix_dossier_component_evidence", "dossier_component", ["evidence"], unique=False)
    op.create_index(
        "ix_exchange_record_evidence_subject",
        "exchange_record",
        ["subject_hash"],
        unique=False,
        sqlite_where=sa.text(EVIDENCE_ONLY),
        postgresql_where=sa.text(EVIDENCE_ONLY),
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_record_evidence_subject", table_name="exchange_record")
    op.drop_index("ix_dossier_component_evidence", table_name="dossier_component")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 or later), not a rebuild, for the same trigger.
    op.drop_column("dossier_component", "evidence")
    op.drop_column("dossier", "claimed_received_on")
    op.drop_column("dossier", "unverified")
    op.drop_index("ix_national_grant_client_system_id", table_name="national_grant")
    op.drop_table("national_grant")
    for column in ("system_id", "status", "requested_at", "decided_at"):
        op.drop_index(f"ix_scope_request_{column}", table_name="scope_request")
    op.drop_table("scope_request")
