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
    """A passphrase for a new keyring: from the file, or typed twice on the terminal; None without either."""
    if file is not None:
        return _checked(read_file(file))
    if not interactive():
        return None
    print(f"Choose a passphrase for the keyring at {where} (at least {MIN_LENGTH} characters).")
    print("Without it a copy of the disk reads everything. Keep it off this server: you type it at every start.")
    while True:
        first = getpass.getpass("Passphrase: ")
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


NEW_KEYRING_REFUSED = (
    "no passphrase for a new keyring at {where}: run this in a terminal to type one, or set "
    "TROPA_KEY_PASSPHRASE_FILE to a file that holds it (mode 0600, on a tmpfs such as /run, never on the data disk)"
)
UNLOCKED_REFUSED = (
    "the keyring at {where} is not locked with a passphrase, so a copy of the disk reads everything: lock it "
    "with `tropa keys passphrase`, or set TROPA_UNSAFE_UNLOCKED_KEYRING=true (unsafe: development only)"
)
UNSEALED_WARNING = (
    "WARNING: TROPA_UNSAFE_UNLOCKED_KEYRING: the keyring at {where} has no passphrase: whoever copies it "
    "together with the database can read everything. Run `tropa keys passphrase` to lock it."
)
