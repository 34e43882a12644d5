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
import contextlib
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

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

    def keeping(self, key_ids: set[bytes]) -> Keyring:
        """Only these keys (the active one always stays): what a key roll leaves once the others wrap nothing."""
        kept = {kid: key for kid, key in self.keks.items() if kid in key_ids or kid == self.active_id}
        return Keyring(kept, self.active_id, self.index_key)

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


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost; stored in the file so a keyring sealed today opens with tomorrow's defaults."""

    memory_kib: int = 128 * 1024
    iterations: int = 3
    lanes: int = 4


MIN_MEMORY_KIB = 64 * 1024


@dataclass(frozen=True)
class Lock:
    """A key derived from the passphrase, kept in memory so rotation can re-seal without asking again."""

    key: bytes = field(repr=False)
    salt: bytes
    params: KdfParams

    @classmethod
    def derive(cls, passphrase: str, params: KdfParams | None = None, salt: bytes | None = None) -> Lock:
        params = params or KdfParams()
        if params.memory_kib < MIN_MEMORY_KIB:
            raise KeyringError("the keyring's Argon2id memory cost is below 64 MiB; refusing to use it")
        salt = salt or os.urandom(16)
        kdf = Argon2id(
            salt=salt, length=KEY_BYTES, iterations=params.iterations, lanes=params.lanes, memory_cost=params.memory_kib
        )
        return cls(kdf.derive(passphrase.encode("utf-8")), salt, params)

    def _aad(self) -> bytes:
        p = self.params
        return f"tropa-keyring|argon2id|{p.memory_kib}|{p.iterations}|{p.lanes}".encode() + b"|" + self.salt

    def seal(self, plain: str) -> str:
        nonce = os.urandom(12)
        ciphertext = AESGCM(self.key).encrypt(nonce, plain.encode(), self._aad())
        document = {
            "format": KEYRING_FORMAT,
            "version": KEYRING_VERSION,
            "sealed": {
                "kdf": "argon2id",
                "memory_kib": self.params.memory_kib,
                "iterations": self.params.iterations,
                "lanes": self.params.lanes,
                "salt": _b64(self.salt),
                "nonce": _b64(nonce),
                "ciphertext": _b64(ciphertext),
            },
        }
        return json.dumps(document, indent=2) + "\n"

    @staticmethod
    def sealed_params(text: str) -> tuple[KdfParams, bytes] | None:
        """The cost and salt of a sealed keyring file, or None if it is not sealed."""
        try:
            sealed = json.loads(text).get("sealed")
        except (ValueError, AttributeError):
            return None
        if not isinstance(sealed, dict):
            return None
        params = KdfParams(int(sealed["memory_kib"]), int(sealed["iterations"]), int(sealed["lanes"]))
        return params, base64.b64decode(sealed["salt"])

    def unseal(self, text: str, source: str) -> str:
        sealed = json.loads(text)["sealed"]
        try:
            plain = AESGCM(self.key).decrypt(
                base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]), self._aad()
            )
        except InvalidTag:
            raise KeyringError(f"wrong passphrase for the keyring at {source}; nothing was read or written") from None
        return plain.decode()


PassphrasePrompt = Callable[[], str | None]


class DerivedAhead:
    """The Argon2id derivation for a keyring file about to be opened, started early on a thread of its own.

    ``tropa run`` imports aiogram first (seconds of Python); the derivation runs in native code without the
    GIL, so on a machine with a second core it costs nothing on top. Its result is used only for the same
    file contents' cost and salt and the same passphrase; anything that goes wrong here is left to the
    ordinary unlock, which reports it.
    """

    def __init__(self, path: Path, passphrase: str) -> None:
        self._result: tuple[str, KdfParams, bytes, Lock] | None = None
        self._thread = threading.Thread(target=self._derive, args=(path, passphrase), daemon=True)
        self._thread.start()

    def _derive(self, path: Path, passphrase: str) -> None:
        with contextlib.suppress(Exception):
            sealed = Lock.sealed_params(path.read_text(encoding="utf-8"))
            if sealed is not None:
                params, salt = sealed
                self._result = (passphrase, params, salt, Lock.derive(passphrase, params, salt))

    def take(self, passphrase: str, params: KdfParams, salt: bytes) -> Lock | None:
        self._thread.join()
        result, self._result = self._result, None
        if result is None or (result[1], result[2]) != (params, salt):
            return None
        return result[3] if hmac.compare_digest(result[0].encode(), passphrase.encode()) else None


