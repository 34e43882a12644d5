"""Data keys: created per request (and one ``system`` key), wrapped by the keyring, opened on demand.

Repositories never touch key-encryption keys: they ask the vault for a request's data key and seal or
open values with it. Shredding a request deletes its ``data_keys`` row; after that ``data_key`` raises
``Shredded`` and no copy of the ciphertext (a backup, a leaked file) can be opened with the keyring.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.crypto import CryptoError, Key, Place, open_sealed, seal, unwrap_key, wrap_key
from storage.keyring import Keyring
from storage.models import DataKey

SYSTEM_OWNER = "system"


class Shredded(CryptoError):
    """The data key is gone: whatever it protected is unreadable for good."""


class Vault:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._system_key: Key | None = None

    def blind(self, domain: str, value: str | int) -> str:
        return self.keyring.blind(domain, value)

    async def new_data_key(self, session: AsyncSession, owner_id: str) -> Key:
        dek = Key.generate()
        kek = self.keyring.active
        session.add(
            DataKey(
                owner_id=owner_id,
                kek_id=kek.key_id.hex(),
                wrapped=wrap_key(kek, dek, owner_id),
                created_at=clock.now(),
            )
        )
        return dek

    async def data_key(self, session: AsyncSession, owner_id: str) -> Key:
        row = await session.get(DataKey, owner_id)
        if row is None:
            raise Shredded(f"no data key for {owner_id}")
        return unwrap_key(self.keyring.kek(bytes.fromhex(row.kek_id)), row.wrapped, owner_id)

    async def system_key(self, session: AsyncSession) -> Key:
        if self._system_key is None:
            self._system_key = await self.data_key(session, SYSTEM_OWNER)
        return self._system_key

    async def ensure_system_key(self, session: AsyncSession) -> None:
        if await session.get(DataKey, SYSTEM_OWNER) is None:
            await self.new_data_key(session, SYSTEM_OWNER)

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

    async def rewrap_all(self, session: AsyncSession, new_keyring: Keyring) -> int:
        """Re-wrap every data key under ``new_keyring``'s active key; data itself is not touched."""
        rows = (await session.scalars(select(DataKey))).all()
        target = new_keyring.active
        rewrapped = 0
        for row in rows:
            if row.kek_id == target.key_id.hex():
                continue
            dek = unwrap_key(self.keyring.kek(bytes.fromhex(row.kek_id)), row.wrapped, row.owner_id)
            await session.execute(
                update(DataKey)
                .where(DataKey.owner_id == row.owner_id)
                .values(kek_id=target.key_id.hex(), wrapped=wrap_key(target, dek, row.owner_id))
            )
            rewrapped += 1
        return rewrapped

    @staticmethod
    async def count_by_kek(session: AsyncSession) -> dict[str, int]:
        rows = await session.execute(select(DataKey.kek_id, func.count()).group_by(DataKey.kek_id))
        return {kek_id: count for kek_id, count in rows}
