"""Every sealed column seals under the place decision 0002 documents, spelled out here by hand.

The repositories name a place from the model (``Place.of(Note.body, row_id)``); before that they spelled the
table and column out as strings. Both must give the same associated data, byte for byte, or every ciphertext
stored before would stop opening. So each sealed column is written the way the bot writes it, and the stored
blob is opened here with the documented place and the documented key, not with anything the code computes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.canned import CannedReplies
from storage.conversation import Conversation, KeptMessage
from storage.crypto import HEADER_BYTES, Key, Place, key_id_of, open_sealed
from storage.db import Database
from storage.fsm import DatabaseStorage, EncryptedStorage
from storage.keyring import Keyring
from storage.kinds import Role
from storage.models import (
    SEALED_COLUMNS,
    CannedReply,
    CaseMessage,
    DataKey,
    FsmRecord,
    Note,
    OutboxMessage,
    Request,
    ShownMessage,
    Volunteer,
)
from storage.notes import Notes
from storage.outbox import Outbox
from storage.requests import RequestRepository
from storage.shown import ShownMessages
from storage.vault import Vault
from storage.volunteers import VolunteerRepository

ROW = "0123456789abcdef0123456789abcdef"
HEADER = b"\x01\xa1\xb2\xc3\xd4"

# The associated data of a blob in row ROW under HEADER, as decision 0002 lays it out: tropa|header|table|column|id.
KNOWN_AAD = {
    Request.answers: b"tropa|\x01\xa1\xb2\xc3\xd4|requests|answers|0123456789abcdef0123456789abcdef",
    Request.chat_id: b"tropa|\x01\xa1\xb2\xc3\xd4|requests|chat_id|0123456789abcdef0123456789abcdef",
    Volunteer.pseudonym: b"tropa|\x01\xa1\xb2\xc3\xd4|volunteers|pseudonym|0123456789abcdef0123456789abcdef",
    Volunteer.chat_id: b"tropa|\x01\xa1\xb2\xc3\xd4|volunteers|chat_id|0123456789abcdef0123456789abcdef",
    Note.body: b"tropa|\x01\xa1\xb2\xc3\xd4|notes|body|0123456789abcdef0123456789abcdef",
    CaseMessage.body: b"tropa|\x01\xa1\xb2\xc3\xd4|case_messages|body|0123456789abcdef0123456789abcdef",
    OutboxMessage.payload: b"tropa|\x01\xa1\xb2\xc3\xd4|outbox|payload|0123456789abcdef0123456789abcdef",
    ShownMessage.ref: b"tropa|\x01\xa1\xb2\xc3\xd4|shown_messages|ref|0123456789abcdef0123456789abcdef",
    CannedReply.text: b"tropa|\x01\xa1\xb2\xc3\xd4|canned_replies|text|0123456789abcdef0123456789abcdef",
}
# The two sealed columns whose place is not named from the model: a wrapped data key (storage/crypto.py:
# wrap_key) and an FSM record, sealed by the FSM wrapper under its own name (storage/fsm/encrypted.py).
PLACED_ELSEWHERE = {("data_keys", "wrapped"), ("fsm_state", "data")}


def test_place_of_a_model_column_gives_the_documented_bytes() -> None:
    assert len(HEADER) == HEADER_BYTES
    for column, aad in KNOWN_AAD.items():
        assert Place.of(column, ROW).aad(HEADER) == aad, column


def test_every_sealed_column_has_its_known_place() -> None:
    named = {(column.class_.__tablename__, column.key) for column in KNOWN_AAD}
    assert named | PLACED_ELSEWHERE == SEALED_COLUMNS


async def _write_every_sealed_column(session: AsyncSession, vault: Vault) -> None:
    """One row of each sealed column, written by the repository that writes it in the bot."""
    requests = RequestRepository(session, vault)
    record = await requests.create(
        user_id=1001, chat_id=1001, answers={"description": "held"}, urgency="week", language="en"
    )
    volunteer = await VolunteerRepository(session, vault).create(
        user_id=2001, chat_id=2001, role=Role.VOLUNTEER, pseudonym="Vera", language="en"
    )
    await Notes(session, vault).add(record.id, volunteer.id, "a note")
    await Conversation(session, vault).keep(
        record.id, KeptMessage(at=record.created_at, sender="requester", name=None, text="hi", media=None, edited=False)
    )
    await ShownMessages(session, vault).record(request_id=record.id, audience="requester", kind="notice", message_id=7)
    outbox = Outbox(session, vault)
    await outbox.put(recipient="requester", request_id=record.id, purpose="notice", payload={"text": "of a request"})
    await outbox.put(recipient="chat", purpose="notice", payload={"chat_id": 5, "text": "of no request"})
    await CannedReplies(session, vault).put("hello", "en", "Hello")


async def test_what_the_repositories_seal_opens_at_the_documented_place(
    db: Database, vault: Vault, keyring: Keyring
) -> None:
    async with db.transaction() as session:
        await _write_every_sealed_column(session, vault)
    fsm_key = Key.generate()
    fsm = EncryptedStorage(DatabaseStorage(db), fsm_key, keyring.blind)
    await fsm.set_data(StorageKey(bot_id=42, chat_id=1001, user_id=1001), {"answers": {"who": "self"}})

    async with db.transaction() as session:

        async def request_key(row: Any) -> Key:
            return await vault.data_key(session, row.request_id)

        async def system_key(row: Any) -> Key:
            return await vault.system_key(session)

        async def outbox_key(row: Any) -> Key:
            if row.request_id is None:
                return await vault.ephemeral_key_for(session, row.payload)
            return await vault.data_key(session, row.request_id)

        async def own_key(row: Any) -> Key:
            return await vault.data_key(session, row.id)

        async def fixed_fsm_key(row: Any) -> Key:
            return fsm_key

        # (table, column): the rows, the documented place of a row's blob, and the key it is sealed under.
        documented: dict[tuple[str, str], tuple[Any, Callable[[Any], Place], Any]] = {
            ("requests", "answers"): (Request, lambda r: Place("requests", "answers", r.id), own_key),
            ("requests", "chat_id"): (Request, lambda r: Place("requests", "chat_id", r.id), own_key),
            ("volunteers", "pseudonym"): (Volunteer, lambda r: Place("volunteers", "pseudonym", r.id), system_key),
            ("volunteers", "chat_id"): (Volunteer, lambda r: Place("volunteers", "chat_id", r.id), system_key),
            ("notes", "body"): (Note, lambda r: Place("notes", "body", r.id), request_key),
            ("case_messages", "body"): (CaseMessage, lambda r: Place("case_messages", "body", r.id), request_key),
            ("outbox", "payload"): (OutboxMessage, lambda r: Place("outbox", "payload", r.id), outbox_key),
            ("shown_messages", "ref"): (ShownMessage, lambda r: Place("shown_messages", "ref", r.id), request_key),
            ("canned_replies", "text"): (CannedReply, lambda r: Place("canned_replies", "text", r.id), system_key),
            ("data_keys", "wrapped"): (DataKey, lambda r: Place("data_keys", "wrapped", r.owner_id), None),
            ("fsm_state", "data"): (FsmRecord, lambda r: Place("fsm", "data", r.key), fixed_fsm_key),
        }
        assert set(documented) == SEALED_COLUMNS
        for (table, column), (model, place, key_of) in documented.items():
            rows = list(await session.scalars(select(model)))
            assert rows, table
            for row in rows:
                blob = getattr(row, column)
                key = vault.kek(key_id_of(blob)) if key_of is None else await key_of(row)
                assert open_sealed(key, blob, place(row)), (table, column)
