"""relay pairs, blocked requesters, canned replies

Create Date: 2026-11-25 12:32:50.786731
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.create_table(
        "canned_replies",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "language", name=op.f("pk_canned_replies")),
        sa.UniqueConstraint("id", name=op.f("uq_canned_replies_id")),
    )
    op.create_table(
        "blocked_requesters",
        sa.Column("requester_index", sa.String(length=64), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["blocked_by"],
            ["volunteers.id"],
            name=op.f("fk_blocked_requesters_blocked_by_volunteers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("requester_index", name=op.f("pk_blocked_requesters")),
    )
    with op.batch_alter_table("shown_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peer_lookup", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_shown_messages_peer_lookup"), ["peer_lookup"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shown_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shown_messages_peer_lookup"))
        batch_op.drop_column("peer_lookup")

    op.drop_table("blocked_requesters")
    op.drop_table("canned_replies")
