"""The bond between one database and one keyring, checked before anything is read or written."""

from __future__ import annotations

import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from storage.epochs import bind_epochs
from storage.keyring import Keyring, KeyringError
from storage.models import Meta
from storage.vault import Vault

KEY_CHECK = "key_check"


class KeyringMismatch(KeyringError):
    """This keyring is not the one that this database was created with."""


class MissingWrappingKeys(KeyringMismatch):
    """This keyring lacks a key that still wraps data keys (an old copy of the file, or one read just before
    another process rolled the keys)."""


async def bind_or_verify(session: AsyncSession, keyring: Keyring) -> bool:
    """Record the keyring's check value on first use; afterwards require it to match.

    Returns True when the binding was created now. Also refuses a keyring that lacks a key which
    still wraps data keys (a retired key restored by mistake, or an old keyring file).
    """
    stored = await session.get(Meta, KEY_CHECK)
    if stored is not None and not hmac.compare_digest(stored.value, keyring.check_value):
        raise KeyringMismatch(
            "this keyring does not belong to this database (key-check value differs); "
            "nothing was read or written. Use the keyring the database was created with."
        )
    missing = {
        kek_id: count
        for kek_id, count in (await Vault.count_by_kek(session)).items()
        if bytes.fromhex(kek_id) not in keyring.keks
    }
    if missing:
        described = ", ".join(f"{kek_id} ({count} data keys)" for kek_id, count in sorted(missing.items()))
        raise MissingWrappingKeys(f"the keyring lacks keys that still wrap data: {described}")
    vault = Vault(keyring)
    if stored is None:
        session.add(Meta(key=KEY_CHECK, value=keyring.check_value))
        await vault.ensure_system_key(session)
    await bind_epochs(session, vault)
    return stored is None
