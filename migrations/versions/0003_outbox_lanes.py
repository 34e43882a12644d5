"""outbox lanes

Create Date: 2026-11-25 12:56:20.772978
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column("album", sa.String(length=32), nullable=True))
    # Messages already waiting keep no order among themselves: each gets a lane of its own.
    op.execute("UPDATE outbox SET lane = 'legacy:' || id WHERE lane IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("lane", existing_type=sa.String(length=48), nullable=False)
        batch_op.create_index("ix_outbox_lane", ["lane", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_lane")
        batch_op.drop_column("album")
        batch_op.drop_column("lane")
