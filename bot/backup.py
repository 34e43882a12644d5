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
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError

from bot import pg_backup
from bot.runtime import Say, keyring_source, sqlite_path
from bot.settings import Settings
from services.context import Services
from services.events import Events
from storage import migrate
from storage.binding import KEY_CHECK
from storage.db import Database
from storage.epochs import PURGE, SHRED_DOMAIN, KeyEpochs, LedgerEntry, merge_ledger, note_shred, read_ledger
from storage.keyring import Keyring, KeyringError
from storage.models import FsmRecord
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


def _check_sqlite(backup_file: Path, keyring: Keyring) -> None:
    with contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as saved:
        try:
            check = _key_check(saved, str(backup_file))
            wrapping = _wrapping_keys(saved)
        except sqlite3.DatabaseError:
            raise BackupError(f"{backup_file} is not a Tropa database") from None
    _check_opens(check, wrapping, keyring, backup_file)


def _put_back_sqlite(live_path: Path, backup_file: Path) -> None:
    """Copy the (checked) backup over the live SQLite file, unless a bot holds it."""
    live_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (
        contextlib.closing(sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)) as saved,
        contextlib.closing(sqlite3.connect(live_path, timeout=0.5, isolation_level=None)) as live,
    ):
        try:
            live.execute("BEGIN EXCLUSIVE")
            live.execute("ROLLBACK")
        except sqlite3.OperationalError:
            raise BackupError("the database is in use: stop the bot before restoring") from None
        saved.backup(live)


async def _check_postgres(url: str, backup_file: Path, keyring: Keyring) -> None:
    try:
        check, wrapping = await asyncio.to_thread(pg_backup.key_check_and_wrapping_keys, backup_file)
        _check_opens(check, wrapping, keyring, backup_file)
        if await pg_backup.others_connected(url):
            raise BackupError("the database is in use: stop every bot and `tropa` command before restoring")
    except pg_backup.PostgresBackupError as error:
        raise BackupError(str(error)) from None


async def _live_ledger(settings: Settings) -> list[LedgerEntry]:
    """What the live database shredded since its last key roll, read before it is replaced: the backup may
    still hold those requests."""
    live_path = _sqlite_file(settings, must_exist=False)
    if live_path is not None and not await asyncio.to_thread(live_path.exists):
        return []
    db = Database(settings.resolved_database_url)
    try:
        async with db.sessions() as session:  # a read of its own, whatever this task holds open
            return await read_ledger(session)
    except DBAPIError:
        return []  # no ledger yet (a database from before it, or a damaged one): nothing to re-apply
    finally:
        await db.dispose()


async def restore(settings: Settings, backup_file: Path, say: Say) -> None:
    """Put a backup back, then shred again every request forgotten or purged since it was taken, and roll the
    keys.

    A backup older than the last key roll does not open any more (its keys were destroyed with the shreds
    since): it is refused before anything is written. What must be shredded again is written down (blind
    indexes, next to the keyring) before the backup goes back, and crossed out only once it is done: a
    restore cut short is finished by the next start of any `tropa` command (``finish_restore``).
    """
    live_path = _sqlite_file(settings, must_exist=False)
    if not await asyncio.to_thread(backup_file.exists):
        raise BackupError(f"no backup at {backup_file}")
    source = keyring_source(settings)
    keyring = source.load()  # unlocks with the passphrase, or refuses
    url = settings.resolved_database_url
    if live_path is None:
        await _check_postgres(url, backup_file, keyring)
    else:
        await asyncio.to_thread(_check_sqlite, backup_file, keyring)
    pending = restore_pending(settings)
    await asyncio.to_thread(pending.add, await _live_ledger(settings))
    if live_path is None:
        try:
            await pg_backup.put_back(url, backup_file)
        except pg_backup.PostgresBackupError as error:
            raise BackupError(str(error)) from None
    else:
        await asyncio.to_thread(_put_back_sqlite, live_path, backup_file)
    db = Database(url)
    try:
        await migrate.upgrade(db)
        shredded_again = await finish_restore(settings, db, Vault(keyring, source))
    finally:
        await db.dispose()
    live = str(live_path) if live_path is not None else make_url(url).database
    say(f"Restored {live} from {backup_file}. Requests shredded before the backup stay unreadable.")
    say(
        f"Shredded again {shredded_again or 0} requests forgotten or purged after the backup was taken; "
        "the keys were rolled."
    )
    say("This backup, like every older one, opens no more: take a new backup now (`tropa backup`).")


@dataclass(frozen=True)
class RestorePending:
    """The shreds a restore must apply again, kept in a file beside the keyring (a volume every bot shares)
    from before the backup goes back until they are done: blind indexes of request ids and moments only."""

    path: Path

    def add(self, entries: list[LedgerEntry]) -> None:
        known = {entry.request_index: entry for entry in self.read()}
        known.update({entry.request_index: entry for entry in entries})
        document = [[e.request_index, e.shredded_at.isoformat(), e.kind] for e in known.values()]
        temporary = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def read(self) -> list[LedgerEntry]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        return [LedgerEntry(index, _aware(at), kind) for index, at, kind in document]

    def exists(self) -> bool:
        return self.path.exists()

    def done(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def restore_pending(settings: Settings) -> RestorePending:
    return RestorePending(settings.resolved_key_file.parent / "restore-pending.json")


def _aware(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def finish_restore(settings: Settings, db: Database, vault: Vault) -> int | None:
    """If a restore has shreds to apply again (it just put a backup back, or it was cut short): shred each
    request the list names the way it went (forgotten: no trail, counters taken back; purged: counters stay),
    keep the list as the database's ledger, drop the backup's unfinished intakes, roll the keys at once so the
    copies the restore itself wrote stop opening too, then cross the list out. None when there is nothing to
    finish."""
    pending = restore_pending(settings)
    if not await asyncio.to_thread(pending.exists):
        return None
    entries = await asyncio.to_thread(pending.read)
    kinds = {entry.request_index: entry.kind for entry in entries}
    shredded = 0
    from bot.app import policy_from  # the bot's policy: a forget takes back what it counted (the team's zone...)

    async with db.transaction() as session:
        services = Services(session, vault, policy_from(settings), Events())
        for request_id in await services.requests.all_ids():
            kind = kinds.get(vault.blind(SHRED_DOMAIN, request_id))
            record = await services.requests.by_id(request_id) if kind else None
            if record is None:
                continue
            if kind == PURGE:
                shredded += await services.retention.purge(record, notify=[])
            else:
                shredded += int(await services.intake.erase_without_trail(record))
        await merge_ledger(session, entries)
        # Unfinished intakes as they were when the backup was taken: some were cancelled or forgotten since,
        # and nothing records which. People start those again.
        await session.execute(delete(FsmRecord))
        await note_shred(session, vault)
    await KeyEpochs(db, vault, timedelta(0)).rotate()
    await asyncio.to_thread(pending.done)
    return shredded
