"""Canary tests: what people type and who they are appears nowhere in plaintext.

Not in the SQLite file, its WAL or shared memory, not in FSM rows, not in the log output, not in
Redis, not in a pg_dump of PostgreSQL.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from bot.log import configure_logging
from bot.runtime import open_runtime
from storage.fsm import SweepableRedisStorage
from storage.models import FsmRecord
from storage.requests import RequestRepository
from testkit.settings import make_settings
from testkit.telegram import Person
from tests.support.canary import canary, find_in_bytes, scan_directory
from tests.support.harness import Harness, start_harness
from tests.support.intake import IntakeAnswers, reach_review, submit
from tests.support.team import admin, join, prompt

REQUESTER_ID = 5_318_008_271  # a Telegram id: it must never appear in plaintext either


async def test_a_stored_request_leaves_no_plaintext(tmp_path: Path, database_url: str, keyring: object) -> None:
    """Issue 2: answers and chat id hold canaries; the files, the WAL, the log and pg_dump do not."""

    log = io.StringIO()
    configure_logging("DEBUG", "json", log)
    secrets = [canary("answer"), canary("note")]
    chat_id = 7_381_947_265
    runtime = await open_runtime(
        make_settings(tmp_path, database_url=database_url), create_if_fresh=True, say=lambda _: None
    )
    try:
        async with runtime.db.transaction() as session:
            await RequestRepository(session, runtime.vault).create(
                user_id=REQUESTER_ID,
                chat_id=chat_id,
                answers={"description": secrets[0], "who": "self", "extra": secrets[1]},
                urgency="week",
                language="ru",
            )
        planted = [*secrets, str(chat_id), str(REQUESTER_ID)]
        if runtime.db.is_sqlite:
            assert scan_directory(tmp_path, planted) == {}  # with the WAL still there
    finally:
        await runtime.close()
    assert scan_directory(tmp_path, planted) == {}  # after close and checkpoint
    assert find_in_bytes(log.getvalue().encode(), planted) == []
    if database_url.startswith("postgresql"):
        name = database_url.rsplit("/", 1)[1]
        command = ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--data-only", name]
        dump = (await asyncio.to_thread(subprocess.run, command, capture_output=True, check=True)).stdout
        assert len(dump) > 1000
        assert find_in_bytes(dump, planted) == []


async def _walk_with_canaries(h: Harness) -> tuple[list[str], Person]:
    name, username, description = canary("name"), canary("user"), canary("description") + " <b>&</b> 🙂"
    person = h.person(REQUESTER_ID, first_name=name, username=username.replace("-", "_"))
    await reach_review(person, IntakeAnswers(description=description))
    return [name, username.replace("-", "_"), description.split()[0], str(REQUESTER_ID)], person


async def test_the_intake_leaves_no_plaintext_in_database_fsm_or_logs(harness: Harness) -> None:
    """Issue 3: mid-intake (FSM holds the answers) and after submit."""
    planted, person = await _walk_with_canaries(harness)
    async with harness.runtime.db.transaction() as session:
        rows = list(await session.scalars(select(FsmRecord)))
    assert len(rows) == 1
    assert find_in_bytes((rows[0].key + (rows[0].state or "")).encode() + (rows[0].data or b""), planted) == []
    assert scan_directory(harness.data_dir, planted) == {}
    await person.press("Submit")
    assert scan_directory(harness.data_dir, planted) == {}
    assert find_in_bytes(harness.log.getvalue().encode(), planted) == []
    await harness.close()  # the fixture closes again, harmlessly
    assert scan_directory(harness.data_dir, planted) == {}


@pytest.mark.redis
async def test_the_intake_leaves_no_plaintext_in_redis(tmp_path: Path, redis_url: str) -> None:
    """Issue 3 with the Redis backend against the real Redis: keys and values hold nothing readable."""
    storage = SweepableRedisStorage.connect(redis_url)
    h = await start_harness(tmp_path / "data", inner_storage=storage, redis_url=redis_url)
    try:
        planted, person = await _walk_with_canaries(h)
        keys = [key async for key in storage.redis.scan_iter(match="tropa:fsm:*")]
        assert keys, "the intake should be in Redis"
        dumped = b""
        for key in keys:
            raw = key if isinstance(key, bytes) else str(key).encode()
            value = await storage.redis.get(key)
            dumped += raw + b"\n" + (value if isinstance(value, bytes) else str(value or "").encode()) + b"\n"
        assert find_in_bytes(dumped, planted) == []
        assert b"tropa:fsm:" in dumped
        # Everything Redis holds, as redis-cli would show it.
        cli = await asyncio.to_thread(
            subprocess.run, ["redis-cli", "-h", "127.0.0.1", "--scan", "--pattern", "tropa:fsm:*"], capture_output=True
        )
        assert find_in_bytes(cli.stdout, planted) == []
        # A new process continues from Redis, at the same step.
        first_log = h.log.getvalue()
        await h.close()
        storage = SweepableRedisStorage.connect(redis_url)
        h = await start_harness(tmp_path / "data", h.world, inner_storage=storage, redis_url=redis_url)
        await person.press("✏️ Urgency", translate=False)
        assert person.last() == "How urgent is it?"
        await person.press("There is time to prepare")
        await person.press("Submit")
        assert any("Your request is sent." in text for text in person.texts())
        blinded = h.app.storage.blinded(StorageKey(bot_id=42, chat_id=REQUESTER_ID, user_id=REQUESTER_ID))
        mine = [storage.key_builder.build(blinded, part) for part in ("state", "data")]
        assert await storage.redis.exists(*mine) == 0  # this person's intake left nothing in Redis
        assert scan_directory(h.data_dir, planted) == {}
        assert find_in_bytes((first_log + h.log.getvalue()).encode(), planted) == []
    finally:
        await h.close()


async def test_relayed_messages_and_notes_leave_no_plaintext(harness_any_db: Harness) -> None:
    """Issue 4: canaries in relayed text (both ways) and in notes."""
    h = harness_any_db
    boss = await admin(h)
    vera = await join(h, boss, 2001)
    person = h.person(REQUESTER_ID)
    code = await submit(person)
    to_volunteer, to_requester, note = canary("relay-in"), canary("relay-out"), canary("note")
    await person.send(f"hello {to_volunteer}")
    await vera.send(f"/claim {code}")
    await vera.send(f"/reply {code} answer {to_requester}")
    await vera.send(f"/note {code} {note}")
    assert any(to_volunteer in t for t in vera.texts())
    assert any(to_requester in t for t in person.texts())
    # Issue 19: the kept conversation, a handover note and an own goodbye are sealed like the rest.
    handover, goodbye = canary("handover"), canary("goodbye")
    await vera.send(f"/release {code}")
    await vera.reply(prompt(vera, "for whoever takes it next").message_id, f"note {handover}")
    ivan = await join(h, boss, 2002)
    await ivan.send(f"/claim {code}")
    assert any(handover in t for t in ivan.texts()) and any(to_volunteer in t for t in ivan.texts())
    await ivan.send(f"/close {code}")
    await ivan.press("Helped to leave")
    await ivan.press("Write my own")
    await ivan.reply(prompt(ivan, "Your own goodbye").message_id, f"bye {goodbye}")
    assert any(goodbye in t for t in person.texts())
    planted = [to_volunteer, to_requester, note, handover, goodbye, str(REQUESTER_ID)]
    assert scan_directory(h.data_dir, planted) == {}
    assert find_in_bytes(h.log.getvalue().encode(), planted) == []
