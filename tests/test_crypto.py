"""AES-GCM envelopes and blind indexes: known answers, and every way a blob must refuse to open."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.crypto import (
    HEADER_BYTES,
    CryptoError,
    Key,
    Place,
    blind_index,
    key_id_of,
    open_sealed,
    seal,
    unwrap_key,
    wrap_key,
)

PLACE = Place("requests", "answers", "0123456789abcdef0123456789abcdef")


def test_known_answer_blob_layout_opens() -> None:
    """A blob built by hand from the documented layout opens: the format is what the docs say."""
    key = Key(bytes.fromhex("a1b2c3d4"), bytes(range(32)))
    nonce = bytes(12)
    header = b"\x01" + key.key_id
    aad = b"tropa|" + header + b"|requests|answers|0123456789abcdef0123456789abcdef"
    blob = header + nonce + AESGCM(key.secret).encrypt(nonce, b"known answer", aad)
    assert open_sealed(key, blob, PLACE) == b"known answer"


def test_round_trip_and_fresh_nonces() -> None:
    key = Key.generate()
    first, second = seal(key, b"same text", PLACE), seal(key, b"same text", PLACE)
    assert first != second
    assert first[0] == 1 and key_id_of(first) == key.key_id
    assert open_sealed(key, first, PLACE) == open_sealed(key, second, PLACE) == b"same text"


@pytest.mark.parametrize("position", [0, 1, HEADER_BYTES, HEADER_BYTES + 12, -1])
def test_any_flipped_byte_fails(position: int) -> None:
    key = Key.generate()
    blob = bytearray(seal(key, b"secret", PLACE))
    blob[position] ^= 0x01
    with pytest.raises(CryptoError):
        open_sealed(key, bytes(blob), PLACE)


def test_wrong_key_with_same_id_fails() -> None:
    key = Key.generate()
    impostor = Key(key.key_id, Key.generate().secret)
    with pytest.raises(CryptoError):
        open_sealed(impostor, seal(key, b"secret", PLACE), PLACE)


def test_other_key_id_fails_before_decrypting() -> None:
    with pytest.raises(CryptoError, match="another key"):
        open_sealed(Key.generate(), seal(Key.generate(), b"secret", PLACE), PLACE)


@pytest.mark.parametrize(
    "moved",
    [
        Place("requests", "answers", "ffffffffffffffffffffffffffffffff"),  # another row
        Place("requests", "chat_id", PLACE.row_id),  # another column
        Place("notes", "answers", PLACE.row_id),  # another table
    ],
)
def test_ciphertext_moved_elsewhere_fails(moved: Place) -> None:
    key = Key.generate()
    with pytest.raises(CryptoError):
        open_sealed(key, seal(key, b"secret", PLACE), moved)


def test_truncated_and_foreign_blobs_fail() -> None:
    key = Key.generate()
    blob = seal(key, b"secret", PLACE)
    for broken in (b"", blob[:20], b"\x02" + blob[1:], b"plain text that is long enough to parse"):
        with pytest.raises(CryptoError):
            open_sealed(key, broken, PLACE)


def test_wrapped_key_is_bound_to_its_owner() -> None:
    kek, dek = Key.generate(), Key.generate()
    wrapped = wrap_key(kek, dek, "owner-a")
    assert unwrap_key(kek, wrapped, "owner-a") == dek
    with pytest.raises(CryptoError):
        unwrap_key(kek, wrapped, "owner-b")


def test_key_repr_hides_the_secret() -> None:
    key = Key.generate()
    assert key.secret.hex() not in repr(key) and key.key_id.hex() in repr(key)


def test_blind_index_known_answer_stable_and_domain_separated() -> None:
    index_key = bytes(range(32))
    expected = hmac.new(index_key, b"tg-user\x00123456789", hashlib.sha256).hexdigest()
    assert blind_index(index_key, "tg-user", 123456789) == expected
    assert blind_index(index_key, "tg-user", 123456789) == blind_index(index_key, "tg-user", "123456789")
    assert blind_index(index_key, "fsm", 123456789) != expected
    assert blind_index(bytes(32), "tg-user", 123456789) != expected
    # The separator keeps "ab"+"c" from colliding with "a"+"bc".
    assert blind_index(index_key, "ab", "c") != blind_index(index_key, "a", "bc")
