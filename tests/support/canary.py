"""Canaries: unique strings planted in what people type, then searched for in every place data rests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from pathlib import Path


def canary(label: str = "canary") -> str:
    return f"{label}-{uuid.uuid4().hex}"


def encodings(secret: str) -> list[bytes]:
    """The ways a string can sit in bytes: UTF-8, UTF-16 (either order), JSON-escaped, any case."""
    forms = {secret, secret.lower(), secret.upper(), json.dumps(secret)[1:-1]}
    found: list[bytes] = []
    for form in forms:
        found += [form.encode("utf-8"), form.encode("utf-16-le"), form.encode("utf-16-be")]
    return found


def find_in_bytes(blob: bytes, secrets: Iterable[str]) -> list[str]:
    lowered = blob.lower()
    hits = []
    for secret in secrets:
        if any(form in blob or form.lower() in lowered for form in encodings(secret)):
            hits.append(secret)
    return hits


def scan_directory(directory: Path, secrets: Iterable[str]) -> dict[str, list[str]]:
    """Every file under ``directory`` (database, WAL, shared memory, backups) that holds a canary."""
    secrets = list(secrets)
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            hits = find_in_bytes(path.read_bytes(), secrets)
            if hits:
                found[str(path)] = hits
    return found
