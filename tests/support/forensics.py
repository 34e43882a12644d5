"""An attacker who holds the keyring and a copy of the disk: what can they open of what was shredded?

A test records the exact bytes of a request's wrapped data key and ciphertexts before the shred, then
searches every file where the database keeps things (SQLite's file, WAL and shared memory; PostgreSQL's
whole data directory, pg_wal included; a Redis append-only file) and tries to open every copy it finds
with every key the current keyring holds, and with every data key those open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from storage.crypto import CryptoError, Key, key_id_of, unwrap_key
from storage.db import Database
from storage.keyring import Keyring
from storage.models import DataKey


@dataclass
class Planted:
    """What one person's shred must make unreadable: wrapped data keys (owner -> bytes as stored) and
    ciphertexts (bytes as stored -> the blob, which differ where a store keeps base64 text)."""

    wrapped: dict[str, bytes] = field(default_factory=dict)
    sealed: dict[bytes, bytes] = field(default_factory=dict)

    def needles(self) -> list[bytes]:
        return [*self.wrapped.values(), *self.sealed]

    def request_wrapped_key(self) -> bytes:
        """The request's wrapped data key (planted last): in every copy of its row, a backup's included."""
        return list(self.wrapped.values())[-1]


def files_under(*directories: Path) -> list[Path]:
    found = []
    for directory in directories:
        for root, _dirs, names in os.walk(directory):
            found += [Path(root) / name for name in names]
    return sorted(found)


def copies_in(paths: list[Path], needles: list[bytes]) -> dict[bytes, list[Path]]:
    """Where each byte string lies, file by file."""
    where: dict[bytes, list[Path]] = {needle: [] for needle in needles}
    for path in paths:
        try:
            content = path.read_bytes()
        except OSError:
            continue  # a file the server removed while we looked (a WAL segment recycled)
        for needle in needles:
            if needle in content:
                where[needle].append(path)
    return where


async def live_data_keys(db: Database, keyring: Keyring) -> list[Key]:
    """Every data key the current keyring opens from the live database."""
    async with db.transaction() as session:
        rows = (await session.execute(select(DataKey.owner_id, DataKey.kek_id, DataKey.wrapped))).all()
    keys = []
    for owner_id, kek_id, wrapped in rows:
        kek = keyring.keks.get(bytes.fromhex(kek_id))
        if kek is not None:
            keys.append(unwrap_key(kek, wrapped, owner_id))
    return keys


def openable_copies(planted: Planted, found: dict[bytes, list[Path]], keyring: Keyring, live: list[Key]) -> list[str]:
    """Every copy on disk that the keyring opens, directly or through a data key: what must be empty."""
    opened = []
    for owner, wrapped in planted.wrapped.items():
        if not found.get(wrapped):
            continue
        for kek in keyring.keks.values():
            try:
                unwrap_key(kek, wrapped, owner)
            except CryptoError:
                continue
            opened.append(f"wrapped key of {owner} in {found[wrapped]}")
    live_ids = {key.key_id for key in live}
    for stored, blob in planted.sealed.items():
        if found.get(stored) and key_id_of(blob) in live_ids:
            opened.append(f"a ciphertext whose data key is still live, in {found[stored]}")
    return opened


async def postgres_data_directory(url: str) -> Path:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute("CHECKPOINT")  # heap pages to disk, as a powered-off server would hold them
        return Path(await connection.fetchval("SHOW data_directory"))
    finally:
        await connection.close()
