"""the purpose of each exchange, and an index to find a person's exchanges over a period (the data tracker)

A plain ALTER TABLE ... ADD COLUMN, not a rebuild of a table that grows with every exchange. The purpose is
null in the records made before: nobody said why.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("exchange_record", sa.Column("purpose", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_exchange_record_subject_request_in_at",
        "exchange_record",
        ["subject_hash", "request_in_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_record_subject_request_in_at", table_name="exchange_record")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 or later), not a rebuild.
    op.drop_column("exchange_record", "purpose")
