"""Backups: SQLite's online backup into one file (safe while the bot runs), and restore.

A backup holds only ciphertext and blind indexes: it is useless without the keyring and its
passphrase, which is why both are kept somewhere else (README, "Backups").
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine.url import make_url

from bot.runtime import Say, keyring_source, sqlite_path
from bot.settings import Settings
from storage.binding import KEY_CHECK
from storage.keyring import KeyringError


class BackupError(KeyringError):
    """Refused; the message says why (one line)."""


def _sqlite_file(settings: Settings, *, must_exist: bool = True) -> Path:
    path = sqlite_path(settings.resolved_database_url)
    if path is None:
        url = make_url(settings.resolved_database_url)
        raise BackupError(
            "the database is PostgreSQL: back it up with "
            f"`pg_dump --format=custom --file=tropa.dump -h {url.host or 'localhost'} -U {url.username or 'postgres'} "
            f"{url.database}` and restore with `pg_restore --clean --dbname={url.database} tropa.dump`"
        )
    if must_exist and not path.exists():
        raise BackupError(f"there is no database at {path}")
    return path


def _key_check(connection: sqlite3.Connection, where: str) -> str:
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = ?", (KEY_CHECK,)).fetchone()
    except sqlite3.DatabaseError:
        raise BackupError(f"{where} is not a Tropa database") from None
    if row is None:
        raise BackupError(f"{where} is not bound to any keyring")
    return str(row[0])


def backup(settings: Settings, target: Path, say: Say) -> None:
    source_path = _sqlite_file(settings)
    if target.exists():
        raise BackupError(f"{target} exists; refusing to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with (
        contextlib.closing(sqlite3.connect(source_path)) as source,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)  # a consistent snapshot, WAL included, while writers go on
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    size = target.stat().st_size
    say(f"Backed up {source_path} to {target} ({size // 1024} KiB, mode 0600).")
    say("It holds only ciphertext: keep it apart from the keyring and its passphrase.")


def restore(settings: Settings, backup_file: Path, say: Say) -> None:
    live_path = _sqlite_file(settings, must_exist=False)
    live_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not backup_file.exists():
        raise BackupError(f"no backup at {backup_file}")
    keyring = keyring_source(settings).load()  # unlocks with the passphrase, or refuses
    with contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as saved:
        if _key_check(saved, str(backup_file)) != keyring.check_value:
            raise BackupError(f"{backup_file} belongs to another keyring; nothing was restored")
        with contextlib.closing(sqlite3.connect(live_path, timeout=0.5, isolation_level=None)) as live:
            try:
                live.execute("BEGIN EXCLUSIVE")
                live.execute("ROLLBACK")
            except sqlite3.OperationalError:
                raise BackupError("the database is in use: stop the bot before restoring") from None
            saved.backup(live)
    say(f"Restored {live_path} from {backup_file}. Requests shredded before the backup stay unreadable.")
