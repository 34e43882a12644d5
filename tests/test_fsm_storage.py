"""The encrypted FSM storage: blinded keys, sealed values, and refusal to open what was moved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from storage import clock
from storage.crypto import CryptoError, Key
from storage.db import Database
from storage.fsm import DatabaseStorage, EncryptedStorage
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
