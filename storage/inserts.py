"""INSERTs that say what happens when the row is already there, in the dialect of the session's database.

SQLite and PostgreSQL both have ``INSERT ... ON CONFLICT``, but SQLAlchemy builds it from a different
construct for each; every insert of that kind starts from ``conflict_insert``, or from ``conflict_statement``
when it runs with every update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.base import Executable


def _insert_into(dialect: str, target: type[DeclarativeBase] | Table) -> sqlite.Insert | postgresql.Insert:
    return sqlite.insert(target) if dialect == "sqlite" else postgresql.insert(target)


def conflict_insert(session: AsyncSession, model: type[DeclarativeBase]) -> sqlite.Insert | postgresql.Insert:
    """``INSERT INTO model``, able to take ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return _insert_into(session.get_bind().dialect.name, model)


# Built once per table, dialect and use: a statement made afresh for every update is walked again to find it in
# SQLAlchemy's statement cache (bench/intake_profile.py measured it on the update-id claim). On the table, not the
# class: rows go to the driver as they are, not through the ORM's bulk insert.
_BUILT: dict[tuple[str, str, str], Executable] = {}
Build = Callable[[sqlite.Insert | postgresql.Insert, Table], Executable]


def conflict_statement(session: AsyncSession, model: type[DeclarativeBase], use: str, build: Build) -> Executable:
    """``build(insert, table)`` for ``model``'s table in the session's dialect, the first time ``use`` asks for it;
    the same statement every time after."""
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect.name
    statement = _BUILT.get((table.name, dialect, use))
    if statement is None:
        statement = _BUILT[(table.name, dialect, use)] = build(_insert_into(dialect, table), table)
    return statement


def _claim(insert: sqlite.Insert | postgresql.Insert, table: Table) -> Executable:
    return insert.on_conflict_do_nothing().returning(next(iter(table.primary_key.columns)))


async def insert_once(session: AsyncSession, model: type[DeclarativeBase], **values: Any) -> bool:
    """Insert this row unless one with its primary key exists; True if this call inserted it.

    The claim-once step: whoever inserts the row owns what it stands for (an update handled, a job's period
    run), and rolls the claim back with its work if that fails. A transaction claiming the same row at the
    same moment waits for this one, then finds the row there.
    """
    return await session.scalar(conflict_statement(session, model, "once", _claim), values) is not None
