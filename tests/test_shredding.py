"""Forgotten means gone: holding the keyring, nothing left on the disk opens what was shredded.

Each test plants a canary, records the exact bytes of that person's wrapped data keys and ciphertexts,
shreds, lets the key roll run (a moved clock), then searches every file where data rests and tries to
open every copy it finds with the current keyring (tests/support/forensics.py).
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.backup import BackupError, backup, restore
from bot.runtime import open_runtime
from storage import clock
from storage.epochs import ROLL_GRACE
from storage.fsm import SweepableRedisStorage
from storage.keyring import KeyringFile
from storage.models import AuditEvent, CaseMessage, DataKey, FsmRecord, Meta, Note, Request
from storage.requests import RequestRepository
from storage.vault import EPHEMERAL_CURRENT
from testkit.settings import make_settings
from testkit.telegram import Person
from tests.support.canary import canary, scan_directory
from tests.support.forensics import (
    Planted,
    copies_in,
    files_under,
    live_data_keys,
    openable_copies,
    postgres_data_directory,
)
from tests.support.harness import Harness, harness_with
from tests.support.intake import (
    MYSELF,
    IntakeAnswers,
    answer_questions,
    choose_language,
    reach_review,
    request_code,
    submit,
    through_consent,
)
from tests.support.team import admin, join, prompt

BOUND = timedelta(hours=12)  # the default TROPA_SHRED_BOUND_HOURS


async def _ephemeral_wrapped(h: Harness) -> tuple[str, bytes]:
    async with h.runtime.db.transaction() as session:
        owner = await session.scalar(select(Meta.value).where(Meta.key == EPHEMERAL_CURRENT))
        assert owner is not None
        row = await session.get(DataKey, owner)
        assert row is not None
        return owner, row.wrapped


async def _plant_and_submit(h: Harness, user_id: int) -> tuple[Person, Planted, str]:
    """A person answers (the FSM holds it, sealed under the ephemeral key), then submits (the request holds
    it, under its own data key). Returns the bytes a forensic copy could hold of both."""
    planted = Planted()
    person = h.person(user_id)
    await reach_review(person, IntakeAnswers(description=canary("forgotten")))
    owner, wrapped = await _ephemeral_wrapped(h)
    planted.wrapped[owner] = wrapped
    if h.app.storage.transactional:  # the FSM record is a database row
        async with h.runtime.db.transaction() as session:
            for row in await session.scalars(select(FsmRecord)):
                if row.data:
                    planted.sealed[row.data] = row.data
    await person.press("Submit")
    code = request_code(person)
    async with h.runtime.db.transaction() as session:
        request = await session.scalar(select(Request).where(Request.code == code))
        assert request is not None
        key_row = await session.get(DataKey, request.id)
        assert key_row is not None
        planted.wrapped[request.id] = key_row.wrapped
        planted.sealed[request.answers] = request.answers
        planted.sealed[request.chat_id] = request.chat_id
    return person, planted, code


async def _forget(person: Person) -> None:
    await person.send("/forget")
    await person.press("Yes, erase everything")
    assert "Everything is erased" in person.last()


async def _let_the_keys_roll(h: Harness) -> None:
    clock.travel(BOUND)
    assert await h.app.epochs.tick() == "started"
    assert await h.app.epochs.tick() is None  # its grace period has not passed
    clock.travel(ROLL_GRACE + timedelta(seconds=1))
    assert await h.app.epochs.tick() == "finished"


async def test_sqlite_keeps_no_copy_that_the_keyring_opens(harness: Harness) -> None:
    h = harness
    person, planted, _code = await _plant_and_submit(h, 5_101)
    await _forget(person)
    # Right after the shred's commit the WAL was checkpointed and truncated: it holds no page of it.
    wal = h.data_dir / "tropa.db-wal"
    assert not any(copies_in([wal], planted.needles()).values())
    await _let_the_keys_roll(h)
    keyring = KeyringFile(h.runtime.settings.resolved_key_file).load()
    found = copies_in(files_under(h.data_dir), planted.needles())
    live = await live_data_keys(h.runtime.db, keyring)
    assert openable_copies(planted, found, keyring, live) == []
    assert all(bytes.fromhex(kek) not in keyring.keks for kek in _kek_ids(planted))  # no key that wrapped it


def _kek_ids(planted: Planted) -> list[str]:
    return [wrapped[1:5].hex() for wrapped in planted.wrapped.values()]


@pytest.mark.postgres
async def test_postgresql_heap_and_wal_keep_copies_that_no_longer_open(tmp_path: Path, postgres_url: str) -> None:
    async with harness_with(tmp_path / "data", database_url=postgres_url) as h:
        person, planted, _code = await _plant_and_submit(h, 5_102)
        await _forget(person)
        data_dir = await postgres_data_directory(postgres_url)
        if not any(path.is_file() for path in files_under(data_dir / "pg_wal")):
            pytest.fail(f"cannot read PostgreSQL's data directory {data_dir}: the test must run where it can")
        keyring = KeyringFile(h.runtime.settings.resolved_key_file).load()
        found = copies_in(files_under(data_dir, h.data_dir), planted.needles())
        live = await live_data_keys(h.runtime.db, keyring)
        # Before the roll: the DELETE reached none of PostgreSQL's own copies, and the keyring opens them.
        assert openable_copies(planted, found, keyring, live) != []

        await _let_the_keys_roll(h)
        await postgres_data_directory(postgres_url)  # CHECKPOINT again: the roll's own writes on disk too
        keyring = KeyringFile(h.runtime.settings.resolved_key_file).load()
        found = copies_in(files_under(data_dir, h.data_dir), planted.needles())
        assert found[planted.wrapped[next(iter(planted.wrapped))]] or any(found.values())  # copies remain...
        live = await live_data_keys(h.runtime.db, keyring)
        assert openable_copies(planted, found, keyring, live) == []  # ...and none opens
        assert all(bytes.fromhex(kek) not in keyring.keks for kek in _kek_ids(planted))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_with_aof(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Redis of this test's own that appends every write to disk, as the compose deployment's does."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    directory = tmp_path / "redis"
    directory.mkdir()
    port = _free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    server = subprocess.Popen(
        ["redis-server", *options, "--appendonly", "yes", "--appendfsync", "always"], stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", directory
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.redis
async def test_redis_append_only_file_keeps_copies_that_no_longer_open(
    tmp_path: Path, redis_with_aof: tuple[str, Path], redis_ready: bool
) -> None:
    url, aof_dir = redis_with_aof
    inner = SweepableRedisStorage.connect(url)
    async with harness_with(tmp_path / "data", inner_storage=inner, redis_url=url) as h:
        planted = Planted()
        person = h.person(5_103)
        await reach_review(person, IntakeAnswers(description=canary("forgotten")))
        owner, wrapped = await _ephemeral_wrapped(h)
        planted.wrapped[owner] = wrapped
        async for blinded in inner.keys():
            _state, data = await inner.get_record(blinded)
            text = data["sealed"]
            planted.sealed[text.encode()] = base64.b64decode(text)
        assert planted.sealed
        await _forget(person)
        assert [key async for key in inner.keys(untouched_before=None)] == []
        await _let_the_keys_roll(h)
        keyring = KeyringFile(h.runtime.settings.resolved_key_file).load()
        found = copies_in(files_under(aof_dir, h.data_dir), planted.needles())
        assert any(found[needle] for needle in planted.sealed)  # the append-only file still has it...
        live = await live_data_keys(h.runtime.db, keyring)
        assert openable_copies(planted, found, keyring, live) == []  # ...and it opens with nothing


async def test_a_roll_moves_live_intakes_to_the_new_key_and_nothing_is_lost(tmp_path: Path, redis_url: str) -> None:
    """Someone half-way through the questions while the keys roll (FSM in Redis and in the table) goes on
    as if nothing happened; the old ephemeral key is gone afterwards."""
    backends: list[tuple[SweepableRedisStorage | None, dict[str, Any]]] = [
        (None, {}),
        (SweepableRedisStorage.connect(redis_url), {"redis_url": redis_url}),
    ]
    for inner, settings in backends:
        async with harness_with(tmp_path / f"data-{bool(inner)}", inner_storage=inner, **settings) as h:
            writing = h.person(5_104)
            await through_consent(writing)
            await writing.press(MYSELF)
            forgetting = h.person(5_105)
            await submit(forgetting)
            await _forget(forgetting)
            old_owner, _ = await _ephemeral_wrapped(h)
            await _let_the_keys_roll(h)
            async with h.runtime.db.transaction() as session:
                assert await session.get(DataKey, old_owner) is None
            await answer_questions(writing, IntakeAnswers(description="still here"), who_answered=True)
            await writing.press("Submit")
            assert request_code(writing)


async def test_a_request_forgotten_after_a_backup_stays_forgotten_after_restore(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    kept_secret, forgotten_secret = canary("kept"), canary("forgotten")
    kept = await submit(h.person(5_201), IntakeAnswers(description=kept_secret))
    leaving = h.person(5_202)
    forgotten = await submit(leaving, IntakeAnswers(description=forgotten_secret))
    settings = make_settings(h.data_dir)
    backup(settings, tmp_path / "before.db", lambda _line: None)
    await _forget(leaving)  # after the backup was taken
    await h.close()

    said: list[str] = []
    await restore(settings, tmp_path / "before.db", said.append)
    assert any("Shredded again 1 requests" in line for line in said)
    runtime = await open_runtime(settings, create_if_fresh=False, say=lambda _line: None)
    try:
        async with runtime.db.transaction() as session:
            repo = RequestRepository(session, runtime.vault)
            assert await repo.by_code(forgotten) is None  # the restore did not bring the person back
            record = await repo.by_code(kept)
            assert record is not None and (await repo.read(record)).answers["description"] == kept_secret
    finally:
        await runtime.close()


async def test_a_backup_from_before_a_key_roll_no_longer_opens(harness: Harness, tmp_path: Path) -> None:
    h = harness
    leaving, planted, _code = await _plant_and_submit(h, 5_301)
    settings = make_settings(h.data_dir)
    backup(settings, tmp_path / "old.db", lambda _line: None)
    await _forget(leaving)
    await _let_the_keys_roll(h)
    keyring = KeyringFile(settings.resolved_key_file).load()
    found = copies_in([tmp_path / "old.db"], planted.needles())
    assert found[planted.request_wrapped_key()] and openable_copies(planted, found, keyring, []) == []
    await h.close()
    before = (h.data_dir / "tropa.db").read_bytes()
    with pytest.raises(BackupError, match="taken before a key roll"):
        await restore(settings, tmp_path / "old.db", lambda _line: None)
    assert (h.data_dir / "tropa.db").read_bytes() == before  # nothing was written


async def test_the_consent_screen_states_the_periods_the_bot_keeps(tmp_path: Path) -> None:
    """What the person agrees to, in their language, is what the jobs and the key roll then do."""
    async with harness_with(tmp_path / "data") as h:
        person = h.person(5_401)
        await person.send("/start")
        await choose_language(person)
        await person.press("I understand, continue")
        consent = person.last()
        for sentence in (
            "We erase your request 30 days after it is closed.",
            "A request with no activity for 90 days is erased even if it is not closed.",
            "Unfinished answers are erased 40 hours after your last answer.",
            "Send /forget at any time to erase everything at once.",
            "Erased means gone: within 12 hours, the keys that could still read copies left on our server's disk "
            "are destroyed.",
        ):
            assert sentence in consent, consent
        await person.press("I agree")
        await _forget(person)
        clock.travel(BOUND - timedelta(minutes=11))
        assert await h.app.epochs.tick() is None  # not yet due...
        clock.travel(timedelta(minutes=2))
        assert await h.app.epochs.tick() == "started"  # ...and started early enough to end within the 12 hours
        clock.travel(ROLL_GRACE + timedelta(seconds=1))
        assert await h.app.epochs.tick() == "finished"


async def test_with_a_bound_of_zero_the_keys_roll_right_after_the_shred(tmp_path: Path) -> None:
    async with harness_with(tmp_path / "data", shred_bound_hours=0) as h:
        person = h.person(5_402, language_code="ru")
        await person.send("/start")
        await choose_language(person)
        await person.press("I understand, continue")
        assert "уничтожаются в течение нескольких минут" in person.last()
        await person.press("I agree")
        await person.send("/forget")
        await person.press("Yes, erase everything")
        started = None
        for _ in range(100):  # the roll runs beside the update that shredded, right after its commit
            async with h.runtime.db.transaction() as session:
                started = await session.scalar(select(Meta.value).where(Meta.key == "roll.started_at"))
            if started is not None:
                break
            await asyncio.sleep(0.05)
        assert started is not None


async def test_an_outbox_message_no_key_opens_is_a_dead_letter_and_delivery_goes_on(harness: Harness) -> None:
    """A message sealed under a key that no longer exists cannot hold up everyone behind it."""
    from services.context import Services
    from storage.crypto import Key, Place, seal
    from storage.models import OutboxMessage

    h = harness
    async with h.runtime.db.transaction() as session:
        services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
        stuck = await services.outbox.put(
            recipient="chat", purpose="hygiene", payload={"kind": "delete", "chat_id": 1, "message_ids": [1]}
        )
        await session.flush()
        row = await session.get(OutboxMessage, stuck)
        assert row is not None
        row.payload = seal(Key.generate(), b"{}", Place("outbox", "payload", stuck))  # its key is gone
    person = h.person(5_501)
    assert await submit(person)  # the confirmation still arrives
    async with h.runtime.db.transaction() as session:
        row = await session.get(OutboxMessage, stuck)
        assert row is not None and row.failed_reason == "unreadable"


async def test_a_restore_forgets_again_without_a_trail_and_one_cut_short_is_finished_at_the_next_start(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the restore the statistics and the audit read as they did before it (the forget's counters taken
    back again, its audit rows gone again); a restore killed right after it put the backup back is finished by
    the next start, so the forgotten person does not come back even then."""
    import bot.backup
    from tests.support.inspect import counter_values

    h = harness
    kept = await submit(h.person(5_601))
    leaving = h.person(5_602)
    forgotten = await submit(leaving)
    settings = make_settings(h.data_dir)
    backup(settings, tmp_path / "before.db", lambda _line: None)
    await _forget(leaving)
    counters = await counter_values(h)
    await h.close()

    async def killed(*_args: object) -> int:
        raise KeyboardInterrupt  # the operator's Ctrl+C, the OOM killer: right after the put-back

    with monkeypatch.context() as patch:
        patch.setattr(bot.backup, "finish_restore", killed)
        with pytest.raises(KeyboardInterrupt):
            await restore(settings, tmp_path / "before.db", lambda _line: None)
    said: list[str] = []
    runtime = await open_runtime(settings, create_if_fresh=False, say=said.append)  # any command's start
    try:
        assert any("Finished a restore that was cut short: shredded again 1 requests" in line for line in said)
        async with runtime.db.transaction() as session:
            repo = RequestRepository(session, runtime.vault)
            assert await repo.by_code(forgotten) is None and await repo.by_code(kept) is not None
            audited = await session.scalar(select(func.count()).where(AuditEvent.request_id.is_not(None)))
        assert audited == 1  # the kept request's "submitted": none of the forgotten one came back
    finally:
        await runtime.close()
    async with harness_with(h.data_dir) as h:
        assert await counter_values(h) == counters


