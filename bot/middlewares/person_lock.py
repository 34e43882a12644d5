"""One update at a time per person, for the whole life of the update's transaction.

The lock is taken before the transaction opens and released after it commits, so the next update from
the same person reads what the previous one wrote -- on PostgreSQL too, where nothing else serialises
them. aiogram's own event isolation would release its lock inside the transaction and build its Redis
key from raw Telegram ids; this one locks on the blinded FSM key (docs/decisions/0003, 0005).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.types import TelegramObject

from storage.fsm import EncryptedStorage


class PersonLockMiddleware(BaseMiddleware):
    def __init__(self, fsm: FSMContextMiddleware, storage: EncryptedStorage, isolation: BaseEventIsolation) -> None:
        self.fsm = fsm
        self.storage = storage
        self.isolation = isolation

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        bot: Bot = data["bot"]
        context = self.fsm.resolve_event_context(bot, data)
        if context is None:
            return await handler(event, data)
        async with self.isolation.lock(key=self.storage.blinded(context.key)):
            return await handler(event, data)
