"""The request repository on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from storage.crypto import CryptoError
from storage.db import Database
from storage.keyring import Keyring
from storage.kinds import Role, Status
from storage.models import DataKey, Request
from storage.requests import DuplicateOpenRequest, RequestRepository
from storage.vault import Shredded, Vault

ANSWERS = {"who": "self", "status": "mobilised", "description": "a <b>&</b> 🙂 text"}


async def _create(db: Database, vault: Vault, user_id: int = 1001, **answers: object) -> str:
    async with db.transaction() as session:
        record = await RequestRepository(session, vault).create(
            user_id=user_id, chat_id=user_id, answers={**ANSWERS, **answers}, urgency="week", language="ru"
        )
    return record.code


async def test_round_trip(db: Database, vault: Vault) -> None:
    code = await _create(db, vault)
    async with db.transaction() as session:
        repo = RequestRepository(session, vault)
        record = await repo.by_code(code)
        assert record is not None and record.status == "new" and record.is_open
        details = await repo.read(record)
        assert details.answers == ANSWERS
        assert await repo.requester_chat_id(record.id) == 1001
        assert (await repo.open_for_requester(1001)) == record
        assert await repo.open_for_requester(1002) is None


async def test_plaintext_columns_hold_no_answers(db: Database, vault: Vault) -> None:
    await _create(db, vault)
    async with db.transaction() as session:
        row = (await session.scalars(select(Request))).one()
        assert b"mobilised" not in row.answers and b"1001" not in row.chat_id
        assert row.requester_index != "1001" and len(row.requester_index) == 64


async def test_ciphertext_moved_to_another_row_or_column_fails(db: Database, vault: Vault) -> None:
    first, second = await _create(db, vault, 1001), await _create(db, vault, 1002)
    async with db.transaction() as session:
        rows = {r.code: r for r in (await session.scalars(select(Request))).all()}
        a, b = rows[first], rows[second]
        # Same key won't help: copy a's answers into b, and a's answers into a's chat id column.
        await session.execute(update(Request).where(Request.id == b.id).values(answers=a.answers))
        await session.execute(update(Request).where(Request.id == a.id).values(chat_id=a.answers))
    async with db.transaction() as session:
        repo = RequestRepository(session, vault)
        with pytest.raises(CryptoError):
            await repo.read(await repo.by_code(second))  # type: ignore[arg-type]
        record_a = await repo.by_code(first)
        assert record_a is not None
        with pytest.raises(CryptoError):
            await repo.requester_chat_id(record_a.id)
        assert (await repo.read(record_a)).answers == ANSWERS  # the untouched column still opens


async def test_flipped_byte_in_the_database_fails(db: Database, vault: Vault) -> None:
    code = await _create(db, vault)
    async with db.transaction() as session:
        row = (await session.scalars(select(Request))).one()
        damaged = bytearray(row.answers)
        damaged[-3] ^= 0x40
        await session.execute(update(Request).values(answers=bytes(damaged)))
    async with db.transaction() as session:
        repo = RequestRepository(session, vault)
        with pytest.raises(CryptoError):
            await repo.read(await repo.by_code(code))  # type: ignore[arg-type]


async def test_other_keyring_cannot_read(db: Database, vault: Vault) -> None:
    code = await _create(db, vault)
    async with db.transaction() as session:
        repo = RequestRepository(session, Vault(Keyring.generate()))
        record = await repo.by_code(code)
        assert record is not None
        with pytest.raises(Exception, match="no key"):
            await repo.read(record)


async def test_shredded_request_is_gone_even_with_the_keyring(db: Database, vault: Vault) -> None:
    code = await _create(db, vault)
    async with db.transaction() as session:
        row = (await session.scalars(select(Request))).one()
        saved_ciphertext, request_id = row.answers, row.id
        assert await RequestRepository(session, vault).shred(request_id)
    async with db.transaction() as session:
        repo = RequestRepository(session, vault)
        assert await repo.by_code(code) is None
        assert await session.get(DataKey, request_id) is None
        with pytest.raises(Shredded):
            await vault.data_key(session, request_id)
        # A copy of the ciphertext kept elsewhere (a backup) is useless: its key is gone.
        assert saved_ciphertext
        assert await session.scalar(select(func.count()).select_from(Request)) == 0


async def test_a_key_opened_earlier_in_the_transaction_is_gone_with_the_shred(db: Database, vault: Vault) -> None:
    """A transaction unwraps a data key once and keeps it for its own later uses; a shred in that same
    transaction takes it from there too."""
    await _create(db, vault)
    async with db.transaction() as session:
        request_id = (await session.scalars(select(Request.id))).one()
        assert await vault.data_key(session, request_id) == await vault.data_key(session, request_id)
        assert await RequestRepository(session, vault).shred(request_id)
        with pytest.raises(Shredded):
            await vault.data_key(session, request_id)


async def test_one_open_request_per_requester(db: Database, vault: Vault) -> None:
    await _create(db, vault, 1001)
    with pytest.raises(DuplicateOpenRequest):
        await _create(db, vault, 1001)
    await _create(db, vault, 1002)


async def test_list_by_status_puts_urgent_first_then_oldest(db: Database, vault: Vault) -> None:
    async with db.transaction() as session:
        repo = RequestRepository(session, vault)
        created = []
        for user_id, urgency in ((1, "planning"), (2, "week"), (3, "48h"), (4, "48h")):
            record = await repo.create(user_id=user_id, chat_id=user_id, answers={}, urgency=urgency, language="en")
            created.append(record.code)
    async with db.transaction() as session:
        listed = [r.code for r in await RequestRepository(session, vault).list_by_status(Status.NEW)]
    assert listed == [created[2], created[3], created[1], created[0]]


async def test_claim_is_conditional(db: Database, vault: Vault) -> None:
    from storage.volunteers import VolunteerRepository

    code = await _create(db, vault)
    async with db.transaction() as session:
        volunteers = VolunteerRepository(session, vault)
        first = await volunteers.create(user_id=1, chat_id=1, role=Role.VOLUNTEER, pseudonym="Birch", language="en")
        second = await volunteers.create(user_id=2, chat_id=2, role=Role.VOLUNTEER, pseudonym="Oak", language="en")
    async with db.transaction() as session:
        repo = RequestRepository(session, vault)
        record = await repo.by_code(code)
        assert record is not None
        assert (await repo.claim(record.id, first.id)) is not None
        assert await repo.claim(record.id, second.id) is None
        assert await repo.release(record.id, second.id) is None
        assert (await repo.release(record.id, first.id)) is not None
