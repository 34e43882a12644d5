"""Tropa's SQLite driver (storage/sqlite_driver.py): short statements and commits in place, a lock held by another
process waited for with the event loop free, checkpoints in aiosqlite's thread, nothing sent there that has nothing
to do."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from storage import sqlite_driver
from storage.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/driver.db")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)"))
    async with database.transaction() as session:  # the first writing commit (in the thread: it may start the WAL)
        await session.execute(text("INSERT INTO things (name) VALUES ('first')"))
        await session.execute(text("DELETE FROM things"))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls sent to aiosqlite's worker thread, by name."""
    sent: list[str] = []
    original: Callable[..., Awaitable[Any]] = aiosqlite.core.Connection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        # A statement by its text, anything else by the function's name.
        sent.append(args[1] if fn is sqlite_driver._run else getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counting)
    return sent


def hold_write_lock(path: str) -> sqlite3.Connection:
    """Another process's writer, as SQLite sees it: a connection of its own holding the write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO things (name) VALUES ('theirs')")
    return other


async def test_statements_and_the_commit_run_in_place(db: Database, trips: list[str]) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO things (name) VALUES ('a')"))
        names = list(await session.scalars(text("SELECT name FROM things")))
    assert names == ["a"]
    assert trips == []  # and no rollback when the pool takes the connection back
    async with db.transaction() as session:
        assert list(await session.scalars(text("SELECT name FROM things"))) == ["a"]  # committed


async def test_no_commit_checkpoints_and_every_so_many_commits_one_checkpoint_goes_to_the_thread(
    db: Database, tmp_path: Path, trips: list[str]
) -> None:
    async with db.transaction() as session:
        assert await session.scalar(text("PRAGMA wal_autocheckpoint")) == 0
    trips.clear()
    wal = tmp_path / "driver.db-wal"
    sizes = []
    for commit in range(1, 5 * sqlite_driver.CHECKPOINT_EVERY + 1):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO things (name) VALUES (:name)"), {"name": "x" * 2000})
        if commit % sqlite_driver.CHECKPOINT_EVERY == 0:
            sizes.append(wal.stat().st_size)
        async with db.transaction() as session:  # a transaction that only reads is not counted
            await session.scalar(text("SELECT count(*) FROM things"))
    # Five checkpoints; the only commits in the thread are those that start the WAL again after one (next test).
    assert trips.count(sqlite_driver._CHECKPOINT) == 5
    assert all(trips[at - 1] == sqlite_driver._CHECKPOINT for at, trip in enumerate(trips) if trip == "commit")
    # Each checkpoint let the WAL start again from its beginning: it stays the size of one round of commits, within
    # the thousand pages (each with its 24-byte frame header) at which SQLite's own checkpoint would have run.
    assert max(sizes) == sizes[0]
    assert sizes[0] <= 32 + 1000 * (4096 + 24)


async def test_a_lock_held_elsewhere_is_waited_for_with_the_loop_free(db: Database, tmp_path: Path) -> None:
    other = hold_write_lock(f"{tmp_path}/driver.db")
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(ticking())
    asyncio.get_running_loop().call_later(0.3, other.commit)
    try:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('ours')"))
    finally:
        ticker.cancel()
        other.close()
    assert ticks >= 10  # the loop went on serving others while the statement waited
    async with db.transaction() as session:
        assert sorted(await session.scalars(text("SELECT name FROM things"))) == ["ours", "theirs"]


async def test_a_lock_held_too_long_fails_as_before(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "BUSY_WAIT_SECONDS", 0.2)
    other = hold_write_lock(f"{tmp_path}/driver.db")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO things (name) VALUES ('ours')"))
    finally:
        other.rollback()
        other.close()
    async with db.transaction() as session:
        assert list(await session.scalars(text("SELECT name FROM things"))) == []


async def test_many_rows_at_once_go_to_the_thread(db: Database, trips: list[str]) -> None:
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("INSERT INTO things (name) VALUES (?)", [("x",), ("y",)])
    assert trips == ["INSERT INTO things (name) VALUES (?)"]


async def test_a_checkpoint_that_fails_leaves_the_commit_standing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 1)
    original = sqlite_driver._in_thread

    async def failing(adapted: Any, operation: str, *args: Any) -> Any:
        if operation == sqlite_driver._CHECKPOINT:
            raise sqlite3.OperationalError("disk I/O error")
        return await original(adapted, operation, *args)

    monkeypatch.setattr(sqlite_driver, "_in_thread", failing)
    with capture_logs() as logs:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('kept')"))
    assert [entry["event"] for entry in logs] == ["sqlite.checkpoint_failed"]
    async with db.transaction() as session:
        assert list(await session.scalars(text("SELECT name FROM things"))) == ["kept"]


async def test_the_commit_that_starts_an_emptied_wal_again_goes_to_the_thread(
    db: Database, trips: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starting the WAL again syncs its new header: after a checkpoint (every so many commits, or a shred's), the
    next writing commit is the one that waits for the disk, so it is sent to the thread; the ones after it are not."""

    async def write() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('x')"))

    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 3)
    await write()
    await write()  # with the fixture's, the third writing commit: a checkpoint follows it
    assert trips == [sqlite_driver._CHECKPOINT]
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 2)
    trips.clear()
    await write()
    await write()
    assert trips == ["commit", sqlite_driver._CHECKPOINT]
    trips.clear()
    assert await db.checkpoint_wal()  # as after a shred
    await write()
    assert trips == ["PRAGMA wal_checkpoint(TRUNCATE)", "commit"]


async def test_the_first_writing_commit_of_a_process_goes_to_the_thread(tmp_path: Path, trips: list[str]) -> None:
    """No WAL yet (the last connection of the previous process removed it): the first write creates one."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/fresh.db")
    try:
        for _ in range(2):
            async with database.transaction() as session:
                await session.execute(text("CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY)"))
                await session.execute(text("INSERT INTO things DEFAULT VALUES"))
    finally:
        await database.dispose()
    assert trips.count("commit") == 1
