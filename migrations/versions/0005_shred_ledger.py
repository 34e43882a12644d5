"""requests shredded since the last key roll, for restores

Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.create_table(
        "shred_ledger",
        sa.Column("request_index", sa.String(length=64), nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("request_index", name=op.f("pk_shred_ledger")),
    )


def downgrade() -> None:
    op.drop_table("shred_ledger")
