"""a volunteer's work on a case: the kept conversation, handover notes, unanswered messages, first replies

Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"


def upgrade() -> None:
    op.create_table(
        "case_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["requests.id"], name=op.f("fk_case_messages_request_id_requests"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_messages")),
    )
    op.create_index(op.f("ix_case_messages_request_id"), "case_messages", ["request_id"], unique=False)
    # Added in place (no table rebuild, which on SQLite would have to carry the partial unique index over).
    op.add_column("requests", sa.Column("unanswered", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("requests", sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("requests", sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notes", sa.Column("handover", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    # The open backlog by language is a gauge from now on: it starts from the requests open today, as the
    # backlog by urgency once did (it is moved by every submit, close, reopen and shred after this).
    # ('total', 'backlog_language'): services/metrics.py's GAUGE_WEEK and BACKLOG_LANGUAGE, as stored.
    op.execute(
        "INSERT INTO stat_counters (week, metric, bucket, count) "
        "SELECT 'total', 'backlog_language', language, COUNT(*) FROM requests "
        "WHERE status IN ('new', 'claimed') GROUP BY language"
    )


def downgrade() -> None:
    op.execute("DELETE FROM stat_counters WHERE week = 'total' AND metric = 'backlog_language'")
    op.drop_column("notes", "handover")
    op.drop_column("requests", "first_reply_at")
    op.drop_column("requests", "waiting_since")
    op.drop_column("requests", "unanswered")
    op.drop_index(op.f("ix_case_messages_request_id"), table_name="case_messages")
    op.drop_table("case_messages")
