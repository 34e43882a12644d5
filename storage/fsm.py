"""FSM storage: an encrypting wrapper around any aiogram storage, and a database-backed storage.

``EncryptedStorage`` is what the dispatcher gets. Before anything reaches the inner storage it
replaces chat and user ids with blind indexes and seals state and data with the ephemeral data key
(which every key roll replaces, storage/epochs.py), the AAD naming the blinded key. The inner storage
-- our database table, aiogram's ``RedisStorage`` or ``MemoryStorage`` -- never sees a Telegram id or
a readable answer (docs/decisions/0003-fsm-storage.md).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import structlog
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import WatchError
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.crypto import CryptoError, Key, Place, key_id_of, open_sealed, seal
from storage.db import Batched, Database, after_commit, before_commit, current_session
from storage.models import FsmRecord
from storage.vault import FixedKey, SealingKeys, Shredded

FSM_DOMAIN = "fsm"
log = structlog.get_logger()
_PINNED = "tropa.fsm.rows"
_HELD = "tropa.fsm.held"
_READ = "tropa.fsm.read"
_CHECKED = "tropa.fsm.journal_checked"
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
    """FSM records in ``fsm_state``, through the ORM: within an update every read after the first comes
    from the session's identity map and all writes reach the database in one flush at commit."""

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
        name = _state_name(state)
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=name is not None)
            if row is not None:
                row.state, row.updated_at = name, clock.now()

    async def get_state(self, key: StorageKey) -> str | None:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=False)
            return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        sealed = data.get(_SEALED)
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=sealed is not None)
            if row is not None:
                row.data, row.updated_at = (base64.b64decode(sealed) if sealed else None), clock.now()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self.db.session_or_transaction() as session:
            row = await self._row(session, key, create=False)
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


REDIS_PREFIX = "tropa:fsm:"


class RedisKeyBuilder(KeyBuilder):
    """``tropa:fsm:<bot>:<chat>:<user>:<thread>:<business>:<destiny>:<part>``, ids already blinded."""

    def build(self, key: StorageKey, part: str | None = None) -> str:
        return f"{REDIS_PREFIX}{storage_key_text(key)}:{part or ''}"


