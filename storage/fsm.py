"""FSM storage: an encrypting wrapper around any aiogram storage, and a database-backed storage.

``EncryptedStorage`` is what the dispatcher gets. Before anything reaches the inner storage it
replaces chat and user ids with blind indexes and seals state and data with the system data key, the
AAD naming the blinded key. The inner storage -- our database table, aiogram's ``RedisStorage`` or
``MemoryStorage`` -- never sees a Telegram id or a readable answer (docs/decisions/0003-fsm-storage.md).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage import clock
from storage.crypto import CryptoError, Key, Place, open_sealed, seal
from storage.db import Database
from storage.models import FsmRecord

FSM_DOMAIN = "fsm"
_SEALED = "sealed"
_TOUCHED = "t"
_DATA = "d"


def storage_key_text(key: StorageKey) -> str:
    return ":".join(
        str(part) if part is not None else ""
        for part in (
            key.bot_id,
            key.chat_id,
            key.user_id,
            key.thread_id,
            key.business_connection_id,
            key.destiny,
        )
    )


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


@runtime_checkable
class Sweepable(Protocol):
    """An inner storage that can list its keys, so abandoned intakes can be found and erased."""

    def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        """All keys; a storage that tracks write times may leave out those written since the cutoff."""
        ...

    async def delete(self, key: StorageKey) -> None: ...


class DatabaseStorage(BaseStorage):
    """FSM records in ``fsm_state``. Writes join the update's transaction when one is open."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        values["updated_at"] = clock.now()
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        statement = insert(FsmRecord).values(key=storage_key_text(key), **values)
        statement = statement.on_conflict_do_update(index_elements=[FsmRecord.key], set_=values)
        async with self.db.session_or_transaction() as session:
            await session.execute(statement)

    async def _row(self, key: StorageKey) -> FsmRecord | None:
        async with self.db.session_or_transaction() as session:
            return await session.scalar(
                select(FsmRecord)
                .where(FsmRecord.key == storage_key_text(key))
                .execution_options(populate_existing=True)
            )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._upsert(key, state=_state_name(state))

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._row(key)
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        sealed = data.get(_SEALED)
        await self._upsert(key, data=base64.b64decode(sealed) if sealed else None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._row(key)
        if row is None or row.data is None:
            return {}
        return {_SEALED: base64.b64encode(row.data).decode()}

    async def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        query = select(FsmRecord.key)
        if untouched_before is not None:
            query = query.where(FsmRecord.updated_at < untouched_before)
        async with self.db.session_or_transaction() as session:
            texts = list(await session.scalars(query))
        for text in texts:
            yield _parse_key(text)

    async def delete(self, key: StorageKey) -> None:
        async with self.db.session_or_transaction() as session:
            await session.execute(delete(FsmRecord).where(FsmRecord.key == storage_key_text(key)))

    async def close(self) -> None:
        return None


def _parse_key(text: str) -> StorageKey:
    bot_id, chat_id, user_id, thread_id, business, destiny = text.split(":")
    return StorageKey(
        bot_id=int(bot_id),
        chat_id=int(chat_id),
        user_id=int(user_id),
        thread_id=int(thread_id) if thread_id else None,
        business_connection_id=business or None,
        destiny=destiny,
    )


@dataclass(frozen=True)
class FsmEntry:
    """One decrypted FSM record, for the abandoned-intake sweep."""

    key: StorageKey
    state: str | None
    data: dict[str, Any]
    touched_at: float


class EncryptedStorage(BaseStorage):
    def __init__(self, inner: BaseStorage, key: Key, index_key_blind: Any) -> None:
        """``index_key_blind(domain, value) -> hex`` is the keyring's blind-index function."""
        self.inner = inner
        self._key = key
        self._blind = index_key_blind

    def _blind_int(self, value: int) -> int:
        # 60 bits of the HMAC: storages want integers, and collisions need ~10^9 people.
        return int(self._blind(FSM_DOMAIN, value)[:15], 16)

    def blinded(self, key: StorageKey) -> StorageKey:
        return StorageKey(
            bot_id=key.bot_id,
            chat_id=self._blind_int(key.chat_id),
            user_id=self._blind_int(key.user_id),
            thread_id=key.thread_id,
            business_connection_id=None,
            destiny=key.destiny,
        )

    def _place(self, blinded: StorageKey, column: str) -> Place:
        return Place("fsm", column, storage_key_text(blinded))

    def _seal(self, blinded: StorageKey, column: str, payload: bytes) -> str:
        return base64.b64encode(seal(self._key, payload, self._place(blinded, column))).decode()

    def _open(self, blinded: StorageKey, column: str, text: str) -> bytes:
        return open_sealed(self._key, base64.b64decode(text), self._place(blinded, column))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        blinded = self.blinded(key)
        name = _state_name(state)
        await self.inner.set_state(blinded, None if name is None else self._seal(blinded, "state", name.encode()))

    async def get_state(self, key: StorageKey) -> str | None:
        blinded = self.blinded(key)
        sealed = await self.inner.get_state(blinded)
        return None if sealed is None else self._open(blinded, "state", sealed).decode()

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._set_blinded_data(self.blinded(key), data)

    async def _set_blinded_data(self, blinded: StorageKey, data: Mapping[str, Any]) -> None:
        if not data:
            # FSMContext.clear() sets no state, then no data: remove the record instead of keeping
            # an empty row that still says this person once talked to the bot.
            if isinstance(self.inner, Sweepable) and await self.inner.get_state(blinded) is None:
                await self.inner.delete(blinded)
            else:
                await self.inner.set_data(blinded, {})
            return
        payload = json.dumps({_DATA: dict(data), _TOUCHED: time.time()}, ensure_ascii=False).encode()
        await self.inner.set_data(blinded, {_SEALED: self._seal(blinded, "data", payload)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self._entry(self.blinded(key))).data

    async def _entry(self, blinded: StorageKey) -> FsmEntry:
        raw = await self.inner.get_data(blinded)
        sealed_state = await self.inner.get_state(blinded)
        state = None if sealed_state is None else self._open(blinded, "state", sealed_state).decode()
        if not raw or _SEALED not in raw:
            return FsmEntry(blinded, state, {}, 0.0)
        document = json.loads(self._open(blinded, "data", raw[_SEALED]))
        return FsmEntry(blinded, state, dict(document[_DATA]), float(document[_TOUCHED]))

    async def entries(self, untouched_before: datetime | None = None) -> AsyncIterator[FsmEntry]:
        """Records decrypted, for the abandoned-intake sweep.

        A record that does not open (sealed under a system key that no longer exists, or damaged) is
        reported as empty and untouched since the epoch, so the sweep removes it instead of keeping
        it forever.
        """
        if not isinstance(self.inner, Sweepable):
            return
        async for blinded in self.inner.keys(untouched_before):
            try:
                yield await self._entry(blinded)
            except (CryptoError, ValueError, KeyError):
                yield FsmEntry(blinded, None, {}, 0.0)

    async def delete_blinded(self, blinded: StorageKey) -> None:
        if isinstance(self.inner, Sweepable):
            await self.inner.delete(blinded)

    async def close(self) -> None:
        await self.inner.close()
