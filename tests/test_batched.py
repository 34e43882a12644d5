"""Clean-up gathered for a moment and done in one transaction: nothing added is ever left behind."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Batched, Database


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
