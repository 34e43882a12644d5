"""The encrypted FSM storage: blinded keys, sealed values, and refusal to open what was moved."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from storage import clock
from storage.crypto import CryptoError, Key
from storage.db import Database
from storage.fsm import DatabaseStorage, EncryptedStorage, SweepableRedisStorage
from storage.keyring import Keyring

USER = 5_318_008_271
KEY = StorageKey(bot_id=42, chat_id=USER, user_id=USER)


def _encrypted(inner: object, keyring: Keyring, system_key: Key | None = None) -> EncryptedStorage:
    return EncryptedStorage(inner, system_key or Key.generate(), keyring.blind)  # type: ignore[arg-type]


async def test_inner_storage_sees_neither_ids_nor_answers(keyring: Keyring) -> None:
    inner = MemoryStorage()
    storage = _encrypted(inner, keyring)
    await storage.set_state(KEY, "Intake:description")
    await storage.set_data(KEY, {"answers": {"description": "SECRET-ANSWER"}})
    assert await storage.get_state(KEY) == "Intake:description"
    assert await storage.get_data(KEY) == {"answers": {"description": "SECRET-ANSWER"}}
    (stored_key,) = inner.storage.keys()
    assert USER not in (stored_key.chat_id, stored_key.user_id)
    record = inner.storage[stored_key]
    assert "SECRET" not in repr(record.data) and "description" not in str(record.state)


async def test_another_key_cannot_open_the_data(keyring: Keyring) -> None:
    inner = MemoryStorage()
    await _encrypted(inner, keyring).set_data(KEY, {"x": 1})
    with pytest.raises(CryptoError):
        await _encrypted(inner, keyring).get_data(KEY)


async def test_data_moved_to_another_person_does_not_open(keyring: Keyring) -> None:
    inner = MemoryStorage()
    storage = _encrypted(inner, keyring, Key.generate())
    other = StorageKey(bot_id=42, chat_id=USER + 1, user_id=USER + 1)
    await storage.set_data(KEY, {"answers": "mine"})
    await storage.set_data(other, {"answers": "theirs"})
    mine, theirs = storage.blinded(KEY), storage.blinded(other)
    inner.storage[theirs].data = dict(inner.storage[mine].data)
    with pytest.raises(CryptoError):
        await storage.get_data(other)


async def test_database_storage_clears_rows_and_sweeps(db: Database, keyring: Keyring) -> None:
    from sqlalchemy import func, select

    from storage.models import FsmRecord

    storage = _encrypted(DatabaseStorage(db), keyring)
    await storage.set_state(KEY, "Intake:who")
    await storage.set_data(KEY, {"answers": {}, "chat": USER})
    clock.travel(timedelta(hours=80))
    entries = [entry async for entry in storage.entries(untouched_before=clock.now() - timedelta(hours=72))]
    assert len(entries) == 1 and entries[0].data["chat"] == USER and entries[0].state == "Intake:who"
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0


async def test_one_update_reads_the_row_once_and_writes_it_once_at_commit(db: Database, keyring: Keyring) -> None:
    """Within a transaction the record is read once and every change is kept for the one write before the commit,
    which leaves the row as the last change made it (inserted, updated or deleted)."""
    from sqlalchemy import event, func, select

    from storage.models import FsmRecord

    storage = _encrypted(DatabaseStorage(db), keyring)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "fsm_state" in statement:
            statements.append(statement.split()[0])

    event.listen(db.sync_engine, "before_cursor_execute", seen)
    try:
        for last_state in ("Intake:who", "Intake:status", None):
            statements.clear()
            async with db.transaction():  # as an update's: the storage writes in it (storage.db.current_session)
                for step in ("Intake:who", "Intake:status"):
                    assert (await storage.get_data(KEY)).get("step") in (None, "Intake:who", "Intake:status")
                    await storage.set_state(KEY, step)
                    await storage.set_data(KEY, {"step": step})
                    assert await storage.get_state(KEY) == step
                if last_state is None:
                    await storage.set_state(KEY, None)
                    await storage.set_data(KEY, {})
                else:
                    await storage.set_state(KEY, last_state)
            written = "DELETE" if last_state is None else ("INSERT" if last_state == "Intake:who" else "UPDATE")
            assert statements == ["SELECT", written]
            assert await storage.get_state(KEY) == last_state
    finally:
        event.remove(db.sync_engine, "before_cursor_execute", seen)
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0


async def _elsewhere(db: Database, change: Any) -> None:
    """``change`` in a transaction of another process (a key roll, a sweep), while this task's one is open."""
    other = Database(db.url)

    async def run() -> None:
        async with other.transaction() as session:
            await session.execute(change)

    try:
        await asyncio.create_task(run(), context=contextvars.Context())
    finally:
        await other.dispose()


