"""The keyring's Argon2id derivation begun early (``tropa run`` does it while aiogram is imported) opens the
keyring only with the same passphrase, cost and salt; otherwise the ordinary unlock runs and decides."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import runtime
from storage.keyring import DerivedAhead, KdfParams, Keyring, KeyringError, KeyringFile, KeyringSource, Lock

PASSPHRASE = "a passphrase of some length"
CHEAP = KdfParams(memory_kib=64 * 1024, iterations=1, lanes=1)


def sealed_keyring(path: Path, secret: str = PASSPHRASE) -> Keyring:
    keyring = Keyring.generate()
    KeyringFile(path).create(keyring, Lock.derive(secret, CHEAP))
    return keyring


def counting_derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    original = Lock.derive.__func__  # type: ignore[attr-defined]

    def derive(cls: type[Lock], secret: str, params: KdfParams | None = None, salt: bytes | None = None) -> Lock:
        made.append(secret)
        return original(cls, secret, params, salt)  # type: ignore[no-any-return]

    monkeypatch.setattr(Lock, "derive", classmethod(derive))
    return made


def test_the_early_derivation_opens_the_keyring_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keyring.json"
    keyring = sealed_keyring(path)
    made = counting_derivations(monkeypatch)
    source = KeyringSource(KeyringFile(path), passphrase=lambda: PASSPHRASE, ahead=DerivedAhead(path, PASSPHRASE))
    assert source.load().check_value == keyring.check_value
    assert made == [PASSPHRASE]  # the early one, not a second
    assert source.lock is not None  # kept for re-sealing after a key roll, as after any unlock


def test_an_early_derivation_with_another_passphrase_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keyring.json"
    keyring = sealed_keyring(path)
    made = counting_derivations(monkeypatch)
    ahead = DerivedAhead(path, "not the passphrase at all")
    source = KeyringSource(KeyringFile(path), passphrase=lambda: PASSPHRASE, ahead=ahead)
    assert source.load().check_value == keyring.check_value
    assert made == ["not the passphrase at all", PASSPHRASE]
    wrong = KeyringSource(KeyringFile(path), passphrase=lambda: "wrong again", ahead=DerivedAhead(path, PASSPHRASE))
    with pytest.raises(KeyringError, match="wrong passphrase"):
        wrong.load()


def test_tropa_run_begins_it_only_with_a_passphrase_file_and_a_keyring(tmp_path: Path) -> None:
    from testkit.settings import make_settings

    secret_file = tmp_path / "passphrase"
    secret_file.write_text(PASSPHRASE + "\n")
    settings = make_settings(tmp_path, key_passphrase_file=secret_file, unsafe_unlocked_keyring=False)
    runtime.unlock_ahead(settings)  # no keyring yet: nothing to derive
    assert runtime.keyring_source(settings).ahead is None
    sealed_keyring(settings.resolved_key_file)
    runtime.unlock_ahead(settings)
    source = runtime.keyring_source(settings)
    assert source.ahead is not None
    source.load()
    assert source.ahead is None and runtime.keyring_source(settings).ahead is None  # used once, then gone
