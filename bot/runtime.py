"""Opening Tropa's state: keyring, database, schema, and the check that binds the first two.

The order matters for "refuse and write nothing": the keyring is loaded and the database's stored
key-check value is compared *before* any migration or write runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot import passphrase
from bot.settings import Settings
from storage import migrate
from storage.binding import KEY_CHECK, KeyringMismatch, MissingWrappingKeys, bind_or_verify
from storage.db import Database
from storage.keyring import DerivedAhead, Keyring, KeyringError, KeyringFile, KeyringSource
from storage.models import Meta
from storage.vault import Vault

Say = Callable[[str], None]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    keyring_source: KeyringSource
    vault: Vault

    @property
    def keyring(self) -> Keyring:
        """The keyring as this process knows it now (key rolls replace it; the index key never changes)."""
        return self.vault.keyring

    async def close(self) -> None:
        await self.db.dispose()


_derived_ahead: dict[Path, DerivedAhead] = {}


def unlock_ahead(settings: Settings) -> None:
    """Begin the keyring's Argon2id derivation now, on a thread, when the passphrase comes from a file and the
    keyring exists: ``tropa run`` imports aiogram meanwhile, and the first unlock takes the result."""
    path, file = settings.resolved_key_file, settings.key_passphrase_file
    if file is None or not path.exists():
        return
    try:
        secret = passphrase.read_file(file)
    except KeyringError:
        return  # the ordinary unlock says what is wrong
    _derived_ahead[path] = DerivedAhead(path, secret)


def keyring_source(settings: Settings) -> KeyringSource:
    source = KeyringSource(file=KeyringFile(settings.resolved_key_file))
    source.ahead = _derived_ahead.pop(settings.resolved_key_file, None)
    source.passphrase = lambda: passphrase.for_unlock(settings.key_passphrase_file, source.describe())
    file = settings.key_passphrase_file
    source.passphrase_again = lambda: passphrase.read_file(file) if file is not None else None
    return source


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


async def stored_key_check(db: Database) -> str | None:
    """The key-check value this database was bound to, or None for a database without one."""
    try:
        async with db.sessions() as session:
            return await session.scalar(select(Meta.value).where(Meta.key == KEY_CHECK))
    except (OperationalError, ProgrammingError):
        return None  # no schema yet


def _missing(db_file: Path | None) -> bool:
    return db_file is not None and not db_file.exists()


async def _stored_key_check(url: str, db_file: Path | None) -> str | None:
    """Read the database's key-check value without creating anything (a missing SQLite file is fresh)."""
    if _missing(db_file):
        return None
    probe = Database(url)
    try:
        return await stored_key_check(probe)
    finally:
        await probe.dispose()


def _create_sqlite_file(db_file: Path) -> None:
    """Make the database file 0600 before SQLite does (its -wal and -shm files copy the mode)."""
    db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not db_file.exists():
        os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def require_writable_keyring(source: KeyringSource) -> None:
    """A running bot rewrites the keyring at every key roll (docs/decisions/0009): a read-only one (a mounted
    secret) would keep destroyed keys alive, so the bot refuses it before it starts."""
    path = source.file.path
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        raise KeyringError(
            f"the keyring at {path} (or its directory) is not writable: key rolls rewrite it after every shred. "
            "Put it on a volume every bot can write (see README, 'Several replicas')"
        )


async def open_runtime(
    settings: Settings,
    *,
    create_if_fresh: bool,
    say: Say = print,
    allow_unlocked: bool = False,
    writable_keyring: bool = False,
) -> Runtime:
    """Load the keyring, verify it against the database, migrate, bind. Raises KeyringError to refuse.

    Nothing is created or written until the keyring has been found (or made, on a fresh data directory)
    and found to belong to the database. A keyring without a passphrase is refused unless the operator
    asked for one by name (TROPA_UNSAFE_UNLOCKED_KEYRING), or is about to lock it (``allow_unlocked``).
    """
    source = keyring_source(settings)
    url = settings.resolved_database_url
    db_file = sqlite_path(url)
    bound_to = await _stored_key_check(url, db_file)
    unsafe = settings.unsafe_unlocked_keyring
    if source.exists():
        keyring = source.load()
        if not source.sealed and not (unsafe or allow_unlocked):
            raise KeyringError(passphrase.UNLOCKED_REFUSED.format(where=source.describe()))
    elif bound_to is not None:
        raise KeyringError(
            f"no keyring at {source.describe()}, but the database holds data sealed with one; "
            "nothing was written. Restore the keyring from your key backup or set TROPA_KEY_FILE."
        )
    elif create_if_fresh:
        asked = not unsafe or settings.key_passphrase_file is not None
        chosen = passphrase.for_new(settings.key_passphrase_file, source.describe()) if asked else None
        if chosen is None and not unsafe:
            raise KeyringError(passphrase.NEW_KEYRING_REFUSED.format(where=source.describe()))
        keyring = Keyring.generate()
        source.save_new(keyring, chosen)
        say(f"Created a new keyring at {source.describe()} (mode 0600). Back it up apart from the data.")
    else:
        raise KeyringError(f"no keyring at {source.describe()}; create one with `tropa keys init`")
    if writable_keyring:
        require_writable_keyring(source)
    if bound_to is not None and bound_to != keyring.check_value:
        raise KeyringMismatch(
            f"the keyring at {source.describe()} does not belong to this database "
            "(key-check value differs); nothing was read or written"
        )
    if not source.sealed:
        say(passphrase.UNSEALED_WARNING.format(where=source.describe()))
    if db_file is not None:
        _create_sqlite_file(db_file)
    db = Database(url)
    try:
        await migrate.upgrade_to_head(db)
        try:
            async with db.transaction() as session:
                await bind_or_verify(session, keyring)
        except MissingWrappingKeys:
            # Another process may have rolled the keys since this one read the file: read it once more.
            keyring = source.reload(keyring)
            async with db.transaction() as session:
                await bind_or_verify(session, keyring)
        if bound_to is None:
            say(f"Database ready at {db_file.resolve() if db_file else make_url(url).render_as_string()}")
        vault = Vault(keyring, source)
        from bot.backup import finish_restore  # it builds on this module

        finished = await finish_restore(settings, db, vault)
        if finished is not None:
            say(f"Finished a restore that was cut short: shredded again {finished} requests; the keys were rolled.")
        return Runtime(settings, db, source, vault)
    except BaseException:
        await db.dispose()
        raise
