"""The keyring: key-encryption keys, the blind-index key and the key-check value, kept outside the database.

File format (JSON, 0600)::

    {"format": "tropa-keyring", "version": 1, "active": "<kek id hex>",
     "keks": {"<kek id hex>": "<base64 secret>", ...},
     "index_key": "<base64>", "check": "<hex>"}

The check value is derived from the index key, which never rotates, so it identifies a keyring for the
whole life of a database: the first migration stores it and every start compares (see
docs/decisions/0001-key-handling.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from storage.crypto import KEY_BYTES, Key, blind_index

KEYRING_FORMAT = "tropa-keyring"
KEYRING_VERSION = 1


class KeyringError(Exception):
    """The keyring is missing, unreadable or does not fit; the message says what to do."""


@dataclass
class Keyring:
    keks: dict[bytes, Key]
    active_id: bytes
    index_key: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> Keyring:
        kek = Key.generate()
        return cls({kek.key_id: kek}, kek.key_id, os.urandom(KEY_BYTES))

    @property
    def active(self) -> Key:
        return self.keks[self.active_id]

    @property
    def check_value(self) -> str:
        return hmac.new(self.index_key, b"tropa/key-check/v1", hashlib.sha256).hexdigest()

    def kek(self, key_id: bytes) -> Key:
        try:
            return self.keks[key_id]
        except KeyError:
            raise KeyringError(f"the keyring has no key {key_id.hex()}") from None

    def blind(self, domain: str, value: str | int) -> str:
        return blind_index(self.index_key, domain, value)

    def with_new_active(self) -> Keyring:
        kek = Key.generate()
        while kek.key_id in self.keks:  # 4-byte ids: a collision is unlikely but must not overwrite
            kek = Key.generate()
        return Keyring({**self.keks, kek.key_id: kek}, kek.key_id, self.index_key)

    def without(self, key_id: bytes) -> Keyring:
        if key_id == self.active_id:
            raise KeyringError("the active key cannot be retired; rotate first")
        if key_id not in self.keks:
            raise KeyringError(f"the keyring has no key {key_id.hex()}")
        return Keyring({k: v for k, v in self.keks.items() if k != key_id}, self.active_id, self.index_key)

    # -- serialisation -------------------------------------------------------------------------------

    def to_json(self) -> str:
        document = {
            "format": KEYRING_FORMAT,
            "version": KEYRING_VERSION,
            "active": self.active_id.hex(),
            "keks": {kid.hex(): _b64(key.secret) for kid, key in self.keks.items()},
            "index_key": _b64(self.index_key),
            "check": self.check_value,
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> Keyring:
        try:
            document = json.loads(text)
            if document.get("format") != KEYRING_FORMAT or document.get("version") != KEYRING_VERSION:
                raise KeyringError(f"{source} is not a Tropa keyring (format/version)")
            keks = {}
            for kid_hex, secret in document["keks"].items():
                key = Key(bytes.fromhex(kid_hex), base64.b64decode(secret, validate=True))
                keks[key.key_id] = key
            keyring = cls(keks, bytes.fromhex(document["active"]), base64.b64decode(document["index_key"]))
        except KeyringError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise KeyringError(f"{source} is damaged: {type(error).__name__}") from None
        if keyring.active_id not in keyring.keks or len(keyring.index_key) != KEY_BYTES:
            raise KeyringError(f"{source} is damaged: active key or index key missing")
        if not hmac.compare_digest(keyring.check_value, str(document.get("check", ""))):
            raise KeyringError(f"{source} is damaged: its key-check value does not match its keys")
        return keyring


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class KeyringFile:
    """A keyring stored in a file. Writes are atomic (temp file + rename) and the file is 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Keyring:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyringError(
                f"no keyring at {self.path}: restore it from your key backup, or set TROPA_KEY_FILE "
                "to where it is (a new keyring would not open the existing data)"
            ) from None
        except OSError as error:
            raise KeyringError(f"cannot read the keyring {self.path}: {error.strerror}") from None
        return Keyring.from_json(text, str(self.path))

    def create(self, keyring: Keyring) -> None:
        """Write a new keyring; never overwrites one that exists."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise KeyringError(f"cannot create {self.path.parent}: {error.strerror}") from None
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyringError(f"{self.path} already exists; refusing to overwrite a keyring") from None
        except OSError as error:
            raise KeyringError(f"cannot create a keyring at {self.path}: {error.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())

    def replace(self, keyring: Keyring) -> None:
        """Atomically replace an existing keyring (rotate, retire)."""
        temporary = self.path.with_name(self.path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


@dataclass(frozen=True)
class KeyringSource:
    """Where this process gets its keyring: the environment (read-only) or a file."""

    inline: str | None
    file: KeyringFile

    @property
    def writable(self) -> bool:
        return self.inline is None

    def describe(self) -> str:
        return "TROPA_KEYRING" if self.inline is not None else str(self.file.path)

    def load(self) -> Keyring:
        if self.inline is not None:
            return Keyring.from_json(self.inline, "TROPA_KEYRING")
        return self.file.load()

    def exists(self) -> bool:
        return self.inline is not None or self.file.exists()

    def save_new(self, keyring: Keyring) -> None:
        self._require_writable()
        self.file.create(keyring)

    def save(self, keyring: Keyring) -> None:
        self._require_writable()
        self.file.replace(keyring)

    def _require_writable(self) -> None:
        if not self.writable:
            raise KeyringError(
                "the keyring comes from TROPA_KEYRING and cannot be changed here; "
                "run this command with TROPA_KEY_FILE pointing at a writable copy"
            )
