"""The FSM storage the dispatcher gets: an aiogram storage that blinds and seals for a backend.

Before anything reaches the backend (storage/fsm/database.py, storage/fsm/redis.py, or any aiogram storage)
``EncryptedStorage`` replaces chat and user ids with blind indexes and seals state and data with the
ephemeral data key (which every key roll replaces, storage/epochs.py), the AAD naming the blinded key. The
backend never sees a Telegram id or a readable answer (docs/decisions/0003-blind-index-and-fsm.md).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import CryptoError, Key, Place, key_id_of, open_sealed, seal
from storage.db import Database, after_commit, before_commit, current_session
from storage.fsm.base import SEALED, as_backend, state_name, storage_key_text
from storage.fsm.journal import Journal, Record
from storage.vault import FixedKey, SealingKeys, Shredded

FSM_DOMAIN = "fsm"
log = structlog.get_logger()
_HELD = "tropa.fsm.held"
_READ = "tropa.fsm.read"
_CHECKED = "tropa.fsm.journal_checked"
_BLINDED = "tropa.fsm.blinded"
_OPENED = "tropa.fsm.opened"
_TOUCHED = "t"
_DATA = "d"


@dataclass(frozen=True)
class FsmEntry:
    """One decrypted FSM record, for the abandoned-intake sweep."""

    key: StorageKey
    state: str | None
    data: dict[str, Any]
    touched_at: float


class EncryptedStorage(BaseStorage):
    """Seals and blinds for a backend (the inner storage).

    With a backend outside the database (Redis), writes made while a database transaction is open are
    held back and written only after it commits: an update that fails, or a replica that dies in the
    middle of one, leaves the person's state exactly as it was, like the rest of the update.
    """

    def __init__(
        self, inner: BaseStorage, keys: SealingKeys | Key, index_key_blind: Any, journal: Database | None = None
    ) -> None:
        """``keys``: the ephemeral key to seal with and the one that opens a record (they change at each key
        roll, storage/epochs.py), or one fixed key. ``index_key_blind(domain, value) -> hex`` is the keyring's
        blind-index function. ``journal``: the database whose ``fsm_state`` table records, in each update's
        transaction, what an inner storage outside the database is about to be given (unused when the inner
        storage is that table; storage/fsm/journal.py)."""
        self.inner = as_backend(inner)
        self._keys: SealingKeys = FixedKey(keys) if isinstance(keys, Key) else keys
        self._blind = index_key_blind
        self.transactional = self.inner.transactional
        self.journal = Journal(journal) if journal is not None and not self.transactional else None

    def _blind_int(self, value: int) -> int:
        # 60 bits of the HMAC: storages want integers, and collisions need ~10^9 people.
        return int(self._blind(FSM_DOMAIN, value)[:15], 16)

    def blinded(self, key: StorageKey) -> StorageKey:
        # An update asks for its person's record a dozen times: blinded once per transaction, and forgotten
        # with it (nothing maps an id to its index for longer than one update).
        session = current_session.get()
        known: dict[StorageKey, StorageKey] | None = None if session is None else session.info.setdefault(_BLINDED, {})
        if known is not None and key in known:
            return known[key]
        blinded = StorageKey(
            bot_id=key.bot_id,
            chat_id=self._blind_int(key.chat_id),
            user_id=self._blind_int(key.user_id),
            thread_id=key.thread_id,
            business_connection_id=None,
            destiny=key.destiny,
        )
        if known is not None:
            known[key] = blinded
        return blinded

    def _place(self, blinded: StorageKey, column: str) -> Place:
        return Place("fsm", column, storage_key_text(blinded))

    @staticmethod
    def _opened() -> dict[tuple[StorageKey, str, str], bytes] | None:
        """What this transaction sealed or opened, by sealed text: the handlers of one update read the same
        record again and again, and it is opened once. Gone with the transaction."""
        session = current_session.get()
        return None if session is None else session.info.setdefault(_OPENED, {})

    async def _seal(self, blinded: StorageKey, column: str, payload: bytes) -> str:
        key = await self._keys.sealing()
        text = base64.b64encode(seal(key, payload, self._place(blinded, column))).decode()
        opened = self._opened()
        if opened is not None:
            opened[(blinded, column, text)] = payload
        return text

    async def _open(self, blinded: StorageKey, column: str, text: str) -> bytes:
        opened = self._opened()
        if opened is not None and (blinded, column, text) in opened:
            return opened[(blinded, column, text)]
        blob = base64.b64decode(text)
        plain = open_sealed(await self._keys.opening(blob), blob, self._place(blinded, column))
        if opened is not None:
            opened[(blinded, column, text)] = plain
        return plain

    # -- held-back writes (inner storages outside the database) ------------------------------------
    #
    # ``held`` maps a blinded key to the person's whole record as this transaction leaves it
    # (storage/fsm/journal.py: Record).

    def _held(self) -> dict[StorageKey, Record] | None:
        session = current_session.get()
        if session is None or self.transactional:
            return None
        held: dict[StorageKey, Record] | None = session.info.get(_HELD)
        if held is None:
            held = session.info[_HELD] = {}
            journaled: dict[StorageKey, datetime] = {}
            before_commit(session, lambda: self._journal_held(session, held, journaled))
            after_commit(session, lambda: self._write_held(held, journaled))
        return held

    async def _adopt_journal(self, held: dict[StorageKey, Record], blinded: StorageKey) -> None:
        """A journal row still there means an update committed but its process died before writing the
        inner storage: the row is the person's latest state. This transaction takes it over (and writes
        it through at its own commit)."""
        session = current_session.get()
        if self.journal is None or session is None or blinded in held:
            return
        checked: set[StorageKey] = session.info.setdefault(_CHECKED, set())
        if blinded in checked:
            return
        checked.add(blinded)
        journaled = await self.journal.read(session, blinded)
        if journaled is not None:
            held[blinded] = journaled

    async def _record(self, blinded: StorageKey) -> Record | None:
        """This transaction's copy of the person's record, if it has one (it wrote, or took over a journal)."""
        held = self._held()
        if held is None:
            return None
        await self._adopt_journal(held, blinded)
        return held.get(blinded)

    async def _stored(self, blinded: StorageKey) -> Record | None:
        """What this transaction sees of the person's record: what it will write, else what the inner storage
        holds. None when there is no transaction to remember it in, or the inner storage is the database."""
        record = await self._record(blinded)
        if record is not None or self._held() is None:
            return record
        return await self._inner_record(blinded)

    async def _inner_record(self, blinded: StorageKey) -> Record:
        """The record in the inner storage, read once per transaction (the person's lock keeps it current)."""
        session = current_session.get()
        assert session is not None
        read: dict[StorageKey, Record] = session.info.setdefault(_READ, {})
        if blinded not in read:
            state, data = await self.inner.get_record(blinded)
            read[blinded] = {"state": state, "data": data}
        return read[blinded]

    async def _writable(self, held: dict[StorageKey, Record], blinded: StorageKey) -> Record:
        record = await self._record(blinded)
        if record is None:
            record = held[blinded] = dict(await self._inner_record(blinded))
        return record

    async def _journal_held(
        self, session: AsyncSession, held: dict[StorageKey, Record], journaled: dict[StorageKey, datetime]
    ) -> None:
        """In the update's transaction, just before it commits: what the inner storage is about to get."""
        if self.journal is None or not held:
            return
        journaled.update(await self.journal.write(session, held))

    async def _write_held(self, held: dict[StorageKey, Record], journaled: dict[StorageKey, datetime]) -> None:
        for blinded, record in held.items():
            if record["state"] is None and not record["data"]:
                await self.inner.delete(blinded)
            else:
                await self.inner.set_record(blinded, record["state"], record["data"])
        if self.journal is not None:
            self.journal.written(journaled)

    async def forget_journal(self, older_than: datetime) -> int:
        """Journal rows nobody came back for (their process died, the person never wrote again) are
        abandoned intakes like any other: erased after the same period."""
        if self.journal is None:
            return 0
        return await self.journal.forget_older_than(older_than)

    async def _inner_state(self, blinded: StorageKey) -> str | None:
        record = await self._stored(blinded)
        if record is not None:
            return record["state"]  # type: ignore[no-any-return]
        return await self.inner.get_state(blinded)

    async def _inner_data(self, blinded: StorageKey) -> dict[str, Any]:
        record = await self._stored(blinded)
        if record is not None:
            return dict(record["data"])
        return await self.inner.get_data(blinded)

    async def _put_state(self, blinded: StorageKey, sealed: str | None) -> None:
        held = self._held()
        if held is None:
            await self.inner.set_state(blinded, sealed)
        else:
            (await self._writable(held, blinded))["state"] = sealed

    async def _put_data(self, blinded: StorageKey, data: dict[str, Any]) -> None:
        held = self._held()
        if held is None:
            await self.inner.set_data(blinded, data)
        else:
            (await self._writable(held, blinded))["data"] = data

    # -- BaseStorage ---------------------------------------------------------------------------------

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        blinded = self.blinded(key)
        name = state_name(state)
        await self._put_state(blinded, None if name is None else await self._seal(blinded, "state", name.encode()))

    async def get_state(self, key: StorageKey) -> str | None:
        blinded = self.blinded(key)
        sealed = await self._inner_state(blinded)
        try:
            return None if sealed is None else (await self._open(blinded, "state", sealed)).decode()
        except Shredded:
            # Sealed under an ephemeral key a roll destroyed: the person starts again, nothing breaks.
            # (A wrong key, a moved or a tampered record still raises: that is an attack, not an age.)
            log.warning("fsm.record_unreadable", part="state")
            return None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._set_blinded_data(self.blinded(key), data)

    async def _set_blinded_data(self, blinded: StorageKey, data: Mapping[str, Any]) -> None:
        if not data:
            # FSMContext.clear() sets no state, then no data: remove the record instead of keeping
            # an empty row that still says this person once talked to the bot.
            if await self._inner_state(blinded) is None:
                await self.delete_blinded(blinded)
            else:
                await self._put_data(blinded, {})
            return
        payload = json.dumps({_DATA: dict(data), _TOUCHED: time.time()}, ensure_ascii=False).encode()
        await self._put_data(blinded, {SEALED: await self._seal(blinded, "data", payload)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        blinded = self.blinded(key)
        try:
            return (await self._open_data(blinded, await self._inner_data(blinded)))[0]
        except Shredded:
            log.warning("fsm.record_unreadable", part="data")
            return {}

    async def _open_data(self, blinded: StorageKey, raw: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        if not raw or SEALED not in raw:
            return {}, 0.0
        document = json.loads(await self._open(blinded, "data", raw[SEALED]))
        return dict(document[_DATA]), float(document[_TOUCHED])

    async def _entry(self, blinded: StorageKey) -> FsmEntry:
        sealed_state = await self._inner_state(blinded)
        state = None if sealed_state is None else (await self._open(blinded, "state", sealed_state)).decode()
        data, touched = await self._open_data(blinded, await self._inner_data(blinded))
        return FsmEntry(blinded, state, data, touched)

    async def entries(self, untouched_before: datetime | None = None) -> AsyncIterator[FsmEntry]:
        """Records decrypted, for the abandoned-intake sweep.

        A record that does not open (sealed under an ephemeral key a roll destroyed, or damaged) is
        reported as empty and untouched since the epoch, so the sweep removes it instead of keeping
        it forever.
        """
        async for blinded in self.inner.keys(untouched_before):
            try:
                yield await self._entry(blinded)
            except (CryptoError, ValueError, KeyError):
                yield FsmEntry(blinded, None, {}, 0.0)

    async def reseal_outside(self, current: Key, previous: Mapping[bytes, Key]) -> int:
        """Re-seal records held outside the database (Redis) from a previous key to ``current``, before a key
        roll destroys the previous one. Records in the database are the roll's own work
        (storage/epochs.py: reseal_fsm_table)."""
        if self.inner.transactional:
            return 0
        moved = 0
        async for blinded in self.inner.keys():

            def change(
                state: str | None, data: dict[str, Any], blinded: StorageKey = blinded
            ) -> tuple[str | None, dict[str, Any] | None] | None:
                new_state = _resealed(state, self._place(blinded, "state"), current, previous)
                sealed = _resealed(data.get(SEALED), self._place(blinded, "data"), current, previous)
                new_data = {**data, SEALED: sealed} if sealed is not None else None
                return None if new_state is None and new_data is None else (new_state, new_data)

            for _attempt in range(3):
                if await self.inner.replace_record(blinded, change):
                    moved += 1
                    break
                # Nothing to change, or written meanwhile: look again, in case it still needs it.
                if not await self._needs_reseal(blinded, previous):
                    break
        return moved

    async def _needs_reseal(self, blinded: StorageKey, previous: Mapping[bytes, Key]) -> bool:
        state, data = await self.inner.get_record(blinded)
        blobs = [text for text in (state, data.get(SEALED)) if text]
        return any(key_id_of(base64.b64decode(text)) in previous for text in blobs)

    async def delete_blinded(self, blinded: StorageKey) -> None:
        held = self._held()
        if held is not None:
            held[blinded] = {"state": None, "data": {}}
        else:
            await self.inner.delete(blinded)

    async def settle(self) -> None:
        """Remove the journal rows already written through now, instead of in a moment."""
        if self.journal is not None:
            await self.journal.settle()

    async def close(self) -> None:
        await self.settle()
        await self.inner.close()


def _resealed(text: str | None, place: Place, current: Key, previous: Mapping[bytes, Key]) -> str | None:
    """A sealed value (base64 text) sealed again under ``current``; None if it is not under a previous key."""
    if not text:
        return None
    blob = base64.b64decode(text)
    old = previous.get(key_id_of(blob))
    if old is None:
        return None
    return base64.b64encode(seal(current, open_sealed(old, blob, place), place)).decode()
