"""Backups: one file, consistent, safe while the bot runs (SQLite's online backup, or ``pg_dump`` for
PostgreSQL: bot/pg_backup.py), and restore.

A backup holds only ciphertext and blind indexes: it is useless without the keyring and its
passphrase, which is why both are kept somewhere else (README, "Backups"). It opens only while the keys
it was taken under exist: a restore refuses one older than the last key roll, and shreds again what was
forgotten after it was taken (docs/decisions/0009).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError

from bot import pg_backup
from bot.runtime import Say, keyring_source, sqlite_path
from bot.settings import Settings
from storage import migrate
from storage.binding import KEY_CHECK
from storage.db import Database
from storage.epochs import SHRED_DOMAIN, KeyEpochs, merge_ledger
from storage.keyring import Keyring, KeyringError, KeyringSource
from storage.models import ShredRecord
from storage.requests import RequestRepository
from storage.vault import Vault


class BackupError(KeyringError):
    """Refused; the message says why (one line)."""


def _sqlite_file(settings: Settings, *, must_exist: bool = True) -> Path | None:
    """The SQLite file, or None for PostgreSQL."""
    path = sqlite_path(settings.resolved_database_url)
    if path is not None and must_exist and not path.exists():
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
    if source_path is None:
        try:
            pg_backup.dump(settings.resolved_database_url, target)
        except pg_backup.PostgresBackupError as error:
            target.unlink()
            raise BackupError(str(error)) from None
        source = make_url(settings.resolved_database_url).database
    else:
        with (
            contextlib.closing(sqlite3.connect(source_path)) as live,
            contextlib.closing(sqlite3.connect(target)) as copy,
        ):
            live.backup(copy)  # a consistent snapshot, WAL included, while writers go on
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        source = str(source_path)
    size = target.stat().st_size
    say(f"Backed up {source} to {target} ({size // 1024} KiB, mode 0600).")
    say("It holds only ciphertext: keep it apart from the keyring and its passphrase.")
    say("It can be restored until the next key roll after a shred; an older backup opens nothing.")


def _check_opens(check: str | None, wrapping: set[str], keyring: Keyring, where: Path) -> None:
    """Refuse, before anything is written, a backup of another keyring or one whose keys were destroyed."""
    if check is None:
        raise BackupError(f"{where} is not bound to any keyring")
    if check != keyring.check_value:
        raise BackupError(f"{where} belongs to another keyring; nothing was restored")
    gone = sorted(kek_id for kek_id in wrapping if bytes.fromhex(kek_id) not in keyring.keks)
    if gone:
        raise BackupError(
            f"{where} was taken before a key roll: the keys that opened it ({', '.join(gone)}) were "
            "destroyed so that shredded requests stay gone; nothing was restored"
        )


def _wrapping_keys(connection: sqlite3.Connection) -> set[str]:
    return {str(row[0]) for row in connection.execute("SELECT DISTINCT kek_id FROM data_keys")}


def _ledger(live_path: Path) -> list[tuple[str, str]]:
    """What the live database shredded since its last key roll (blind indexes and moments), read before it is
    replaced: the backup may still hold those requests."""
    if not live_path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{live_path}?mode=ro", uri=True)) as live:
        try:
            return [
                (str(index), str(at))
                for index, at in live.execute("SELECT request_index, shredded_at FROM shred_ledger")
            ]
        except sqlite3.DatabaseError:
            return []  # no ledger (a database from before it, or a damaged one): nothing to re-apply


def _put_back_sqlite(live_path: Path, backup_file: Path, keyring: Keyring) -> list[tuple[str, str]]:
    """Copy the backup over the live SQLite file, after every check; returns the live ledger it replaced."""
    live_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as saved:
        try:
            check = _key_check(saved, str(backup_file))
            wrapping = _wrapping_keys(saved)
        except sqlite3.DatabaseError:
            raise BackupError(f"{backup_file} is not a Tropa database") from None
        _check_opens(check, wrapping, keyring, backup_file)
        ledger = _ledger(live_path)
        with contextlib.closing(sqlite3.connect(live_path, timeout=0.5, isolation_level=None)) as live:
            try:
                live.execute("BEGIN EXCLUSIVE")
                live.execute("ROLLBACK")
            except sqlite3.OperationalError:
                raise BackupError("the database is in use: stop the bot before restoring") from None
            saved.backup(live)
    return ledger


async def _put_back_postgres(url: str, backup_file: Path, keyring: Keyring) -> list[tuple[str, str]]:
    try:
        check, wrapping = await asyncio.to_thread(pg_backup.key_check_and_wrapping_keys, backup_file)
        _check_opens(check, wrapping, keyring, backup_file)
        if await pg_backup.others_connected(url):
            raise BackupError("the database is in use: stop every bot and `tropa` command before restoring")
        ledger = await _postgres_ledger(url)
        await pg_backup.put_back(url, backup_file)
    except pg_backup.PostgresBackupError as error:
        raise BackupError(str(error)) from None
    return ledger


async def _postgres_ledger(url: str) -> list[tuple[str, str]]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            rows = await session.execute(select(ShredRecord.request_index, ShredRecord.shredded_at))
            return [(str(index), at.isoformat()) for index, at in rows]
    except DBAPIError:
        return []  # no ledger yet (a database from before it): nothing to re-apply
    finally:
        await db.dispose()


async def restore(settings: Settings, backup_file: Path, say: Say) -> None:
    """Put a backup back, then shred again every request forgotten since it was taken, and roll the keys.

    A backup older than the last key roll does not open any more (its keys were destroyed with the
    shreds since): it is refused before anything is written.
    """
    live_path = _sqlite_file(settings, must_exist=False)
    if not await asyncio.to_thread(backup_file.exists):
        raise BackupError(f"no backup at {backup_file}")
    source = keyring_source(settings)
    keyring = source.load()  # unlocks with the passphrase, or refuses
    if live_path is None:
        ledger = await _put_back_postgres(settings.resolved_database_url, backup_file, keyring)
        live = make_url(settings.resolved_database_url).database
    else:
        ledger = await asyncio.to_thread(_put_back_sqlite, live_path, backup_file, keyring)
        live = str(live_path)
    shredded_again = await _shred_again(settings, source, keyring, ledger)
    say(f"Restored {live} from {backup_file}. Requests shredded before the backup stay unreadable.")
    say(f"Shredded again {shredded_again} requests forgotten after the backup was taken; the keys were rolled.")


def _aware(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps UTC without the zone


async def _shred_again(
    settings: Settings, source: KeyringSource, keyring: Keyring, ledger: list[tuple[str, str]]
) -> int:
    """In the restored database: shred what the ledger names, keep the ledger, and roll the keys at once so
    the copies the restore itself wrote stop opening too."""
    db = Database(settings.resolved_database_url)
    vault = Vault(keyring, source)
    try:
        await migrate.upgrade(db)
        indexes = {index for index, _at in ledger}
        shredded = 0
        async with db.transaction() as session:
            requests = RequestRepository(session, vault)
            for request_id in await requests.all_ids():
                if vault.blind(SHRED_DOMAIN, request_id) in indexes:
                    shredded += int(await requests.shred(request_id))
            await merge_ledger(session, [(index, _aware(at)) for index, at in ledger])
        await KeyEpochs(db, vault, timedelta(0)).rotate()
        return shredded
    finally:
        await db.dispose()
