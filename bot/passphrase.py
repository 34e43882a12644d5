"""Where the keyring passphrase comes from: a secret file (containers, systemd) or the terminal."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from storage.keyring import KeyringError

MIN_LENGTH = 12


def read_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise KeyringError(f"cannot read the passphrase file {path}: {error.strerror}") from None
    passphrase = text.rstrip("\r\n")
    if not passphrase:
        raise KeyringError(f"the passphrase file {path} is empty")
    return passphrase


def interactive() -> bool:
    return sys.stdin.isatty()


def for_unlock(file: Path | None, where: str) -> str | None:
    if file is not None:
        return read_file(file)
    if interactive():
        return getpass.getpass(f"Passphrase for the keyring at {where}: ")
    return None


def for_new(file: Path | None, where: str) -> str | None:
    """A passphrase for a new keyring, or None for none (development only)."""
    if file is not None:
        return _checked(read_file(file))
    if not interactive():
        return None
    print(f"Choose a passphrase for the keyring at {where}.")
    print("Without it a copy of the data directory and the keyring is readable. Leave empty for none.")
    while True:
        first = getpass.getpass("Passphrase: ")
        if not first:
            return None
        try:
            _checked(first)
        except KeyringError as error:
            print(error)
            continue
        if getpass.getpass("Again: ") == first:
            return first
        print("The two did not match; try again.")


def _checked(passphrase: str) -> str:
    if len(passphrase) < MIN_LENGTH:
        raise KeyringError(f"a keyring passphrase needs at least {MIN_LENGTH} characters")
    return passphrase


UNSEALED_WARNING = (
    "WARNING: the keyring at {where} has no passphrase: whoever copies it together with the database can "
    "read everything. Run `tropa keys passphrase` to lock it."
)