class SweepableRedisStorage(RedisStorage):
    """aiogram's RedisStorage, able to list its keys for the abandoned-intake sweep."""

    @classmethod
    def connect(cls, url: str) -> SweepableRedisStorage:
        return cls(Redis.from_url(url), key_builder=RedisKeyBuilder())

    async def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        seen: set[str] = set()
        async for raw in self.redis.scan_iter(match=f"{REDIS_PREFIX}*", count=500):
            text = (raw.decode() if isinstance(raw, bytes) else str(raw))[len(REDIS_PREFIX) :]
            key_text = text.rsplit(":", 1)[0]
            if key_text not in seen:
                seen.add(key_text)
                yield _parse_key(key_text)

    async def delete(self, key: StorageKey) -> None:
        await self.redis.delete(self.key_builder.build(key, "state"), self.key_builder.build(key, "data"))

    async def replace_record(
        self, key: StorageKey, change: Callable[[str | None, str | None], tuple[str | None, str | None] | None]
    ) -> bool:
        """Rewrite a record's raw state and data values (``change`` returns the new pair, or None to leave them)
        only if nobody writes them meanwhile (WATCH); the time to live stays as it was."""
        state_key, data_key = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(state_key, data_key)
                raw_state, raw_data = await pipe.mget(state_key, data_key)
                state = raw_state.decode() if isinstance(raw_state, bytes) else raw_state
                data = raw_data.decode() if isinstance(raw_data, bytes) else raw_data
                changed = change(state, data)
                if changed is None:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                if changed[0] is not None and changed[0] != state:
                    pipe.set(state_key, changed[0], keepttl=True)
                if changed[1] is not None and changed[1] != data:
                    pipe.set(data_key, changed[1], keepttl=True)
                await pipe.execute()
                return True
            except WatchError:
                return False  # written meanwhile: by a process sealing with the current key

    async def get_record(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        """State and data in one round trip, read as ``get_state`` and ``get_data`` would."""
        state, data = await self.redis.mget(self.key_builder.build(key, "state"), self.key_builder.build(key, "data"))
        if isinstance(state, bytes):
            state = state.decode()
        return state, (self.json_loads(data) if data is not None else {})

    async def set_record(self, key: StorageKey, state: str | None, data: Mapping[str, Any]) -> None:
        """State and data together, in one round trip and atomically (``MULTI``), as ``set_state`` and
        ``set_data`` would write them."""
        state_key, data_key = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
        async with self.redis.pipeline(transaction=True) as pipe:
            if state is None:
                pipe.delete(state_key)
            else:
                pipe.set(state_key, state, ex=self.state_ttl)
            if data:
                pipe.set(data_key, self.json_dumps(dict(data)), ex=self.data_ttl)
            else:
                pipe.delete(data_key)
            await pipe.execute()


@runtime_checkable
class RecordStorage(Protocol):
    """An inner storage that reads and writes a person's state and data together, in one round trip."""

    async def get_record(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]: ...

    async def set_record(self, key: StorageKey, state: str | None, data: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class FsmEntry:
    """One decrypted FSM record, for the abandoned-intake sweep."""

    key: StorageKey
    state: str | None
    data: dict[str, Any]
    touched_at: float


class EncryptedStorage(BaseStorage):
    """Seals and blinds for any inner storage.

    With an inner storage outside the database (Redis), writes made while a database transaction is
    open are held back and written only after it commits: an update that fails, or a replica that dies
    in the middle of one, leaves the person's state exactly as it was, like the rest of the update.
    """

    def __init__(
        self, inner: BaseStorage, keys: SealingKeys | Key, index_key_blind: Any, journal: Database | None = None
    ) -> None:
        """``keys``: the ephemeral key to seal with and the one that opens a record (they change at each key
        roll, storage/epochs.py), or one fixed key. ``index_key_blind(domain, value) -> hex`` is the keyring's
        blind-index function. ``journal``: the database whose ``fsm_state`` table records, in each update's
        transaction, what an inner storage outside the database is about to be given (unused when the inner
        storage is that table)."""
        self.inner = inner
        self._keys: SealingKeys = FixedKey(keys) if isinstance(keys, Key) else keys
        self._blind = index_key_blind
        self.transactional = isinstance(inner, DatabaseStorage)
        self.journal = None if self.transactional else journal
        # A journal row is removed once the inner storage holds its record; those removals wait a moment
        # and go together. One left behind by a dying process is only taken over again, unchanged.
        self._written = Batched(self.journal, self._forget_written, "fsm.journal") if self.journal else None

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

    async def _seal(self, blinded: StorageKey, column: str, payload: bytes) -> str:
        key = await self._keys.sealing()
        return base64.b64encode(seal(key, payload, self._place(blinded, column))).decode()

    async def _open(self, blinded: StorageKey, column: str, text: str) -> bytes:
        blob = base64.b64decode(text)
        return open_sealed(await self._keys.opening(blob), blob, self._place(blinded, column))

    # -- held-back writes (inner storages outside the database) ------------------------------------
    #
    # ``held`` maps a blinded key to the person's whole record as this transaction leaves it:
    # {"state": sealed state or None, "data": inner data dict}; no state and no data means deleted.

    def _held(self) -> dict[StorageKey, dict[str, Any]] | None:
        session = current_session.get()
        if session is None or self.transactional:
            return None
        held: dict[StorageKey, dict[str, Any]] | None = session.info.get(_HELD)
        if held is None:
            held = session.info[_HELD] = {}
            journaled: dict[StorageKey, datetime] = {}
            before_commit(session, lambda: self._journal_held(session, held, journaled))
            after_commit(session, lambda: self._write_held(held, journaled))
        return held

    async def _adopt_journal(self, held: dict[StorageKey, dict[str, Any]], blinded: StorageKey) -> None:
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
        row = await session.get(FsmRecord, storage_key_text(blinded))
        if row is not None:
            data = {_SEALED: base64.b64encode(row.data).decode()} if row.data else {}
            held[blinded] = {"state": row.state, "data": data}

    async def _record(self, blinded: StorageKey) -> dict[str, Any] | None:
        """This transaction's copy of the person's record, if it has one (it wrote, or took over a journal)."""
        held = self._held()
        if held is None:
            return None
        await self._adopt_journal(held, blinded)
        return held.get(blinded)

    async def _stored(self, blinded: StorageKey) -> dict[str, Any] | None:
        """What this transaction sees of the person's record: what it will write, else what the inner storage
        holds. None when there is no transaction to remember it in, or the inner storage is the database."""
        record = await self._record(blinded)
        if record is not None or self._held() is None:
            return record
        return await self._inner_record(blinded)

    async def _inner_record(self, blinded: StorageKey) -> dict[str, Any]:
        """The record in the inner storage, read once per transaction (the person's lock keeps it current)."""
        session = current_session.get()
        assert session is not None
        read: dict[StorageKey, dict[str, Any]] = session.info.setdefault(_READ, {})
        if blinded not in read:
            if isinstance(self.inner, RecordStorage):
                state, data = await self.inner.get_record(blinded)
            else:
                state, data = await self.inner.get_state(blinded), await self.inner.get_data(blinded)
            read[blinded] = {"state": state, "data": data}
        return read[blinded]

    async def _writable(self, held: dict[StorageKey, dict[str, Any]], blinded: StorageKey) -> dict[str, Any]:
        record = await self._record(blinded)
        if record is None:
            record = held[blinded] = dict(await self._inner_record(blinded))
        return record

    async def _journal_held(
        self, session: AsyncSession, held: dict[StorageKey, dict[str, Any]], journaled: dict[StorageKey, datetime]
    ) -> None:
        """In the update's transaction, just before it commits: what the inner storage is about to get."""
        if self.journal is None or not held:
            return
        upsert = (sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert)(FsmRecord)
        upsert = upsert.on_conflict_do_update(
            index_elements=[FsmRecord.key],
            set_={
                "state": upsert.excluded.state,
                "data": upsert.excluded.data,
                "updated_at": upsert.excluded.updated_at,
            },
        )
        rows = []
        for blinded, record in held.items():
            sealed = record["data"].get(_SEALED)
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

    async def _write_held(self, held: dict[StorageKey, dict[str, Any]], journaled: dict[StorageKey, datetime]) -> None:
        for blinded, record in held.items():
            if record["state"] is None and not record["data"]:
                await self._inner_delete(blinded)
            elif isinstance(self.inner, RecordStorage):
                await self.inner.set_record(blinded, record["state"], record["data"])
            else:
                await self.inner.set_state(blinded, record["state"])
                await self.inner.set_data(blinded, record["data"])
        if self._written is not None:
            for blinded, moment in journaled.items():
                self._written.add((storage_key_text(blinded), moment))

    @staticmethod
    async def _forget_written(session: AsyncSession, written: list[tuple[str, datetime]]) -> None:
        """Remove journal rows the inner storage now holds -- unless a later update has journaled again."""
        await session.execute(delete(FsmRecord).where(tuple_(FsmRecord.key, FsmRecord.updated_at).in_(written)))

    async def forget_journal(self, older_than: datetime) -> int:
        """Journal rows nobody came back for (their process died, the person never wrote again) are
        abandoned intakes like any other: erased after the same period."""
        if self.journal is None:
            return 0
        async with self.journal.session_or_transaction() as session:
            result = await session.execute(
                delete(FsmRecord).where(FsmRecord.updated_at < older_than).returning(FsmRecord.key)
            )
            return len(result.all())

    async def _inner_delete(self, blinded: StorageKey) -> None:
        if isinstance(self.inner, Sweepable):
            await self.inner.delete(blinded)
        else:
            await self.inner.set_state(blinded, None)
            await self.inner.set_data(blinded, {})

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
        name = _state_name(state)
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
        await self._put_data(blinded, {_SEALED: await self._seal(blinded, "data", payload)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        blinded = self.blinded(key)
        try:
            return (await self._open_data(blinded, await self._inner_data(blinded)))[0]
        except Shredded:
            log.warning("fsm.record_unreadable", part="data")
            return {}

    async def _open_data(self, blinded: StorageKey, raw: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        if not raw or _SEALED not in raw:
            return {}, 0.0
        document = json.loads(await self._open(blinded, "data", raw[_SEALED]))
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
        if not isinstance(self.inner, Sweepable):
            return
        async for blinded in self.inner.keys(untouched_before):
            try:
                yield await self._entry(blinded)
            except (CryptoError, ValueError, KeyError):
                yield FsmEntry(blinded, None, {}, 0.0)

    async def reseal_outside(self, current: Key, previous: Mapping[bytes, Key]) -> int:
        """Re-seal records held outside the database (Redis) from a previous key to ``current``, before a key
        roll destroys the previous one. Records in the database are the roll's own work
        (storage/epochs.py: reseal_fsm_table)."""
        if not isinstance(self.inner, SweepableRedisStorage):
            return 0
        moved = 0
        async for blinded in self.inner.keys():
            key_text = storage_key_text(blinded)

            def change(
                state: str | None, data: str | None, key_text: str = key_text
            ) -> tuple[str | None, str | None] | None:
                new_state = _resealed(state, Place("fsm", "state", key_text), current, previous)
                new_data = None
                if data is not None:
                    document = json.loads(data)
                    sealed = _resealed(document.get(_SEALED), Place("fsm", "data", key_text), current, previous)
                    new_data = json.dumps({**document, _SEALED: sealed}) if sealed is not None else None
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
        assert isinstance(self.inner, SweepableRedisStorage)
        state, data = await self.inner.get_record(blinded)
        blobs = [text for text in (state, data.get(_SEALED)) if text]
        return any(key_id_of(base64.b64decode(text)) in previous for text in blobs)

    async def delete_blinded(self, blinded: StorageKey) -> None:
        held = self._held()
        if held is not None:
            held[blinded] = {"state": None, "data": {}}
        else:
            await self._inner_delete(blinded)

    async def settle(self) -> None:
        """Remove the journal rows already written through now, instead of in a moment."""
        if self._written is not None:
            await self._written.close()

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