async def test_the_kept_conversation_is_ciphertext_and_opens_no_more_after_the_shred(harness: Harness) -> None:
    """Issue 19: what a case's conversation keeps (and its handover note) is sealed under the request's data key:
    no plaintext at rest, and once the person erases it, no copy on the disk opens with the keyring."""
    h = harness
    boss = await admin(h)
    vera = await join(h, boss, 2001)
    person, planted, code = await _plant_and_submit(h, 5_104)
    said, answered, handed = canary("said"), canary("answered"), canary("handed")
    await person.send(f"I am at {said}")
    await vera.send(f"/claim {code}")
    await vera.send(f"/reply {code} go to {answered}")
    await vera.send(f"/release {code}")
    await vera.reply(prompt(vera, "for whoever takes it next").message_id, f"note {handed}")
    async with h.runtime.db.transaction() as session:
        kept = [row.body for row in await session.scalars(select(CaseMessage))]
        kept += [row.body for row in await session.scalars(select(Note))]
    assert len(kept) == 3
    planted.sealed.update({body: body for body in kept})
    assert scan_directory(h.data_dir, [said, answered, handed]) == {}  # ciphertext at rest, WAL included

    await _forget(person)
    await _let_the_keys_roll(h)
    keyring = KeyringFile(h.runtime.settings.resolved_key_file).load()
    found = copies_in(files_under(h.data_dir), planted.needles())
    live = await live_data_keys(h.runtime.db, keyring)
    assert openable_copies(planted, found, keyring, live) == []
