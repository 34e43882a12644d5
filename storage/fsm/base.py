"""What every FSM backend shares: the key as text, and what the sealing wrapper asks of the storage it writes to.

aiogram's ``BaseStorage`` reads and writes state and data one at a time. ``FsmBackend`` adds what the
wrapper (storage/fsm/encrypted.py) needs besides: a person's whole record in one call, deleting it, listing
keys for the abandoned-intake sweep, and rewriting a record in place for a key roll. A backend overrides
what it can do better; the wrapper calls these methods and never asks which backend it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

# The one field of the data a backend is given: the sealed document, as base64 text.
SEALED = "sealed"

# ``change(state, data)`` for ``FsmBackend.replace_record``: the new state and data (None for a part that stays
# as it is), or None to leave the record alone.
RecordChange = Callable[[str | None, dict[str, Any]], tuple[str | None, dict[str, Any] | None] | None]


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


def parse_storage_key(text: str) -> StorageKey:
    """The key ``storage_key_text`` wrote."""
    bot_id, chat_id, user_id, thread_id, business, destiny = text.split(":")
    return StorageKey(
        bot_id=int(bot_id),
        chat_id=int(chat_id),
        user_id=int(user_id),
        thread_id=int(thread_id) if thread_id else None,
        business_connection_id=business or None,
        destiny=destiny,
    )


def state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class FsmBackend(BaseStorage):
    """An aiogram storage the sealing wrapper can keep records in (keys already blinded, values already sealed)."""

    # True when records are rows written in the update's own database transaction: nothing is held back
    # until the commit, nothing is journaled, and a key roll reseals them itself (storage/epochs.py).
    transactional: ClassVar[bool] = False

    async def get_record(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        """State and data together; a backend that can read both in one round trip overrides this."""
        return await self.get_state(key), await self.get_data(key)

    async def set_record(self, key: StorageKey, state: str | None, data: Mapping[str, Any]) -> None:
        """State and data together; a backend that can write both in one round trip overrides this."""
        await self.set_state(key, state)
        await self.set_data(key, data)

    async def delete(self, key: StorageKey) -> None:
        """Remove the record, leaving nothing that says this person once talked to the bot."""
        await self.set_record(key, None, {})

    async def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        """Every key, for the abandoned-intake sweep and the key roll; a backend that tracks write times may
        leave out those written since ``untouched_before``. A backend that cannot list its keys lists none."""
        nothing: tuple[StorageKey, ...] = ()
        for key in nothing:
            yield key

    async def replace_record(self, key: StorageKey, change: RecordChange) -> bool:
        """Rewrite a record where it is, as ``change`` says; False if it says to leave it. A backend with a time
        to live keeps it; one that other processes write at the same time overrides this with a compare-and-set."""
        state, data = await self.get_record(key)
        changed = change(state, data)
        if changed is None:
            return False
        new_state, new_data = changed
        await self.set_record(key, state if new_state is None else new_state, data if new_data is None else new_data)
        return True


class AiogramBackend(FsmBackend):
    """Any other aiogram storage (``MemoryStorage`` in tests) as a backend: it cannot list its keys, so nothing
    in it is swept or resealed, and it is read and written one part at a time."""

    def __init__(self, storage: BaseStorage) -> None:
        self.storage = storage

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self.storage.set_state(key, state)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self.storage.get_state(key)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self.storage.set_data(key, data)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return await self.storage.get_data(key)

    async def close(self) -> None:
        await self.storage.close()


def as_backend(storage: BaseStorage) -> FsmBackend:
    """The one question about a storage's type, asked once when the wrapper is built."""
    return storage if isinstance(storage, FsmBackend) else AiogramBackend(storage)
