"""The smallest aiogram polling bot, for the start-up comparison of bench/startup.py: a Dispatcher with one
echo handler, long polling the Bot API at ``BOT_API_BASE`` with ``BOT_TOKEN``. Stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["BOT_API_BASE"]))
    bot = Bot(token=os.environ["BOT_TOKEN"], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer("ok")

    await dispatcher.start_polling(bot, polling_timeout=1)


if __name__ == "__main__":
    asyncio.run(main())
