"""The outbox's lanes: one recipient's messages in order, and a busy chat never holds up the others."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.methods import SendMessage, TelegramMethod

from bot.delivery import OutboxSender
from services.context import Services
from services.events import Events
from services.policy import Policy
from services.ratelimit import Limits, MemoryLimiter
from services.recipients import Target
from storage import clock
from storage.db import Database
from storage.vault import Vault
from testkit.telegram import FakeTelegram, RecordingSession
from tests.support.harness import TOKEN


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
