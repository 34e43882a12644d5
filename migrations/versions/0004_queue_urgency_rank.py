"""queue order served by an index

Create Date: 2026-11-25 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    # Added in place (no table rebuild, which on SQLite would have to carry the partial unique index
    # over); 99 sorts an urgency the code does not know last, as the queue did.
    op.add_column("requests", sa.Column("urgency_rank", sa.SmallInteger(), server_default="99", nullable=False))
    # The order the queue used to compute per query (storage/requests.py: URGENCY_ORDER).
    op.execute(
        "UPDATE requests SET urgency_rank = CASE urgency WHEN '48h' THEN 0 WHEN 'week' THEN 1 WHEN 'planning' THEN 2 ELSE 99 END"
    )
    op.create_index(
        "ix_requests_waiting", "requests", ["status", "requester_blocked", "urgency_rank", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_requests_waiting", table_name="requests")
    op.drop_column("requests", "urgency_rank")
