"""Bus identity: system keys' bus public keys, and the signatures kept as exchange evidence.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verify_key", sa.String(length=64), nullable=True))
    with op.batch_alter_table("exchange_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_evidence", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("response_evidence", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_record", schema=None) as batch_op:
        batch_op.drop_column("response_evidence")
        batch_op.drop_column("request_evidence")
    with op.batch_alter_table("apikey", schema=None) as batch_op:
        batch_op.drop_column("verify_key")
