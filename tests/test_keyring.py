"""The keyring file: permissions, no overwrite, damage detection, rotation and retirement logic."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from storage.keyring import Keyring, KeyringError, KeyringFile


def test_file_is_created_0600_and_never_overwritten(tmp_path: Path) -> None:
    file = KeyringFile(tmp_path / "keys" / "keyring.json")
    keyring = Keyring.generate()
    file.create(keyring)
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    before = file.path.read_bytes()
    with pytest.raises(KeyringError, match="refusing to overwrite"):
        file.create(Keyring.generate())
    assert file.path.read_bytes() == before
    loaded = file.load()
    assert loaded.check_value == keyring.check_value and loaded.active == keyring.active


def test_replace_is_atomic_and_keeps_mode(tmp_path: Path) -> None:
    file = KeyringFile(tmp_path / "keyring.json")
    keyring = Keyring.generate()
    file.create(keyring)
    rotated = keyring.with_new_active()
    file.replace(rotated)
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert file.load().active_id == rotated.active_id
    assert not list(tmp_path.glob("*.new"))


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no keyring at"):
        KeyringFile(tmp_path / "absent.json").load()


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: doc.update(check="00" * 32),
        lambda doc: doc.update(index_key="AAAA"),
        lambda doc: doc.update(active="deadbeef"),
        lambda doc: doc.update(format="something-else"),
        lambda doc: doc["keks"].update({next(iter(doc["keks"])): "not base64!"}),
    ],
)
def test_damaged_keyring_is_refused(damage: object) -> None:
    document = json.loads(Keyring.generate().to_json())
    damage(document)  # type: ignore[operator]
    with pytest.raises(KeyringError):
        Keyring.from_json(json.dumps(document), "test")


def test_garbage_is_refused_without_echoing_it() -> None:
    with pytest.raises(KeyringError) as raised:
        Keyring.from_json("{not json SECRETSTUFF", "test")
    assert "SECRETSTUFF" not in str(raised.value)


def test_rotation_keeps_old_keys_and_check_value() -> None:
    keyring = Keyring.generate()
    rotated = keyring.with_new_active()
    assert rotated.active_id != keyring.active_id
    assert keyring.active_id in rotated.keks
    assert rotated.check_value == keyring.check_value
    assert rotated.blind("tg-user", 1) == keyring.blind("tg-user", 1)


def test_retire_refuses_the_active_key_and_unknown_keys() -> None:
    rotated = Keyring.generate().with_new_active()
    with pytest.raises(KeyringError, match="active"):
        rotated.without(rotated.active_id)
    with pytest.raises(KeyringError, match="no key"):
        rotated.without(b"\x00\x00\x00\x00")
    old = next(kid for kid in rotated.keks if kid != rotated.active_id)
    assert old not in rotated.without(old).keks


def test_a_keyring_in_the_environment_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Key rolls rewrite the keyring, so it must be a file; TROPA_KEYRING is refused, not ignored."""
    monkeypatch.setenv("TROPA_KEYRING", Keyring.generate().to_json())
    with pytest.raises(SettingsError, match="TROPA_KEYRING: is no longer read") as raised:
        load_settings(_env_file=None)
    assert "TROPA_KEY_FILE" in str(raised.value) and "\n" not in str(raised.value)
