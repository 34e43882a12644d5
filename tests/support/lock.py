"""The lock files (requirements/*.txt) read back: what a fresh machine installs, to compare with what is here."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements"
TEST_LOCK = REQUIREMENTS / "test.txt"
RUNTIME_LOCK = REQUIREMENTS / "runtime.txt"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, set[str]]:
    """name -> the versions the lock allows (two only where a marker splits them by Python version)."""
    found: dict[str, set[str]] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            found.setdefault(canonical(match[1]), set()).add(match[2])
    return found


def installed() -> dict[str, str]:
    return {canonical(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}


def not_as_locked(lock: Path = TEST_LOCK) -> list[str]:
    """Installed packages whose version the lock does not pin, as readable lines."""
    pinned = pins(lock)
    return [
        f"{name}=={version} (the lock pins {' or '.join(sorted(pinned[name]))})"
        for name, version in sorted(installed().items())
        if name in pinned and version not in pinned[name]
    ]
