"""The real services on loopback. Under CI=true a missing one fails the test; elsewhere it skips, saying why."""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    return _port_open(5432)


def redis_available() -> bool:
    return _port_open(6379)


def require_service(name: str, available: bool) -> bool:
    if available:
        return True
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{name} is not reachable on 127.0.0.1 and CI=true: .ci/run should have started it")
    pytest.skip(f"{name} is not reachable on 127.0.0.1 (start it to run this test)")
    return False