async def test_a_transaction_writes_back_only_the_part_of_the_record_it_changed(db: Database) -> None:
    """A key roll may reseal the data while an update that read it is still open: the update, which only moves
    the state on, must not put the data it read back over the resealed one."""
    from sqlalchemy import update

    from storage.fsm.base import SEALED
    from storage.models import FsmRecord

    storage = DatabaseStorage(db)
    async with db.transaction():
        await storage.set_state(KEY, "Intake:who")
        await storage.set_data(KEY, {SEALED: "Zmlyc3Q="})  # b"first"
    async with db.transaction():
        assert await storage.get_data(KEY) == {SEALED: "Zmlyc3Q="}
        await _elsewhere(db, update(FsmRecord).values(data=b"resealed"))
        await storage.set_state(KEY, "Intake:status")
    async with db.transaction():
        assert await storage.get_state(KEY) == "Intake:status"
        assert await storage.get_data(KEY) == {SEALED: "cmVzZWFsZWQ="}  # b"resealed"


async def test_a_record_removed_under_a_transaction_that_changes_it_fails_that_transaction(db: Database) -> None:
    from sqlalchemy import delete
    from sqlalchemy.orm.exc import StaleDataError

    from storage.models import FsmRecord

    storage = DatabaseStorage(db)
    async with db.transaction():
        await storage.set_state(KEY, "Intake:who")

    async def move_on() -> None:
        async with db.transaction():
            assert await storage.get_state(KEY) == "Intake:who"
            await _elsewhere(db, delete(FsmRecord))
            await storage.set_state(KEY, "Intake:status")

    with pytest.raises(StaleDataError):
        await move_on()
    async with db.transaction():
        assert await storage.get_state(KEY) is None


