"""Start-up binding of keyring and database, and the key commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import update

from bot import keys
from bot.runtime import open_runtime
from storage.binding import KeyringMismatch
from storage.keyring import Keyring, KeyringError, KeyringFile
from storage.models import Meta
from storage.requests import RequestRepository
from testkit.settings import make_settings


def _quiet(_line: str) -> None:
    pass


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_fresh_directory_creates_keyring_and_database(tmp_path: Path) -> None:
    said: list[str] = []
    settings = make_settings(tmp_path / "data")
    runtime = await open_runtime(settings, create_if_fresh=True, say=said.append)
    await runtime.close()
    assert (tmp_path / "data" / "keyring.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data" / "tropa.db").exists()
    assert any("keyring" in line for line in said) and any("Database ready" in line for line in said)
    assert any("has no passphrase" in line for line in said)  # only because the test settings opt in by name
    # A second start binds to the same keyring, creating nothing.
    said.clear()
    runtime = await open_runtime(settings, create_if_fresh=True, say=said.append)
    await runtime.close()
    assert not any("Created" in line or "Database ready" in line for line in said)


async def test_wrong_keyring_refuses_and_writes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runtime = await open_runtime(settings, create_if_fresh=True, say=_quiet)
    async with runtime.db.transaction() as session:
        await RequestRepository(session, runtime.vault).create(
            user_id=1, chat_id=1, answers={"x": 1}, urgency="week", language="en"
        )
    await runtime.close()
    other = tmp_path / "other.json"
    KeyringFile(other).create(Keyring.generate())
    before = _digest(tmp_path / "tropa.db")
    with pytest.raises(KeyringMismatch, match="does not belong"):
        await open_runtime(make_settings(tmp_path, key_file=other), create_if_fresh=True, say=_quiet)
    assert _digest(tmp_path / "tropa.db") == before


async def test_missing_keyring_with_existing_data_refuses(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await (await open_runtime(settings, create_if_fresh=True, say=_quiet)).close()
    (tmp_path / "keyring.json").rename(tmp_path / "elsewhere.json")
    with pytest.raises(KeyringError, match="holds data sealed"):
        await open_runtime(settings, create_if_fresh=True, say=_quiet)
    assert not (tmp_path / "keyring.json").exists()  # no new key silently generated


async def test_without_create_a_missing_keyring_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="tropa keys init"):
        await open_runtime(make_settings(tmp_path), create_if_fresh=False, say=_quiet)


async def test_rotate_keeps_everything_readable_and_destroys_the_old_key(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    runtime = await open_runtime(settings, create_if_fresh=True, say=_quiet)
    codes = []
    async with runtime.db.transaction() as session:
        for user in range(5):
            record = await RequestRepository(session, runtime.vault).create(
                user_id=user, chat_id=user, answers={"n": user}, urgency="week", language="en"
            )
            codes.append(record.code)
    old_id = runtime.keyring.active_id.hex()
    with pytest.raises(KeyringError, match="active"):
        await keys.retire_key(runtime, old_id, _quiet)
    said: list[str] = []
    await keys.rotate_keys(runtime, said.append)
    assert "re-wrapped 7 data keys" in said[0]  # five requests, the system key and the ephemeral key
    assert any(f"Destroyed {old_id}" in line for line in said)
    assert bytes.fromhex(old_id) not in KeyringFile(tmp_path / "keyring.json").load().keks
    await runtime.close()

    runtime = await open_runtime(settings, create_if_fresh=False, say=_quiet)
    async with runtime.db.transaction() as session:
        repo = RequestRepository(session, runtime.vault)
        for user, code in enumerate(codes):
            found = await repo.by_code(code)
            assert found is not None and (await repo.read(found)).answers == {"n": user}
    with pytest.raises(KeyringError, match="no key"):
        await keys.retire_key(runtime, old_id, _quiet)  # already gone
    await runtime.close()


async def test_retire_refuses_while_a_key_still_wraps_data(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runtime = await open_runtime(settings, create_if_fresh=True, say=_quiet)
    old = runtime.keyring
    # A rotation whose re-wrap never ran: a new key is active, the data keys are still under the old one.
    rolled = old.with_new_active()
    runtime.keyring_source.save(rolled)
    async with runtime.db.transaction() as session:
        await session.execute(update(Meta).where(Meta.key == "kek.active").values(value=rolled.active_id.hex()))
    await runtime.close()
    runtime = await open_runtime(settings, create_if_fresh=False, say=_quiet)
    with pytest.raises(KeyringError, match="still wraps 2 data keys"):  # the system key and the ephemeral one
        await keys.retire_key(runtime, old.active_id.hex(), _quiet)
    await runtime.close()


async def test_old_keyring_missing_a_wrapping_key_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    runtime = await open_runtime(settings, create_if_fresh=True, say=_quiet)
    stale_copy = runtime.keyring
    await keys.rotate_keys(runtime, _quiet)
    await runtime.close()
    # Someone restores yesterday's keyring file: same check value, but it lacks today's key.
    (tmp_path / "keyring.json").unlink()
    KeyringFile(tmp_path / "keyring.json").create(stale_copy)
    with pytest.raises(KeyringMismatch, match="lacks keys"):
        await open_runtime(settings, create_if_fresh=False, say=_quiet)


async def test_refusing_creates_nothing_and_the_database_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(KeyringError):
        await open_runtime(make_settings(data), create_if_fresh=False, say=_quiet)
    assert not data.exists()
    runtime = await open_runtime(make_settings(data), create_if_fresh=True, say=_quiet)
    await runtime.close()
    assert (data / "tropa.db").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700
