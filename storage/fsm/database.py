"""The FSM backend of one box: records in the ``fsm_state`` table, in the update's own transaction."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from aiogram.fsm.storage.base import StateType, StorageKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.db import Database
from storage.fsm.base import SEALED, FsmBackend, parse_storage_key, state_name, storage_key_text
from storage.models import FsmRecord

_PINNED = "tropa.fsm.rows"


class DatabaseStorage(FsmBackend):
    """FSM records in ``fsm_state``, through the ORM: within an update every read after the first comes
    from the session's identity map and all writes reach the database in one flush at commit."""

    transactional: ClassVar[bool] = True

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def _row(session: AsyncSession, key: StorageKey, *, create: bool) -> FsmRecord | None:
        # The identity map holds unchanged objects only weakly; pin the row for the session's life so
        # the many get_data/get_state calls of one update cost a single SELECT.
        pinned: dict[str, FsmRecord | None] = session.info.setdefault(_PINNED, {})
        text = storage_key_text(key)
        if text in pinned:
            row = pinned[text]
        else:
            row = pinned[text] = await session.get(FsmRecord, text)
        if row is None and create:
            row = pinned[text] = FsmRecord(key=text, state=None, data=None, updated_at=clock.now())
            session.add(row)
        return row

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        name = state_name(state)
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=name is not None)
            if row is not None:
                row.state, row.updated_at = name, clock.now()

    async def get_state(self, key: StorageKey) -> str | None:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=False)
            return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        sealed = data.get(SEALED)
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=sealed is not None)
            if row is not None:
                row.data, row.updated_at = (base64.b64decode(sealed) if sealed else None), clock.now()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=False)
            if row is None or row.data is None:
                return {}
            return {SEALED: base64.b64encode(row.data).decode()}

    async def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        query = select(FsmRecord.key)
        if untouched_before is not None:
            query = query.where(FsmRecord.updated_at < untouched_before)
        async with self.db.session_or_transaction() as session:
            texts = list(await session.scalars(query))
        for text in texts:
            yield parse_storage_key(text)

    async def delete(self, key: StorageKey) -> None:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=False)
            if row is None:
                return
            if row in session.new:
                session.expunge(row)  # created in this transaction: nothing to delete in the database
            else:
                await session.delete(row)
                await session.flush()
            session.info[_PINNED][storage_key_text(key)] = None

    async def close(self) -> None:
        return None