@pytest.mark.parametrize("backend", ["database", pytest.param("redis", marks=pytest.mark.redis)])
async def test_an_update_that_fails_leaves_the_state_as_it_was(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """A handler writes the next step, then Telegram fails it: the person must still be at the old step,
    so the re-delivered update is handled from there (Redis writes wait for the database commit)."""
    from storage.fsm import SweepableRedisStorage
    from tests.support.harness import harness_with
    from tests.support.intake import reach_review

    settings: dict[str, Any] = {}
    inner = None
    if backend == "redis":
        redis_url = request.getfixturevalue("redis_url")
        inner = SweepableRedisStorage.connect(redis_url)
        settings["redis_url"] = redis_url
    async with harness_with(tmp_path / "data", inner_storage=inner, **settings) as h:
        person = h.person(1001)
        await reach_review(person)
        await person.press("✏️ Description", translate=False)
        h.world.inject(method="sendMessage", kind="500", times=1)
        update = (await person.send("a new description", wait=False)).update
        await h.client.deliver()  # the error handler answers the person; the update is rolled back
        state = h.app.dispatcher.fsm.get_context(h.bot, chat_id=1001, user_id=1001)
        assert await state.get_state() == "Intake:description"  # not advanced by the failed update
        await h.client.deliver_again(update)
        await h.settle()
        assert "Description: a new description" in person.last()
        assert await state.get_state() == "Intake:review"


async def test_the_person_lock_is_taken_on_a_blinded_key(harness: object) -> None:
    """aiogram's isolation would lock on the raw StorageKey (raw ids in Redis key names); ours blinds it."""
    import contextlib
    from collections.abc import AsyncIterator

    from aiogram.fsm.storage.memory import SimpleEventIsolation

    from bot.middlewares.person_lock import PersonLockMiddleware
    from tests.support.harness import Harness

    assert isinstance(harness, Harness)
    seen: list[StorageKey] = []

    class Recording(SimpleEventIsolation):
        @contextlib.asynccontextmanager
        async def lock(self, key: StorageKey) -> AsyncIterator[None]:
            seen.append(key)
            yield

    lock = next(m for m in harness.app.dispatcher.update.outer_middleware if isinstance(m, PersonLockMiddleware))
    lock.isolation = Recording()
    await harness.person(USER).send("/start")
    assert seen and all(USER not in (key.chat_id, key.user_id) for key in seen)


class _DiesAfterCommit(Exception):
    pass


async def test_a_process_that_dies_between_commit_and_redis_write_loses_no_state(
    db: Database, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update committed (its dedupe marker too, so it will never run again) but its process died
    before writing the inner storage: the journal row written in that transaction is the person's state,
    and the next update takes it over and writes it through."""
    from sqlalchemy import func, select

    from storage.models import FsmRecord

    inner = MemoryStorage()
    system_key = Key.generate()
    dying = EncryptedStorage(inner, system_key, keyring.blind, journal=db)

    async def die(*_held_and_journaled: object) -> None:
        raise _DiesAfterCommit

    monkeypatch.setattr(dying, "_write_held", die)

    async def update() -> None:
        async with db.transaction():
            await dying.set_state(KEY, "Intake:review")
            await dying.set_data(KEY, {"answers": {"description": "JOURNALED"}, "prompt": 7})

    with pytest.raises(_DiesAfterCommit):
        await update()
    assert all(r.state is None and not r.data for r in inner.storage.values())  # nothing reached it
    async with db.transaction() as session:
        row = await session.scalar(select(FsmRecord))
        assert row is not None and b"JOURNALED" not in (row.data or b"") and "review" not in str(row.state)

    survivor = EncryptedStorage(inner, system_key, keyring.blind, journal=db)
    async with db.transaction():
        assert await survivor.get_state(KEY) == "Intake:review"
        assert (await survivor.get_data(KEY))["prompt"] == 7
    assert await survivor.get_state(KEY) == "Intake:review"  # written through to the inner storage
    await survivor.settle()
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0  # journal settled


async def test_a_cleared_state_is_journaled_as_a_deletion(db: Database, keyring: Keyring) -> None:
    from sqlalchemy import func, select

    from storage.models import FsmRecord

    inner = MemoryStorage()
    storage = EncryptedStorage(inner, Key.generate(), keyring.blind, journal=db)
    async with db.transaction():
        await storage.set_state(KEY, "Intake:who")
        await storage.set_data(KEY, {"chat": USER})
    async with db.transaction():
        await storage.set_state(KEY, None)
        await storage.set_data(KEY, {})
        assert await storage.get_state(KEY) is None
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {}
    await storage.settle()
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0


async def test_a_late_journal_clean_up_leaves_a_newer_journal_row(
    db: Database, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Journal rows are removed a moment after the write-through. By then the person's next update may have
    journaled again from another process and died before its own write-through: that row must stay."""
    from sqlalchemy import func, select

    from storage.models import FsmRecord

    inner = MemoryStorage()
    system_key = Key.generate()
    first = EncryptedStorage(inner, system_key, keyring.blind, journal=db)
    async with db.transaction():
        await first.set_state(KEY, "Intake:who")  # written through; its row's removal is still waiting

    dying = EncryptedStorage(inner, system_key, keyring.blind, journal=db)

    async def die(*_held_and_journaled: object) -> None:
        raise _DiesAfterCommit

    monkeypatch.setattr(dying, "_write_held", die)
    with pytest.raises(_DiesAfterCommit):
        async with db.transaction():
            await dying.set_state(KEY, "Intake:status")

    await first.settle()
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 1
    survivor = EncryptedStorage(inner, system_key, keyring.blind, journal=db)
    async with db.transaction():
        assert await survivor.get_state(KEY) == "Intake:status"
    await survivor.settle()
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0


@pytest.mark.redis
async def test_a_redis_record_in_one_round_trip_reads_and_writes_as_aiogram_does(redis_url: str) -> None:
    from storage.fsm import SweepableRedisStorage

    storage = SweepableRedisStorage.connect(redis_url)
    key = StorageKey(bot_id=42, chat_id=-7, user_id=-7, destiny="record-test")
    try:
        assert await storage.get_record(key) == (None, {})
        await storage.set_record(key, "sealed-state", {"sealed": "sealed-data"})
        assert await storage.get_state(key) == "sealed-state"  # aiogram's own readers see the same
        assert await storage.get_data(key) == {"sealed": "sealed-data"}
        await storage.set_data(key, {"sealed": "newer"})  # and what aiogram writes, the record reads
        assert await storage.get_record(key) == ("sealed-state", {"sealed": "newer"})
        await storage.set_record(key, None, {})  # nothing left: both keys gone, not stored empty
        assert await storage.redis.exists(storage.key_builder.build(key, "state")) == 0
        assert await storage.redis.exists(storage.key_builder.build(key, "data")) == 0
    finally:
        await storage.delete(key)
        await storage.close()


@pytest.mark.redis
async def test_redis_keys_expire_with_the_abandoned_intake_period(tmp_path: Path, redis_url: str) -> None:
    """An intake nobody finishes leaves nothing in Redis for long: its keys expire a little after the
    abandoned-intake period (TROPA_ABANDONED_HOURS), which gives the sweep time to clean the chat first."""
    from tests.support.harness import harness_with
    from tests.support.intake import through_consent

    async with harness_with(tmp_path / "data", redis_url=redis_url, abandoned_hours=5) as h:
        assert h.app.policy.abandoned_after == timedelta(hours=5)
        person = h.person(USER)
        await through_consent(person)
        inner = h.app.storage.inner
        assert isinstance(inner, SweepableRedisStorage)
        blinded = h.app.storage.blinded(StorageKey(bot_id=42, chat_id=USER, user_id=USER))
        for part in ("state", "data"):
            ttl = await inner.redis.ttl(inner.key_builder.build(blinded, part))
            assert 5 * 3600 < ttl <= 5 * 3600 + 30 * 60, (part, ttl)


@pytest.mark.redis
async def test_a_key_roll_reseals_records_in_redis_under_the_new_key_keeping_their_ttl(
    keyring: Keyring, redis_url: str
) -> None:
    """What lives outside the database is sealed again before a roll destroys its key. (A running process
    still opens old blobs from the keys it has cached, so only the blobs themselves show it was done.)"""
    import base64

    from redis.asyncio import Redis

    from storage.crypto import key_id_of
    from storage.fsm import RedisKeyBuilder

    old, new = Key.generate(), Key.generate()
    inner = SweepableRedisStorage(
        Redis.from_url(redis_url), key_builder=RedisKeyBuilder(), state_ttl=3600, data_ttl=3600
    )
    key = StorageKey(bot_id=42, chat_id=USER, user_id=USER, destiny="reseal-test")
    before = EncryptedStorage(inner, old, keyring.blind)
    blinded = before.blinded(key)
    try:
        await before.set_state(key, "Intake:who")
        await before.set_data(key, {"answers": {"who": "self"}})
        assert await before.reseal_outside(new, {old.key_id: old}) == 1
        state, data = await inner.get_record(blinded)
        assert state is not None
        assert {key_id_of(base64.b64decode(text)) for text in (state, data["sealed"])} == {new.key_id}
        after = EncryptedStorage(inner, new, keyring.blind)
        assert await after.get_state(key) == "Intake:who"
        assert await after.get_data(key) == {"answers": {"who": "self"}}
        for part in ("state", "data"):
            assert 0 < await inner.redis.ttl(inner.key_builder.build(blinded, part)) <= 3600
        assert await after.reseal_outside(Key.generate(), {old.key_id: old}) == 0  # nothing under the old key
    finally:
        await inner.delete(blinded)
        await inner.close()


async def test_records_in_the_database_or_in_memory_are_not_resealed_by_the_wrapper(
    db: Database, keyring: Keyring
) -> None:
    """The table is resealed by the roll itself, in its own transaction (storage/epochs.py); a storage that
    cannot list its keys has nothing to reseal."""
    old = Key.generate()
    for inner in (DatabaseStorage(db), MemoryStorage()):
        storage = EncryptedStorage(inner, old, keyring.blind)
        await storage.set_state(KEY, "Intake:who")
        assert await storage.reseal_outside(Key.generate(), {old.key_id: old}) == 0
        assert await storage.get_state(KEY) == "Intake:who"