class KeyringFile:
    """A keyring stored in a file. Writes are atomic (temp file + rename) and the file is 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyringError(
                f"no keyring at {self.path}: restore it from your key backup, or set TROPA_KEY_FILE "
                "to where it is (a new keyring would not open the existing data)"
            ) from None
        except OSError as error:
            raise KeyringError(f"cannot read the keyring {self.path}: {error.strerror}") from None

    def load(self) -> Keyring:
        return Keyring.from_json(self.read(), str(self.path))

    def create(self, keyring: Keyring, lock: Lock | None = None) -> None:
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
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(lock.seal(keyring.to_json()) if lock else keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())

    def replace(self, keyring: Keyring, lock: Lock | None = None) -> None:
        """Atomically replace an existing keyring (key rolls, retire, new passphrase): the old file or the new
        one, never half of each, and durable before this returns (the rename too)."""
        temporary = self.path.with_name(self.path.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()  # a leftover from a crash: never inherit its mode or its contents
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(lock.seal(keyring.to_json()) if lock else keyring.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


@dataclass
class KeyringSource:
    """The keyring file this process reads and, at every key roll, rewrites; sealed with a passphrase or not.

    ``passphrase`` is asked only when the keyring is sealed. After a successful load the derived key
    (never the passphrase) stays in memory, so this process can read the file again after another process
    rolled the keys, and re-seal it after rolling them itself.
    """

    file: KeyringFile
    passphrase: PassphrasePrompt = lambda: None
    # The passphrase again, without a terminal (a secret file, read anew): for a running process.
    passphrase_again: PassphrasePrompt = lambda: None
    lock: Lock | None = field(default=None, repr=False)
    ahead: DerivedAhead | None = field(default=None, repr=False)  # the first unlock's derivation, begun early

    @property
    def sealed(self) -> bool:
        return self.lock is not None

    def describe(self) -> str:
        return str(self.file.path)

    def load(self) -> Keyring:
        text = self.file.read()
        sealed = Lock.sealed_params(text)
        if sealed is None:
            self.lock = None
            return Keyring.from_json(text, self.describe())
        return self._unlock(
            text,
            sealed,
            self.passphrase(),
            f"the keyring at {self.describe()} is locked with a passphrase: run in a terminal, or set "
            "TROPA_KEY_PASSPHRASE_FILE to a file that holds it",
        )

    def _unlock(self, text: str, sealed: tuple[KdfParams, bytes], passphrase: str | None, missing: str) -> Keyring:
        """Open a sealed file with ``passphrase`` (refusing with ``missing`` without one); keep the derived key."""
        if not passphrase:
            raise KeyringError(missing)
        params, salt = sealed
        ahead, self.ahead = self.ahead, None
        lock = (ahead.take(passphrase, params, salt) if ahead else None) or Lock.derive(passphrase, params, salt)
        keyring = Keyring.from_json(lock.unseal(text, self.describe()), self.describe())
        self.lock = lock
        return keyring

    def reload(self, current: Keyring) -> Keyring:
        """The file as it is now (another process may have rolled the keys), opened without asking anyone:
        with the key this process derived at start, or with the passphrase file read again."""
        text = self.file.read()
        sealed = Lock.sealed_params(text)
        if sealed is None:
            keyring = Keyring.from_json(text, self.describe())
        elif self.lock is not None and (self.lock.params, self.lock.salt) == sealed:
            keyring = Keyring.from_json(self.lock.unseal(text, self.describe()), self.describe())
        else:
            keyring = self._unlock(
                text,
                sealed,
                self.passphrase_again(),
                f"the keyring at {self.describe()} was locked with a new passphrase since this process "
                "started; restart it with the new passphrase",
            )
        if not hmac.compare_digest(keyring.check_value, current.check_value):
            raise KeyringError(f"the keyring at {self.describe()} was replaced by another keyring; refusing it")
        return keyring

    def exists(self) -> bool:
        return self.file.exists()

    def save_new(self, keyring: Keyring, passphrase: str | None = None) -> None:
        self.lock = Lock.derive(passphrase) if passphrase else None
        self.file.create(keyring, self.lock)

    def save(self, keyring: Keyring) -> None:
        self.file.replace(keyring, self.lock)

    def change_passphrase(self, keyring: Keyring, passphrase: str) -> None:
        """Re-seal under a new passphrase (new salt). The keys, and so all data, stay as they are."""
        self.lock = Lock.derive(passphrase)
        self.file.replace(keyring, self.lock)
