"""What every middleware shares: the type of what it wraps, and how it answers an event itself.

The dispatcher's middlewares (bot/middlewares/) and the routers' refusal answers (handlers/refusals.py) use both.
"""

from __future__ import annotations

from aiogram.dispatcher.event.bases import NextMiddlewareType
from aiogram.types import CallbackQuery, Message, TelegramObject

# The next middleware in the chain, or the handler itself (aiogram spells it out in ``BaseMiddleware``).
Handler = NextMiddlewareType[TelegramObject]


async def answer_instead(event: TelegramObject, text: str) -> None:
    """Answer an event no handler will: a message with a message, a button press with an alert."""
    if isinstance(event, Message):
        await event.answer(text)
    elif isinstance(event, CallbackQuery):
        await event.answer(text, show_alert=True)
