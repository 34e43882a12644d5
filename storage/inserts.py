"""INSERTs that say what happens when the row is already there, in the dialect of the session's database.

SQLite and PostgreSQL both have ``INSERT ... ON CONFLICT``, but SQLAlchemy builds it from a different
construct for each; every insert of that kind starts from ``conflict_insert``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


def conflict_insert(session: AsyncSession, model: type[DeclarativeBase]) -> sqlite.Insert | postgresql.Insert:
    """``INSERT INTO model``, able to take ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model)
    return postgresql.insert(model)


async def insert_once(session: AsyncSession, model: type[DeclarativeBase], **values: Any) -> bool:
    """Insert this row unless one with its primary key exists; True if this call inserted it.

    The claim-once step: whoever inserts the row owns what it stands for (an update handled, a job's period
    run), and rolls the claim back with its work if that fails. A transaction claiming the same row at the
    same moment waits for this one, then finds the row there.
    """
    key = inspect(model).primary_key[0]
    statement = conflict_insert(session, model).values(**values).on_conflict_do_nothing().returning(key)
    return await session.scalar(statement) is not None
