"""providers beyond the province: exchange_record.provider holds AREA/CODE addresses

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_record") as batch:
        batch.alter_column(
            "provider",
            existing_type=sa.String(length=64),
            type_=sa.String(length=73),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_record") as batch:
        batch.alter_column(
            "provider",
            existing_type=sa.String(length=73),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
