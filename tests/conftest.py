"""Shared fixtures: keyrings, databases on SQLite and on the real PostgreSQL, Redis, a moving clock."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage import clock
from storage.db import Database
from storage.keyring import Keyring
from storage.vault import Vault
from tests.support import lock
from tests.support.harness import Harness, start_harness
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    postgres_available,
    redis_available,
    require_service,
)


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
def vault(keyring: Keyring) -> Vault:
    return Vault(keyring)


@pytest.fixture(scope="session")
def postgres_ready() -> bool:
    return require_service("PostgreSQL", postgres_available())


@pytest.fixture(scope="session")
def redis_ready() -> bool:
    return require_service("Redis", redis_available())


def _admin(statement: str) -> None:
    """Run one statement on the maintenance database, from a thread of its own (no loop is borrowed)."""
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture
def postgres_url(postgres_ready: bool) -> Iterator[str]:
    """A fresh, empty database on the real PostgreSQL, dropped afterwards."""
    name = f"tropa_t_{secrets.token_hex(6)}"
    _admin(f'CREATE DATABASE "{name}"')
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tropa.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(database_url: str, keyring: Keyring) -> AsyncIterator[Database]:
    """A migrated database bound to ``keyring``."""
    from storage import migrate
    from storage.binding import bind_or_verify

    database = Database(database_url)
    await migrate.upgrade(database)
    async with database.transaction() as session:
        await bind_or_verify(session, keyring)
    yield database
    await database.dispose()


@pytest.fixture
def redis_url(redis_ready: bool) -> str:
    return REDIS_URL


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Under CI (or -v) one line per installed package, so a failing run shows what it ran against."""
    header = [f"CI={os.environ.get('CI', '')!r}: a missing PostgreSQL or Redis is a failure when CI=true"]
    header += [f"NOT AS LOCKED: {line}" for line in lock.not_as_locked()]
    if os.environ.get("CI") or config.get_verbosity() > 0:
        header += [f"installed: {name}=={version}" for name, version in sorted(lock.installed().items())]
    return header


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot on SQLite in a fresh data directory."""
    running = await start_harness(tmp_path / "data")
    yield running
    await running.close()


@pytest.fixture
async def harness_any_db(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """The bot on SQLite and, in a second run, on the real PostgreSQL."""
    running = await start_harness(tmp_path / "data", database_url=database_url)
    yield running
    await running.close()
