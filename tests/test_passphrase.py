"""The passphrase-locked keyring: a seized, powered-off server (or a copied data directory) is noise."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest

from bot import keys
from bot.runtime import open_runtime
from storage.keyring import KeyringError, KeyringFile, Lock
from storage.requests import RequestRepository
from testkit.settings import make_settings
from tests.support.canary import canary, scan_directory

PASSPHRASE = "correct horse battery staple"


def _quiet(_line: str) -> None:
    pass


def _write(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


async def _seeded(tmp_path: Path, secret: str) -> tuple[Path, str]:
    """A data directory whose keyring is locked with PASSPHRASE and whose one request holds ``secret``."""
    pass_file = _write(tmp_path / "passphrase", PASSPHRASE)
    settings = make_settings(tmp_path / "data", key_passphrase_file=pass_file)
    runtime = await open_runtime(settings, create_if_fresh=True, say=_quiet)
    async with runtime.db.transaction() as session:
        record = await RequestRepository(session, runtime.vault).create(
            user_id=1, chat_id=1, answers={"description": secret}, urgency="week", language="en"
        )
    await runtime.close()
    return pass_file, record.code


def _digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


async def test_the_key_file_holds_no_key_in_the_clear(tmp_path: Path) -> None:
    await _seeded(tmp_path, canary())
    document = json.loads((tmp_path / "data" / "keyring.json").read_text())
    assert set(document) == {"format", "version", "sealed"}
    assert document["sealed"]["kdf"] == "argon2id" and document["sealed"]["memory_kib"] >= 64 * 1024
    assert "keks" not in json.dumps(document) and "index_key" not in json.dumps(document)


async def test_a_wrong_passphrase_refuses_and_writes_nothing(tmp_path: Path) -> None:
    await _seeded(tmp_path, canary())
    before = _digests(tmp_path / "data")
    wrong = _write(tmp_path / "wrong", "not the passphrase at all")
    with pytest.raises(KeyringError, match="wrong passphrase") as refused:
        await open_runtime(
            make_settings(tmp_path / "data", key_passphrase_file=wrong), create_if_fresh=True, say=_quiet
        )
    assert "\n" not in str(refused.value)
    assert _digests(tmp_path / "data") == before
    with pytest.raises(KeyringError, match="locked with a passphrase"):  # no terminal, no file
        await open_runtime(make_settings(tmp_path / "data"), create_if_fresh=True, say=_quiet)
    assert _digests(tmp_path / "data") == before


async def test_a_copied_data_directory_without_the_passphrase_yields_nothing(tmp_path: Path) -> None:
    secret = canary("seized")
    await _seeded(tmp_path, secret)
    seized = tmp_path / "seized"
    shutil.copytree(tmp_path / "data", seized)
    for guess in ("password", "123456789012", PASSPHRASE.upper()):
        with pytest.raises(KeyringError):
            await open_runtime(
                make_settings(seized, key_passphrase_file=_write(tmp_path / "guess", guess)),
                create_if_fresh=False,
                say=_quiet,
            )
    assert scan_directory(seized, [secret]) == {}


async def test_changing_the_passphrase_keeps_every_request_readable(tmp_path: Path) -> None:
    secret = canary()
    pass_file, code = await _seeded(tmp_path, secret)
    settings = make_settings(tmp_path / "data", key_passphrase_file=pass_file)
    runtime = await open_runtime(settings, create_if_fresh=False, say=_quiet)
    new_file = _write(tmp_path / "new", "another long passphrase, longer")
    await keys.change_passphrase(runtime, new_file, _quiet)
    await keys.rotate_keys(runtime, _quiet)  # re-sealed under the new passphrase too
    await runtime.close()
    with pytest.raises(KeyringError, match="wrong passphrase"):
        await open_runtime(settings, create_if_fresh=False, say=_quiet)
    runtime = await open_runtime(
        make_settings(tmp_path / "data", key_passphrase_file=new_file), create_if_fresh=False, say=_quiet
    )
    async with runtime.db.transaction() as session:
        repo = RequestRepository(session, runtime.vault)
        record = await repo.by_code(code)
        assert record is not None and (await repo.read(record)).answers == {"description": secret}
    await runtime.close()


async def test_an_unlocked_keyring_is_warned_about(tmp_path: Path) -> None:
    said: list[str] = []
    runtime = await open_runtime(make_settings(tmp_path), create_if_fresh=True, say=said.append)
    await runtime.close()
    assert any("has no passphrase" in line for line in said)


def test_init_requires_a_passphrase_or_an_explicit_opt_out(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="TROPA_KEY_PASSPHRASE_FILE"):
        keys.init_keyring(make_settings(tmp_path), _quiet)
    assert not (tmp_path / "keyring.json").exists()
    with pytest.raises(KeyringError, match="at least 12"):
        keys.init_keyring(make_settings(tmp_path, key_passphrase_file=_write(tmp_path / "short", "short")), _quiet)
    said: list[str] = []
    keys.init_keyring(make_settings(tmp_path), said.append, unsafe_no_passphrase=True)
    assert "keks" in (tmp_path / "keyring.json").read_text()
    assert any("UNSAFE" in line for line in said)


async def test_run_without_a_terminal_or_passphrase_file_refuses_and_creates_nothing(tmp_path: Path) -> None:
    """A container, systemd or nohup start with nothing to unlock with: one line, no unlocked keyring."""
    data = tmp_path / "data"
    with pytest.raises(KeyringError, match="TROPA_KEY_PASSPHRASE_FILE") as raised:
        await open_runtime(make_settings(data, unsafe_unlocked_keyring=False), create_if_fresh=True, say=_quiet)
    assert "\n" not in str(raised.value)
    assert not (data / "keyring.json").exists() and not (data / "tropa.db").exists()


async def test_an_existing_unlocked_keyring_is_refused_unless_asked_for_by_name(tmp_path: Path) -> None:
    await (await open_runtime(make_settings(tmp_path), create_if_fresh=True, say=_quiet)).close()
    with pytest.raises(KeyringError, match="TROPA_UNSAFE_UNLOCKED_KEYRING"):
        await open_runtime(make_settings(tmp_path, unsafe_unlocked_keyring=False), create_if_fresh=True, say=_quiet)
    # `tropa keys passphrase` is how it gets locked, so that one may open it.
    runtime = await open_runtime(
        make_settings(tmp_path, unsafe_unlocked_keyring=False), create_if_fresh=False, say=_quiet, allow_unlocked=True
    )
    await keys.change_passphrase(runtime, _write(tmp_path / "new", PASSPHRASE), _quiet)
    await runtime.close()
    locked = make_settings(tmp_path, unsafe_unlocked_keyring=False, key_passphrase_file=tmp_path / "new")
    await (await open_runtime(locked, create_if_fresh=False, say=_quiet)).close()


def test_weakened_cost_parameters_are_refused(tmp_path: Path) -> None:
    from storage.keyring import KdfParams, Keyring

    with pytest.raises(KeyringError, match="64 MiB"):
        Lock.derive(PASSPHRASE, KdfParams(memory_kib=1024))
    sealed = Lock.derive(PASSPHRASE).seal(Keyring.generate().to_json())
    document = json.loads(sealed)
    document["sealed"]["memory_kib"] = 1024  # an attacker lowering the cost to guess faster
    path = tmp_path / "k.json"
    path.write_text(json.dumps(document))
    from storage.keyring import KeyringSource

    source = KeyringSource(file=KeyringFile(path), passphrase=lambda: PASSPHRASE)
    with pytest.raises(KeyringError, match="64 MiB"):
        source.load()


def test_unlock_time_with_the_chosen_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    Lock.derive(PASSPHRASE)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n  Argon2id unlock (128 MiB, 3 iterations, 4 lanes): {elapsed * 1000:.0f} ms")
    assert elapsed < 10


async def test_a_bot_refuses_a_keyring_it_cannot_rewrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only keyring (a mounted secret) would keep destroyed keys alive: `tropa run` refuses it. (As root
    every file is writable, so the file system's answer is played here.)"""
    settings = make_settings(tmp_path)
    await (await open_runtime(settings, create_if_fresh=True, say=_quiet)).close()
    import os

    monkeypatch.setattr(os, "access", lambda path, _mode: Path(path) != tmp_path / "keyring.json")
    with pytest.raises(KeyringError, match="not writable: key rolls rewrite it"):
        await open_runtime(settings, create_if_fresh=True, say=_quiet, writable_keyring=True)
    await (await open_runtime(settings, create_if_fresh=False, say=_quiet)).close()  # `tropa stats` may read it
