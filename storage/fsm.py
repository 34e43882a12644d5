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
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.crypto import CryptoError, Key, Place, open_sealed, seal
from storage.db import Batched, Database, after_commit, before_commit, current_session
from storage.models import FsmRecord

FSM_DOMAIN = "fsm"
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

    def __init__(self, inner: BaseStorage, key: Key, index_key_blind: Any, journal: Database | None = None) -> None:
        """``index_key_blind(domain, value) -> hex`` is the keyring's blind-index function. ``journal``:
        the database whose ``fsm_state`` table records, in each update's transaction, what an inner
        storage outside the database is about to be given (unused when the inner storage is that table)."""
        self.inner = inner
        self._key = key
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

    def _seal(self, blinded: StorageKey, column: str, payload: bytes) -> str:
        return base64.b64encode(seal(self._key, payload, self._place(blinded, column))).decode()

    def _open(self, blinded: StorageKey, column: str, text: str) -> bytes:
        return open_sealed(self._key, base64.b64decode(text), self._place(blinded, column))

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
        await self._put_state(blinded, None if name is None else self._seal(blinded, "state", name.encode()))

    async def get_state(self, key: StorageKey) -> str | None:
        blinded = self.blinded(key)
        sealed = await self._inner_state(blinded)
        return None if sealed is None else self._open(blinded, "state", sealed).decode()

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
        await self._put_data(blinded, {_SEALED: self._seal(blinded, "data", payload)})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        blinded = self.blinded(key)
        return self._open_data(blinded, await self._inner_data(blinded))[0]

    def _open_data(self, blinded: StorageKey, raw: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        if not raw or _SEALED not in raw:
            return {}, 0.0
        document = json.loads(self._open(blinded, "data", raw[_SEALED]))
        return dict(document[_DATA]), float(document[_TOUCHED])

    async def _entry(self, blinded: StorageKey) -> FsmEntry:
        sealed_state = await self._inner_state(blinded)
        state = None if sealed_state is None else self._open(blinded, "state", sealed_state).decode()
        data, touched = self._open_data(blinded, await self._inner_data(blinded))
        return FsmEntry(blinded, state, data, touched)

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
