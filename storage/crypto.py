"""AES-256-GCM envelopes, AAD layout and blind indexes.

Blob layout (every ciphertext and every wrapped data key)::

    version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext || tag (16 bytes)

The header is part of the associated data, so a blob whose version or key id was altered fails like a
flipped ciphertext byte. The rest of the associated data says where the blob lives (table, column,
immutable row id): a blob copied to another row or column does not decrypt. See
docs/decisions/0002-aad-layout.md.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from sqlalchemy.orm import QueryableAttribute

FORMAT_VERSION = 1
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
HEADER_BYTES = 1 + KEY_ID_BYTES
MIN_BLOB_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES


class CryptoError(Exception):
    """A blob could not be opened: wrong key, tampered bytes, or moved to another place."""


@dataclass(frozen=True, slots=True)
class Place:
    """Where a ciphertext lives; becomes its associated data."""

    table: str
    column: str
    row_id: str

    @classmethod
    def of(cls, column: QueryableAttribute[bytes | None], row_id: str) -> Place:
        """Where a blob of a model's sealed column lives: ``Place.of(Note.body, note_id)`` is notes/body/note id.
        The table and column names come from the model, so a place cannot be mistyped; tests/test_aad_places.py
        holds every sealed column to the bytes decision 0002 documents."""
        return cls(column.class_.__tablename__, column.key, row_id)

    def aad(self, header: bytes) -> bytes:
        return b"|".join((b"tropa", header, self.table.encode(), self.column.encode(), self.row_id.encode()))


@dataclass(frozen=True, slots=True)
class Key:
    """A 256-bit AES key with the 4-byte id that every blob sealed under it carries."""

    key_id: bytes
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.key_id) != KEY_ID_BYTES or len(self.secret) != KEY_BYTES:
            raise ValueError("a key is a 4-byte id and 32 secret bytes")

    @classmethod
    def generate(cls) -> Key:
        return cls(os.urandom(KEY_ID_BYTES), AESGCM.generate_key(bit_length=256))

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debuggers' reprs
        return f"Key(id={self.key_id.hex()})"


def seal(key: Key, plaintext: bytes, place: Place) -> bytes:
    header = bytes([FORMAT_VERSION]) + key.key_id
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key.secret).encrypt(nonce, plaintext, place.aad(header))


def key_id_of(blob: bytes) -> bytes:
    if len(blob) < MIN_BLOB_BYTES or blob[0] != FORMAT_VERSION:
        raise CryptoError("not a Tropa ciphertext of a known version")
    return blob[1:HEADER_BYTES]


def open_sealed(key: Key, blob: bytes, place: Place) -> bytes:
    if key_id_of(blob) != key.key_id:
        raise CryptoError("sealed under another key")
    header = blob[:HEADER_BYTES]
    nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
    body = blob[HEADER_BYTES + NONCE_BYTES :]
    try:
        return AESGCM(key.secret).decrypt(nonce, body, place.aad(header))
    except InvalidTag:
        raise CryptoError("ciphertext does not authenticate here") from None


def wrap_key(kek: Key, dek: Key, owner_id: str) -> bytes:
    """Seal a data key under a key-encryption key, bound to the row that owns it."""
    return seal(kek, dek.key_id + dek.secret, Place("data_keys", "wrapped", owner_id))


def unwrap_key(kek: Key, wrapped: bytes, owner_id: str) -> Key:
    raw = open_sealed(kek, wrapped, Place("data_keys", "wrapped", owner_id))
    return Key(raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:])


def blind_index(index_key: bytes, domain: str, value: str | int) -> str:
    """Keyed pseudonym of a value. The domain keeps an index of one kind from matching another kind."""
    message = domain.encode() + b"\x00" + str(value).encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()
