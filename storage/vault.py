"""Data keys: created per request (plus a permanent ``system`` key and a rolling ``ephemeral`` one), wrapped by
the keyring's key-encryption keys, opened on demand.

Repositories never touch key-encryption keys: they ask the vault for a request's data key and seal or open
values with it. Shredding a request deletes its ``data_keys`` row at once; the key roll that follows
(storage/epochs.py) destroys every key-encryption key that ever wrapped it, so no copy left behind (the SQLite
WAL, PostgreSQL's heap and pg_wal, a backup, a disk block) can be opened with the keyring any more.

Which keys are current is recorded in ``meta`` (docs/decisions/0009-key-epochs.md):

- ``kek.active``: the key-encryption key every new data key is wrapped with. Read in the transaction that
  wraps (shared lock on PostgreSQL), so a process never wraps with a key a concurrent roll is replacing.
- ``ephemeral.current`` / ``ephemeral.previous``: the owner ids of the data keys sealing what lives briefly
  and names a person (FSM records, outbox messages of no request). A roll makes a new current one; the
  previous one is re-sealed away and destroyed a grace period later. Processes re-read which is current at
  most ``EPHEMERAL_FRESH`` seconds before sealing with it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.crypto import CryptoError, Key, Place, key_id_of, open_sealed, seal, unwrap_key, wrap_key
from storage.db import Database
from storage.keyring import Keyring, KeyringError, KeyringSource
from storage.models import DataKey, Meta

SYSTEM_OWNER = "system"
EPHEMERAL_PREFIX = "ephemeral-"
KEK_ACTIVE = "kek.active"
EPHEMERAL_CURRENT = "ephemeral.current"
EPHEMERAL_PREVIOUS = "ephemeral.previous"
# How stale this process's idea of the current ephemeral key may be when it seals with it. A roll waits
# well beyond this (plus the longest transaction) before it destroys the previous key: storage/epochs.py.
EPHEMERAL_FRESH = 10.0
_OPEN_KEYS = "tropa.vault.data_keys"

log = structlog.get_logger()
_DATA_KEYS = cast(Table, DataKey.__table__)
# The wrapped key as the database holds it, built once: read in most transactions that touch a request, where the
# ORM's look-up by primary key (an object loaded into the session) cost several times the statement.
_WRAPPED = select(_DATA_KEYS.c.kek_id, _DATA_KEYS.c.wrapped).where(_DATA_KEYS.c.owner_id == bindparam("owner_id"))


class Shredded(CryptoError):
    """The data key is gone: whatever it protected is unreadable for good."""


@dataclass
class _Ephemeral:
    current: bytes | None = None  # key id of the key to seal with
    by_owner: dict[str, Key] = field(default_factory=dict)  # the current and the previous key
    checked_at: float = float("-inf")  # time.monotonic() of the last look at meta

    def by_id(self, key_id: bytes) -> Key | None:
        return next((key for key in self.by_owner.values() if key.key_id == key_id), None)


class Vault:
    def __init__(self, keyring: Keyring, source: KeyringSource | None = None) -> None:
        self.keyring = keyring
        self.source = source  # where to read the keyring again after another process rolled the keys
        self._system_key: Key | None = None
        self._ephemeral = _Ephemeral()

    def blind(self, domain: str, value: str | int) -> str:
        return self.keyring.blind(domain, value)

    # -- key-encryption keys ------------------------------------------------------------------------

    def reload_keyring(self) -> Keyring:
        """The keyring file as it is now; this vault uses it from here on."""
        if self.source is None:
            raise KeyringError("this keyring has no file to read again")
        self.keyring = self.source.reload(self.keyring)
        return self.keyring

    def kek(self, key_id: bytes) -> Key:
        """A key-encryption key, reading the keyring file again if another process added it since."""
        if key_id not in self.keyring.keks and self.source is not None:
            self.reload_keyring()
        return self.keyring.kek(key_id)

    async def wrapping_kek(self, session: AsyncSession) -> Key:
        """The key new data keys are wrapped with, as recorded in this transaction (shared-locked where the
        database can: a roll replacing it waits for this transaction, or this one sees the new key)."""
        active = await session.scalar(select(Meta.value).where(Meta.key == KEK_ACTIVE).with_for_update(read=True))
        if active is None:
            return self.keyring.active  # a database from before key epochs: bound at the next start
        return self.kek(bytes.fromhex(active))

    async def new_data_key(self, session: AsyncSession, owner_id: str, *, kek: Key | None = None) -> Key:
        dek = Key.generate()
        kek = kek or await self.wrapping_kek(session)
        session.add(
            DataKey(
                owner_id=owner_id, kek_id=kek.key_id.hex(), wrapped=wrap_key(kek, dek, owner_id), created_at=clock.now()
            )
        )
        _open_keys(session)[owner_id] = dek
        return dek

    async def data_key(self, session: AsyncSession, owner_id: str) -> Key:
        """The owner's data key, unwrapped once per transaction (a submission seals under the new request's key
        four times) and forgotten with it."""
        known = _open_keys(session)
        if owner_id in known:
            return known[owner_id]
        row = (await session.execute(_WRAPPED, {"owner_id": owner_id})).one_or_none()
        if row is None:
            raise Shredded(f"no data key for {owner_id}")
        key = known[owner_id] = unwrap_key(self.kek(bytes.fromhex(row.kek_id)), row.wrapped, owner_id)
        return key

    @staticmethod
    async def destroy_data_key(session: AsyncSession, owner_id: str) -> None:
        """Delete the owner's data key: what it sealed no longer opens, in this transaction either."""
        _open_keys(session).pop(owner_id, None)
        await session.execute(delete(DataKey).where(DataKey.owner_id == owner_id))

    # -- the permanent system key (volunteers, canned replies) --------------------------------------

    async def system_key(self, session: AsyncSession) -> Key:
        if self._system_key is None:
            self._system_key = await self.data_key(session, SYSTEM_OWNER)
        return self._system_key

    async def ensure_system_key(self, session: AsyncSession) -> None:
        if await session.get(DataKey, SYSTEM_OWNER) is None:
            await self.new_data_key(session, SYSTEM_OWNER)

    # -- the rolling ephemeral key (FSM records, outbox messages of no request) ---------------------

    async def ephemeral_key(self, session: AsyncSession) -> Key:
        """The key to seal short-lived data with now."""
        if self._ephemeral.current is None or time.monotonic() - self._ephemeral.checked_at > EPHEMERAL_FRESH:
            await self._refresh_ephemeral(session)
        current = self._ephemeral.current
        if current is None:
            return await self.system_key(session)  # a database from before key epochs
        key = self._ephemeral.by_id(current)
        assert key is not None
        return key

    async def ephemeral_key_for(self, session: AsyncSession, blob: bytes) -> Key:
        """The key that opens a blob of short-lived data: the current or the previous ephemeral key (or, for
        data sealed before key epochs, the system key)."""
        key_id = key_id_of(blob)
        key = self._ephemeral.by_id(key_id)
        if key is None:
            await self._refresh_ephemeral(session)
            key = self._ephemeral.by_id(key_id)
        if key is not None:
            return key
        system = await self.system_key(session)
        if key_id == system.key_id:
            return system
        raise Shredded("sealed under an ephemeral key that no longer exists")

    async def _refresh_ephemeral(self, session: AsyncSession) -> None:
        names = (EPHEMERAL_CURRENT, EPHEMERAL_PREVIOUS)
        rows = await session.execute(select(Meta.key, Meta.value).where(Meta.key.in_(names)))
        owners = {name: owner for name, owner in rows}
        by_owner = {
            owner: self._ephemeral.by_owner.get(owner) or await self.data_key(session, owner)
            for owner in owners.values()
        }
        current = owners.get(EPHEMERAL_CURRENT)
        self._ephemeral = _Ephemeral(by_owner[current].key_id if current else None, by_owner, time.monotonic())

    def fresh_ephemeral(self) -> Key | None:
        """The key to seal with, if this process looked at meta recently enough; else None (ask with a session)."""
        state = self._ephemeral
        if state.current is None or time.monotonic() - state.checked_at > EPHEMERAL_FRESH:
            return None
        return state.by_id(state.current)

    def known_ephemeral(self, blob: bytes) -> Key | None:
        return self._ephemeral.by_id(key_id_of(blob))

    def forget_ephemeral(self) -> None:
        """Look at meta again before the next seal (this process just rolled the keys itself)."""
        self._ephemeral.checked_at = float("-inf")

    # -- sealing values ----------------------------------------------------------------------------

    @staticmethod
    def seal_text(key: Key, value: str, place: Place) -> bytes:
        return seal(key, value.encode(), place)

    @staticmethod
    def open_text(key: Key, blob: bytes, place: Place) -> str:
        return open_sealed(key, blob, place).decode()

    @staticmethod
    def seal_json(key: Key, value: Any, place: Place) -> bytes:
        return seal(key, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), place)

    @staticmethod
    def open_json(key: Key, blob: bytes, place: Place) -> Any:
        return json.loads(open_sealed(key, blob, place))

    # -- key management ----------------------------------------------------------------------------

    async def rewrap_all(self, session: AsyncSession, target: Key) -> int:
        """Re-wrap every data key not yet under ``target``; the data itself is not touched."""
        rows = (await session.execute(select(DataKey.owner_id, DataKey.kek_id, DataKey.wrapped))).all()
        target_hex = target.key_id.hex()
        changes = [
            {
                "owner_id": owner_id,
                "kek_id": target_hex,
                "wrapped": wrap_key(target, unwrap_key(self.kek(bytes.fromhex(kek_id)), wrapped, owner_id), owner_id),
            }
            for owner_id, kek_id, wrapped in rows
            if kek_id != target_hex
        ]
        if changes:
            await session.execute(update(DataKey), changes)  # one executemany by primary key
        return len(changes)

    @staticmethod
    async def count_by_kek(session: AsyncSession) -> dict[str, int]:
        rows = await session.execute(select(DataKey.kek_id, func.count()).group_by(DataKey.kek_id))
        return {kek_id: count for kek_id, count in rows}


