"""The FSM backend of one box: records in the ``fsm_state`` table, in the update's own transaction."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, cast

from aiogram.fsm.storage.base import StateType, StorageKey
from sqlalchemy import CursorResult, Executable, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from storage import clock
from storage.db import Database, before_commit
from storage.fsm.base import SEALED, FsmBackend, parse_storage_key, state_name, storage_key_text
from storage.models import FsmRecord

_ROWS = "tropa.fsm.rows"
_TABLE = cast(Table, FsmRecord.__table__)
# Built once: the statements of every update, on the table (no ORM object, no unit of work).
_READ = select(_TABLE.c.state, _TABLE.c.data).where(_TABLE.c.key == bindparam("record_key"))
_INSERT = insert(_TABLE)
_UPDATE = update(_TABLE).where(_TABLE.c.key == bindparam("record_key"))  # SET: the columns the call names
_DELETE = delete(_TABLE).where(_TABLE.c.key == bindparam("record_key"))


@dataclass(slots=True)
class _Row:
    """A person's record as this transaction sees it."""

    text: str  # the key as the table holds it
    state: str | None
    data: bytes | None
    stored: bool  # the table holds a row for this key (as of the transaction's last write)
    changed: set[str] = field(default_factory=set)  # the columns this transaction set, and only those are written

    @property
    def empty(self) -> bool:
        return self.state is None and self.data is None


class DatabaseStorage(FsmBackend):
    """FSM records in ``fsm_state``. Within a transaction a record is read once; every change to it is kept
    and written with one statement just before the commit (or before the keys are listed).

    Plain statements on the table rather than ORM objects: the unit of work's flush of this one row cost more
    than everything else the row needs (bench/intake_profile.py, decision 0014).
    """

    transactional: ClassVar[bool] = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _row(self, session: AsyncSession, key: StorageKey) -> _Row:
        rows: dict[StorageKey, _Row] | None = session.info.get(_ROWS)
        if rows is None:
            rows = session.info[_ROWS] = {}
            before_commit(session, lambda: self._write(session))
        row = rows.get(key)
        if row is None:
            text = storage_key_text(key)
            found = (await session.execute(_READ, {"record_key": text})).first()
            row = rows[key] = _Row(text, found.state, found.data, True) if found else _Row(text, None, None, False)
        return row

    @staticmethod
    async def _write(session: AsyncSession) -> None:
        """Each record this transaction changed, written once: inserted, updated (only the columns it set, as the
        unit of work did: a key roll may have resealed the other meanwhile) or deleted. A row to update that is
        gone since it was read fails the transaction, as the unit of work's flush did."""
        rows: dict[StorageKey, _Row] = session.info.get(_ROWS, {})
        now = clock.now()
        for row in [row for row in rows.values() if row.changed]:
            if row.empty:
                if row.stored:  # gone already (the abandoned-intake sweep) is gone all the same
                    await session.execute(_DELETE, {"record_key": row.text})
            elif row.stored:
                values = {column: getattr(row, column) for column in row.changed}
                await _exactly_one(session, _UPDATE, {"record_key": row.text, **values, "updated_at": now})
            else:
                await session.execute(
                    _INSERT, {"key": row.text, "state": row.state, "data": row.data, "updated_at": now}
                )
            row.stored, row.changed = not row.empty, set()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key)
            row.state = state_name(state)
            row.changed.add("state")

    async def get_state(self, key: StorageKey) -> str | None:
        async with self.db.session_or_transaction() as session:
            return (await self._row(session, key)).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        sealed = data.get(SEALED)
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key)
            row.data = base64.b64decode(sealed) if sealed else None
            row.changed.add("data")

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key)
            return {} if row.data is None else {SEALED: base64.b64encode(row.data).decode()}

    async def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        query = select(_TABLE.c.key)
        if untouched_before is not None:
            query = query.where(_TABLE.c.updated_at < untouched_before)
        async with self.db.session_or_transaction() as session:
            await self._write(session)  # what this transaction changed, listed as it now stands
            texts = list(await session.scalars(query))
        for text in texts:
            yield parse_storage_key(text)

    async def delete(self, key: StorageKey) -> None:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key)
            row.state, row.data = None, None
            row.changed.update(("state", "data"))

    async def close(self) -> None:
        return None


async def _exactly_one(session: AsyncSession, statement: Executable, values: dict[str, Any]) -> None:
    result = cast(CursorResult[Any], await session.execute(statement, values))
    if result.rowcount != 1:
        raise StaleDataError("an FSM record was removed by another transaction after this one read it")
