"""INSERTs that say what happens when the row is already there, in the dialect of the session's database.

SQLite and PostgreSQL both have ``INSERT ... ON CONFLICT``, but SQLAlchemy builds it from a different
construct for each; every insert of that kind starts from ``conflict_insert``.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.base import Executable


def conflict_insert(session: AsyncSession, model: type[DeclarativeBase]) -> sqlite.Insert | postgresql.Insert:
    """``INSERT INTO model``, able to take ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model)
    return postgresql.insert(model)


# Built once per table and dialect: a statement made afresh for every update is walked again to find it in
# SQLAlchemy's statement cache (bench/intake_profile.py measured it on the update-id claim).
_ONCE: dict[tuple[str, str], Executable] = {}


def _once_statement(dialect: str, model: type[DeclarativeBase]) -> Executable:
    table = cast(Table, model.__table__)
    statement = _ONCE.get((table.name, dialect))
    if statement is None:
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        primary_key = next(iter(table.primary_key.columns))
        statement = _ONCE[(table.name, dialect)] = insert(table).on_conflict_do_nothing().returning(primary_key)
    return statement


async def insert_once(session: AsyncSession, model: type[DeclarativeBase], **values: Any) -> bool:
    """Insert this row unless one with its primary key exists; True if this call inserted it.

    The claim-once step: whoever inserts the row owns what it stands for (an update handled, a job's period
    run), and rolls the claim back with its work if that fails. A transaction claiming the same row at the
    same moment waits for this one, then finds the row there.
    """
    statement = _once_statement(session.get_bind().dialect.name, model)
    return await session.scalar(statement, values) is not None