class SealingKeys(Protocol):
    """Where a store of short-lived data gets its keys: one to seal with now, and the one a blob names."""

    async def sealing(self) -> Key: ...

    async def opening(self, blob: bytes) -> Key: ...


class FixedKey:
    """One key for everything (tests, benchmarks, tools that never see a key roll)."""

    def __init__(self, key: Key) -> None:
        self.key = key

    async def sealing(self) -> Key:
        return self.key

    async def opening(self, blob: bytes) -> Key:
        return self.key


class EphemeralKeys:
    """The vault's rolling ephemeral key, for the FSM storage: a database session only when the vault has to
    look at meta again (every ``EPHEMERAL_FRESH`` seconds, or for a key it has not seen)."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

    async def sealing(self) -> Key:
        if (key := self.vault.fresh_ephemeral()) is not None:
            return key
        async with self.db.session_or_transaction() as session:
            return await self.vault.ephemeral_key(session)

    async def opening(self, blob: bytes) -> Key:
        if (key := self.vault.known_ephemeral(blob)) is not None:
            return key
        async with self.db.session_or_transaction() as session:
            return await self.vault.ephemeral_key_for(session, blob)


def _open_keys(session: AsyncSession) -> dict[str, Key]:
    """The data keys this transaction unwrapped or made, by owner."""
    known: dict[str, Key] = session.info.setdefault(_OPEN_KEYS, {})
    return known
