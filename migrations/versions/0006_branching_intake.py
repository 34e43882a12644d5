"""the branching intake: old counters in the new dimensions, the queue's new urgency, reconnect keys

Create Date: 2026-12-05 10:00:00

Statistics counters written before issue 18 are moved into the new questionnaire's dimensions, so old weeks read
the same way as new ones: the one situation ("status") becomes the situations and, for soldiers, the service
question; Belarus and Kazakhstan/Kyrgyzstan/Armenia become "abroad"; "a wound or illness that matters" becomes
"a wound or illness (not specified)". Rows that land on the same cell are summed. The mapping is written out
here, not imported: a migration must mean the same thing whatever the code becomes.

The downgrade maps back what has an old counterpart and says what it cannot undo: the places merged into
"abroad" stay merged, several service answers of one request each become a status (so that week's situations may
add up to more than its requests), and what the old questionnaire never asked (the questions for people not
serving yet and for those away from the unit, "don't know" answers, places and situations it did not have) is
dropped.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"

Cell = tuple[str, str]  # (metric, bucket)
SERVICES = ("conscript", "mobilised", "contract")

# Old cell -> the new cells it counts in.
UPGRADE: dict[Cell, tuple[Cell, ...]] = {
    ("status", "summons"): (("situation", "not_serving"),),
    **{("status", s): (("situation", "serving"), ("serving", s)) for s in SERVICES},
    ("status", "left_unit"): (("situation", "left_unit"),),
    ("status", "wounded"): (("situation", "wounded"),),
    ("status", "other"): (("situation", "unknown"),),
    ("location", "belarus"): (("location", "abroad"),),
    ("location", "kz_kg_am"): (("location", "abroad"),),
    ("health", "matters"): (("health", "unspecified"),),
}
# New cell -> its old counterpart; a new cell not listed has none and is dropped.
DOWNGRADE: dict[Cell, Cell] = {
    ("situation", "not_serving"): ("status", "summons"),
    ("situation", "left_unit"): ("status", "left_unit"),
    ("situation", "wounded"): ("status", "wounded"),
    ("situation", "abroad"): ("status", "other"),
    ("situation", "unknown"): ("status", "other"),
    **{("serving", s): ("status", s) for s in SERVICES},
    ("serving", "forced_contract"): ("status", "contract"),
    ("location", "controlled"): ("location", "front"),
    ("health", "unspecified"): ("health", "matters"),
    ("health", "wound"): ("health", "matters"),
    ("health", "illness"): ("health", "matters"),
}
# What the old questionnaire asked, and the answers it knew: anything else new is dropped going down.
OLD_DIMENSIONS = {"who", "status", "location", "documents", "health", "urgency", "help"}
NEW_ONLY = frozenset({
    ("location", "unknown"),
    ("health", "unknown"),
    ("who", "unknown"),
    ("urgency", "unknown"),
    ("documents", "unknown"),
    ("documents", "passport_held"),
    ("help", "unknown"),
    *(("help", h) for h in ("criminal_case", "medical", "documents_back", "deferment", "partner_exit", "family")),
})  # fmt: skip
# Dropped going down once what maps back has moved: "serving" as a situation (its split is in the service rows).
NEW_DIMENSIONS = frozenset({"situation", "not_serving", "serving", "left_unit"})
QUESTION_METRICS = OLD_DIMENSIONS | NEW_DIMENSIONS


def _rewrite(
    move: dict[Cell, tuple[Cell, ...]], drop: frozenset[Cell] = frozenset(), drop_metrics: frozenset[str] = frozenset()
) -> None:
    """Replace every counter row of the questions by the cells ``move`` names (the row itself when it names
    none), summing rows that land on the same cell, leaving out what ``drop`` says."""
    connection = op.get_bind()
    counters = sa.table(
        "stat_counters", sa.column("week"), sa.column("metric"), sa.column("bucket"), sa.column("count")
    )
    rows = connection.execute(
        sa.select(counters.c.week, counters.c.metric, counters.c.bucket, counters.c.count).where(
            counters.c.metric.in_(sorted(QUESTION_METRICS))
        )
    ).all()
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for week, metric, bucket, count in rows:
        for new_metric, new_bucket in move.get((metric, bucket), ((metric, bucket),)):
            if new_metric in drop_metrics or (new_metric, new_bucket) in drop:
                continue
            totals[(week, new_metric, new_bucket)] += count
    connection.execute(sa.delete(counters).where(counters.c.metric.in_(sorted(QUESTION_METRICS))))
    if totals:
        connection.execute(
            sa.insert(counters),
            [{"week": w, "metric": m, "bucket": b, "count": c} for (w, m, b), c in sorted(totals.items())],
        )


def upgrade() -> None:
    op.add_column("requests", sa.Column("reconnect_key", sa.String(length=64), nullable=True))
    op.create_table(
        "reconnect_failures",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconnect_failures")),
    )
    op.create_index("ix_reconnect_failures_subject", "reconnect_failures", ["subject", "failed_at"], unique=False)
    # "Don't know" ranks between "this week" and "there is time" (storage/requests.py: URGENCY_ORDER).
    op.execute("UPDATE requests SET urgency_rank = 3 WHERE urgency = 'planning'")
    _rewrite(UPGRADE)


def downgrade() -> None:
    _rewrite(
        {cell: (old,) for cell, old in DOWNGRADE.items()},
        drop=NEW_ONLY,
        drop_metrics=NEW_DIMENSIONS,
    )
    op.execute("UPDATE requests SET urgency_rank = 2 WHERE urgency = 'planning'")
    op.execute("UPDATE requests SET urgency_rank = 99 WHERE urgency = 'unknown'")
    op.drop_index("ix_reconnect_failures_subject", table_name="reconnect_failures")
    op.drop_table("reconnect_failures")
    op.drop_column("requests", "reconnect_key")
