"""Backups: online copy while the bot runs, restore, and what a backup alone reveals (nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backup import BackupError, backup, restore
from storage.requests import RequestRepository
from testkit.settings import make_settings
from tests.support.canary import canary, scan_directory
from tests.support.harness import Harness, harness_with
from tests.support.intake import IntakeAnswers, submit


async def test_backup_delete_everything_restore(harness: Harness, tmp_path: Path) -> None:
    secrets = [canary("kept-1"), canary("kept-2"), canary("shredded")]
    codes = []
    for n, secret in enumerate(secrets):
        codes.append(await submit(harness.person(1001 + n), IntakeAnswers(description=secret)))
    forgetting = harness.person(1003)
    await forgetting.send("/forget")
    await forgetting.press("Yes, erase everything")

    said: list[str] = []
    target = tmp_path / "backups" / "tropa-backup.db"
    settings = make_settings(harness.data_dir)
    backup(settings, target, said.append)  # while the bot is running
    assert target.stat().st_mode & 0o777 == 0o600
    assert scan_directory(target.parent, secrets) == {}  # ciphertext only
    with pytest.raises(BackupError, match="refusing to overwrite"):
        backup(settings, target, said.append)

    await harness.close()
    for leftover in harness.data_dir.glob("tropa.db*"):
        leftover.unlink()
    await restore(settings, target, said.append)

    from bot.runtime import open_runtime

    runtime = await open_runtime(settings, create_if_fresh=False, say=said.append)
    try:
        async with runtime.db.transaction() as session:
            repo = RequestRepository(session, runtime.vault)
            for code, secret in zip(codes[:2], secrets[:2], strict=True):
                record = await repo.by_code(code)
                assert record is not None and (await repo.read(record)).answers["description"] == secret
            assert await repo.by_code(codes[2]) is None  # shredded before the backup: still gone
    finally:
        await runtime.close()


async def test_restore_refuses_a_backup_of_another_keyring(tmp_path: Path) -> None:
    from bot.runtime import open_runtime

    one, two = make_settings(tmp_path / "one"), make_settings(tmp_path / "two")
    for settings in (one, two):
        await (await open_runtime(settings, create_if_fresh=True, say=lambda _: None)).close()
    backup(one, tmp_path / "one.db", lambda _: None)
    with pytest.raises(BackupError, match="another keyring"):
        await restore(two, tmp_path / "one.db", lambda _: None)


async def test_restore_refuses_while_the_bot_runs(harness: Harness, tmp_path: Path) -> None:
    await submit(harness.person(1001))
    settings = make_settings(harness.data_dir)
    backup(settings, tmp_path / "b.db", lambda _: None)
    async with harness.runtime.db.transaction() as session:  # a writer holds the database
        from sqlalchemy import text

        await session.execute(text("UPDATE meta SET value = value WHERE key = 'key_check'"))
        with pytest.raises(BackupError, match="stop the bot"):
            await restore(settings, tmp_path / "b.db", lambda _: None)


@pytest.mark.postgres
async def test_postgresql_backup_and_restore_keep_the_forgotten_forgotten(tmp_path: Path, postgres_url: str) -> None:
    """pg_dump while the bot runs; a request forgotten after the dump stays forgotten after pg_restore; the
    restore refuses while anyone is connected, and refuses a dump from before a key roll."""
    from bot.runtime import open_runtime
    from storage import clock
    from storage.epochs import ROLL_GRACE
    from tests.support.harness import start_harness

    h = await start_harness(tmp_path / "data", database_url=postgres_url)
    kept_secret = canary("kept")
    kept = await submit(h.person(1001), IntakeAnswers(description=kept_secret))
    leaving = h.person(1002)
    forgotten = await submit(leaving)
    settings = make_settings(h.data_dir, database_url=postgres_url)
    said: list[str] = []
    backup(settings, tmp_path / "tropa.dump", said.append)  # while the bot is running
    assert (tmp_path / "tropa.dump").stat().st_mode & 0o777 == 0o600
    assert scan_directory(tmp_path, [kept_secret]) == {}  # ciphertext only, the dump included
    await leaving.send("/forget")
    await leaving.press("Yes, erase everything")
    with pytest.raises(BackupError, match="stop every bot"):
        await restore(settings, tmp_path / "tropa.dump", said.append)
    world = h.world
    await h.close()

    await restore(settings, tmp_path / "tropa.dump", said.append)
    assert any("Shredded again 1 requests" in line for line in said)
    runtime = await open_runtime(settings, create_if_fresh=False, say=said.append)
    try:
        async with runtime.db.transaction() as session:
            repo = RequestRepository(session, runtime.vault)
            assert await repo.by_code(forgotten) is None
            record = await repo.by_code(kept)
            assert record is not None and (await repo.read(record)).answers["description"] == kept_secret
    finally:
        await runtime.close()

    # Something else is forgotten and the keys roll: the dump taken before no longer opens. (The same
    # Telegram: update ids go on from where they were, as Telegram's do.)
    async with harness_with(tmp_path / "data", world, database_url=postgres_url) as h:
        other = h.person(1003)
        await submit(other)
        await other.send("/forget")
        await other.press("Yes, erase everything")
        clock.travel(h.app.policy.shred_bound)
        assert await h.app.epochs.tick() == "started"
        clock.travel(ROLL_GRACE)
        assert await h.app.epochs.tick() == "finished"
    with pytest.raises(BackupError, match="taken before a key roll"):
        await restore(settings, tmp_path / "tropa.dump", said.append)
