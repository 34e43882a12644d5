"""Clean-up gathered for a moment and done in one transaction: nothing added is ever left behind. And what runs
after a commit: each callback within its time. And what a transaction kept for itself: gone with it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

import storage.db
from storage.db import Batched, Database, after_commit
from storage.models import Meta


async def test_what_is_added_while_a_batch_is_being_done_goes_in_the_next_one(db: Database) -> None:
    batches: list[list[str]] = []
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def work(_session: AsyncSession, items: list[str]) -> None:
        batches.append(items)
        inside.set()
        await go_on.wait()

    batched = Batched(db, work, "test", delay=0.05)
    batched.add("a")
    batched.add("b")
    await asyncio.wait_for(inside.wait(), 5)
    batched.add("c")  # the first batch's transaction is still open
    go_on.set()
    await asyncio.sleep(0.3)
    assert batches == [["a", "b"], ["c"]]


async def test_closing_does_what_is_gathered_at_once(db: Database) -> None:
    batches: list[list[int]] = []

    async def work(_session: AsyncSession, items: list[int]) -> None:
        batches.append(items)

    batched = Batched(db, work, "test", delay=60)
    batched.add(1)
    batched.add(2)
    await asyncio.wait_for(batched.close(), 1)
    assert batches == [[1, 2]]


async def test_an_after_commit_callback_that_hangs_is_given_up_and_the_next_ones_still_run(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.db, "AFTER_COMMIT_TIMEOUT", 0.05)
    ran: list[str] = []

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def quick() -> None:
        ran.append("quick")

    with capture_logs() as logs:
        async with db.transaction() as session:
            after_commit(session, hangs)
            after_commit(session, quick)
    assert ran == ["quick"]
    assert [entry["event"] for entry in logs] == ["after_commit.timeout"]


async def test_what_a_transaction_kept_for_itself_goes_with_it(db: Database) -> None:
    """Opened FSM records and unwrapped data keys live in the session's ``info``: emptied when the transaction
    ends, committed or not, even if something still holds the session."""
    kept: list[AsyncSession] = []
    async with db.transaction() as session:
        session.info["opened"] = {"key": b"plaintext"}
        kept.append(session)
    with contextlib.suppress(RuntimeError):
        async with db.transaction() as session:
            session.info["opened"] = {"key": b"plaintext"}
            kept.append(session)
            raise RuntimeError("the update failed")
    assert [dict(session.info) for session in kept] == [{}, {}]


async def test_a_transaction_closes_its_session_in_place(db: Database) -> None:
    """Committed or failed, the session is closed before the transaction returns (its objects let go, its
    connection back in the pool), without a task of its own for the close (SQLAlchemy's ``async with session``
    makes one, and every update paid for it)."""
    loop = asyncio.get_running_loop()
    tasks: list[object] = []

    def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        tasks.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    kept: list[AsyncSession] = []
    loop.set_task_factory(counting_factory)
    try:
        async with db.transaction() as session:
            kept.append(session)
            assert (await session.scalars(select(Meta))).all()  # the keyring's check value, at least
        with contextlib.suppress(RuntimeError):
            async with db.transaction() as session:
                kept.append(session)
                assert (await session.scalars(select(Meta))).all()
                raise RuntimeError("the update failed")
    finally:
        loop.set_task_factory(None)
    assert tasks == []
    assert all(len(session.sync_session.identity_map) == 0 for session in kept)
    assert all(not session.in_transaction() for session in kept)
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_cancelled_transaction_gives_back_its_connection_and_the_gate(db: Database) -> None:
    """An update cancelled inside its transaction (a shutdown, a timeout) leaves no connection checked out and no
    writer waiting: the next transaction opens at once."""
    inside = asyncio.Event()

    async def update() -> None:
        async with db.transaction() as session:
            assert (await session.scalars(select(Meta))).all()
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(update())
    await asyncio.wait_for(inside.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with asyncio.timeout(2), db.transaction() as session:
        assert (await session.scalars(select(Meta))).all()
