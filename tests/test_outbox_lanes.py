"""The outbox's lanes: one recipient's messages in order, and a busy chat never holds up the others."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.methods import SendMessage, TelegramMethod

from bot.delivery import OutboxSender
from services.context import Services
from services.events import Events
from services.hygiene import enqueue_chat_deletes
from services.notices import Method
from services.policy import Policy
from services.ratelimit import Limits, MemoryLimiter
from services.recipients import Target
from storage import clock
from storage.db import Database
from storage.outbox import Outbox
from storage.vault import Vault
from testkit.telegram import FakeTelegram, RecordingSession
from tests.support.harness import TOKEN, harness_with


class PlainRenderer:
    def render(self, payload: dict[str, Any], target: Target) -> TelegramMethod[Any]:
        return SendMessage(chat_id=target.chat_id, text=payload["text"])

    def render_album(self, payloads: list[dict[str, Any]], target: Target) -> TelegramMethod[Any]:
        raise NotImplementedError


async def _put(db: Database, vault: Vault, chat_id: int, texts: list[str]) -> None:
    async with db.transaction() as session:
        for text in texts:
            await Services(session, vault, Policy(), Events()).outbox.put(
                recipient="chat", purpose="test", payload={"kind": "plain", "chat_id": chat_id, "text": text}
            )


async def test_a_busy_group_does_not_hold_up_private_chats(db: Database, vault: Vault) -> None:
    world = FakeTelegram(token=TOKEN)
    group = world.group(-100200300, "Volunteers")
    alice = world.person(1001, started=True)
    await _put(db, vault, group.id, ["card 1", "card 2", "card 3"])
    await _put(db, vault, alice.id, ["your request is sent"])
    limiter = MemoryLimiter(Limits(per_second=30, private_interval=1.0, group_interval=60.0))
    sender = OutboxSender(
        db, vault, Policy(), Events(), Bot(TOKEN, session=RecordingSession(world)), PlainRenderer(), limiter
    )
    assert await sender.drain() == 2  # the first card, and the private message queued after all three cards
    assert group.texts() == ["card 1"]  # the group's next cards wait their turn, in order
    assert alice.texts() == ["your request is sent"]


async def test_one_recipients_messages_keep_their_order_across_failures(db: Database, vault: Vault) -> None:
    world = FakeTelegram(token=TOKEN)
    alice = world.person(1001, started=True)
    await _put(db, vault, alice.id, [f"message {n}" for n in range(5)])
    world.inject(method="sendMessage", kind="500", times=1)
    sender = OutboxSender(db, vault, Policy(), Events(), Bot(TOKEN, session=RecordingSession(world)), PlainRenderer())
    await sender.drain()
    assert alice.texts() == []  # the head failed once: the rest of the lane waits behind it
    clock.travel(timedelta(seconds=5))
    await sender.drain()
    assert alice.texts() == [f"message {n}" for n in range(5)]


async def test_a_dead_processs_unsettled_edits_do_not_hold_the_persons_lane(tmp_path: Path) -> None:
    """A process killed before it settled its sent edits leaves them leased; once the leases run out another
    sender repeats them (at least once), and they go at once like any update's effect: the chat's clean-up
    queued behind them is not paced a second per repeat."""
    async with harness_with(tmp_path, send_per_second=30) as h:
        person = h.person(1001)
        await person.send("/start")
        async with h.runtime.db.transaction() as session:
            services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
            for gone in range(900, 910):  # a quick person's presses, their questions long replaced
                edit = {"chat_id": person.id, "message_id": gone, "text": "an earlier screen"}
                leased = clock.now() + timedelta(seconds=15)  # as store_effect leases it, to the dead process
                await services.outbox.put(
                    Method(method="EditMessageText", params=edit, chat_id=person.id), lease=leased
                )
            await enqueue_chat_deletes(services, person.id, [1], "en")
        clock.travel(timedelta(seconds=16))
        await h.app.sender.drain()
        assert 1 in person.deleted_ids()
        assert len([c for c in h.world.calls_of("editMessageText") if not c.ok]) == 10  # each repeated once


async def test_only_what_this_process_does_not_send_itself_wakes_the_sender(db: Database, vault: Vault) -> None:
    """An update's edit is leased to the process that made it and sent by it after the commit: ringing the sender
    for it cost every update a round that finds nothing due. A message for the sender to take still rings it."""
    edit = Method(method="EditMessageText", params={"chat_id": 1001, "message_id": 5, "text": "next"}, chat_id=1001)
    async with db.transaction() as session:
        await Services(session, vault, Policy(), Events()).outbox.put(edit, lease=clock.now() + timedelta(seconds=15))
        assert not Outbox.queued_in(session)
    async with db.transaction() as session:
        await Services(session, vault, Policy(), Events()).outbox.put(
            recipient="chat", purpose="test", payload={"kind": "plain", "chat_id": 1001, "text": "hello"}
        )
        assert Outbox.queued_in(session)


async def test_settling_sent_edits_wakes_the_sender_for_what_waited_behind_them(tmp_path: Path) -> None:
    """The chat's clean-up queued behind an update's edit in its lane goes as soon as the edit is sent and its row
    removed, not at the sender's next round (here a minute away)."""
    async with harness_with(tmp_path, send_per_second=30) as h:
        person = h.person(1001)
        await person.send("/start")
        async with h.runtime.db.transaction() as session:
            services = Services(session, h.runtime.vault, h.app.policy, h.app.events)
            edit = {"chat_id": person.id, "message_id": 900, "text": "an earlier screen"}
            sent = await h.app.sender.store_effect(session, "EditMessageText", edit, person.id)
            await enqueue_chat_deletes(services, person.id, [1], "en")
        rounds = asyncio.create_task(h.app.sender.run(interval=60))
        try:
            await asyncio.sleep(0.3)  # its first round: the clean-up waits behind the edit, which is leased
            assert 1 not in person.deleted_ids()
            await h.app.sender.deliver_now(sent)  # as after the update's commit; the row goes 0.2 s later
            await h.world.wait_for(lambda: 1 in person.deleted_ids(), 5)
        finally:
            rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rounds
