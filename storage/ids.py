"""Identifiers made by the application, so a row's id is known before it is written (it is in the AAD)."""

from __future__ import annotations

import itertools
import os
import secrets
import time

_sequence = itertools.count()

# No 0/O, 1/I/L, U/V: codes are read aloud and typed by tired people.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
CODE_LENGTH = 6
CODE_PREFIX = "R-"


def new_id() -> str:
    """32 hex chars, ordered by creation time: 48-bit milliseconds, a per-process counter, randomness."""
    millis = time.time_ns() // 1_000_000
    counter = next(_sequence) & 0xFFFF
    return f"{millis:012x}{counter:04x}{os.urandom(8).hex()}"


def new_request_code() -> str:
    return CODE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_request_code(raw: str) -> str | None:
    """Accept what a volunteer types (``r-7kq3xm``, ``7KQ3XM``); None if it cannot be a code."""
    candidate = raw.strip().upper()
    if candidate.startswith(CODE_PREFIX):
        candidate = candidate[len(CODE_PREFIX) :]
    elif len(candidate) == CODE_LENGTH + 1 and candidate.startswith("R"):
        candidate = candidate[1:]
    if len(candidate) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in candidate):
        return None
    return CODE_PREFIX + candidate
