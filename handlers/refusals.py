"""One answer for every refusal: a use case's ``Refused`` (services/errors.py), a command without the case code
it needs (``CaseCode`` in handlers/filters.py), a button on an earlier question (``LivePrompt``).

A router middleware, so it runs inside the update's transaction (bot/middlewares/transaction.py), around the
router's filters as well as its handlers: a filter that finds no code refuses the same way a use case does.
The transaction commits as usual afterwards: a use case refuses before it writes (services/errors.py), so
nothing half-done is in it. A message is answered with a message, a button press with an alert.
"""

from __future__ import annotations

from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import CallbackQuery, TelegramObject

from handlers.middleware import Handler, answer_instead
from services.errors import Refused
from views.errors import error_text, stale_button, usage


class MissingArgument(Exception):
    """A command came without what it needs; ``usage`` says how it is written (``/close CODE``)."""

    def __init__(self, usage: str) -> None:
        super().__init__(usage)
        self.usage = usage


class StaleButton(Exception):
    """A button pressed on a message that is no longer the live one: answered, and nothing else happens."""


class RefusalAnswers(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except StaleButton:
            if isinstance(event, CallbackQuery):
                await event.answer(stale_button())
            return None
        except MissingArgument as missing:
            text = usage(missing.usage)
        except Refused as refused:
            text = error_text(refused.reason)
        await answer_instead(event, text)
        return None


def answer_refusals(router: Router) -> Router:
    refusals = RefusalAnswers()
    router.message.outer_middleware(refusals)
    router.callback_query.outer_middleware(refusals)
    return router
