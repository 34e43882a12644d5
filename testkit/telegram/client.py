"""Feed the world's updates to an aiogram ``Dispatcher`` in-process, the way polling would."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update

from testkit.telegram.copying import clone
from testkit.telegram.errors import Json
from testkit.telegram.world import FakeTelegram


class InProcessClient:
    """People act on ``world`` (which queues updates); ``deliver()`` hands them to ``dispatcher``.

    ``context`` is passed to every ``feed_update`` as extra handler data, next to the dispatcher's own
    ``workflow_data``. Exceptions raised by handlers propagate, so a test fails where the bot would crash.
    """

    def __init__(self, world: FakeTelegram, dispatcher: Dispatcher, bot: Bot, **context: Any) -> None:
        self.world = world
        self.dispatcher = dispatcher
        self.bot = bot
        self.context = context

    async def _feed(self, update: Json) -> Any:
        parsed = Update.model_validate(update, context={"bot": self.bot})
        return await self.dispatcher.feed_update(self.bot, parsed, **self.context)

    async def deliver(self) -> list[Json]:
        """Process every pending update in order (and any queued meanwhile); returns what was delivered."""
        delivered: list[Json] = []
        while updates := self.world.take_updates():
            for update in updates:
                await self._feed(update)
                delivered.append(update)
        return delivered

    async def deliver_again(self, update: Json) -> Any:
        """Feed an already delivered update once more, as Telegram does when a bot died before confirming."""
        return await self._feed(clone(update))
