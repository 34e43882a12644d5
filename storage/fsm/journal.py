"""The journal: what an update is about to give a backend outside the database (Redis), in the update's transaction.

The sealing wrapper holds such writes back until the update commits (storage/fsm/encrypted.py). Just before
the commit it writes them here too, as ``fsm_state`` rows: should the process die between the commit and the
write to Redis, the row is the person's latest state, and their next update takes it over. Once the backend
holds the record its row goes, a moment later and together with others; one left behind by a dying process
is only taken over again, unchanged. Rows nobody came back for are erased like any abandoned intake.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import delete, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.db import Batched, Database
from storage.fsm.base import SEALED, storage_key_text
from storage.inserts import conflict_insert
from storage.models import FsmRecord

# A person's whole record as the backend gets it: {"state": sealed state or None, "data": the backend's data
# dict}; no state and no data means deleted.
Record = dict[str, Any]


class Journal:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._written = Batched(db, self._forget_written, "fsm.journal")

    @staticmethod
    async def read(session: AsyncSession, blinded: StorageKey) -> Record | None:
        """The record a committed update journaled and never wrote through, if there is one."""
        row = await session.get(FsmRecord, storage_key_text(blinded))
        if row is None:
            return None
        data = {SEALED: base64.b64encode(row.data).decode()} if row.data else {}
        return {"state": row.state, "data": data}

    @staticmethod
    async def write(session: AsyncSession, records: Mapping[StorageKey, Record]) -> dict[StorageKey, datetime]:
        """Journal ``records`` in ``session``'s transaction; returns when each was journaled (``written`` needs it)."""
        upsert = conflict_insert(session, FsmRecord)
        upsert = upsert.on_conflict_do_update(
            index_elements=[FsmRecord.key],
            set_={
                "state": upsert.excluded.state,
                "data": upsert.excluded.data,
                "updated_at": upsert.excluded.updated_at,
            },
        )
        journaled: dict[StorageKey, datetime] = {}
        rows = []
        for blinded, record in records.items():
            sealed = record["data"].get(SEALED)
            data = base64.b64decode(sealed) if sealed else None
            journaled[blinded] = clock.now()
            rows.append(
                {
                    "key": storage_key_text(blinded),
                    "state": record["state"],
                    "data": data,
                    "updated_at": journaled[blinded],
                }
            )
        await session.execute(upsert, rows)
        return journaled

    def written(self, journaled: Mapping[StorageKey, datetime]) -> None:
        """The backend holds these records now: their rows go in a moment."""
        for blinded, moment in journaled.items():
            self._written.add((storage_key_text(blinded), moment))

    @staticmethod
    async def _forget_written(session: AsyncSession, written: list[tuple[str, datetime]]) -> None:
        """Remove journal rows the backend now holds -- unless a later update has journaled again."""
        await session.execute(delete(FsmRecord).where(tuple_(FsmRecord.key, FsmRecord.updated_at).in_(written)))

    async def forget_older_than(self, older_than: datetime) -> int:
        async with self.db.session_or_transaction() as session:
            result = await session.execute(
                delete(FsmRecord).where(FsmRecord.updated_at < older_than).returning(FsmRecord.key)
            )
            return len(result.all())

    async def settle(self) -> None:
        """Remove the rows already written through now, instead of in a moment."""
        await self._written.close()
