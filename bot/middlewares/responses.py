"""Keeps aiogram's parsed-answer types alive between calls.

aiogram reads every Bot API answer with ``Response[method.__returning__]``. pydantic caches such
parametrized generics only weakly, so after the garbage collector has run, the next call builds the
class again with its validator: several milliseconds each time, on a path every update takes. Holding a
reference to each type once it has been built keeps pydantic's cache warm.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType


class KeepResponseTypes(BaseRequestMiddleware):
    def __init__(self) -> None:
        self._kept: dict[Any, type[Response[Any]]] = {}

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._kept:
            self._kept[returning] = Response[returning]  # type: ignore[valid-type]
        return await make_request(bot, method)

    def __repr__(self) -> str:  # keeps aiogram's middleware manager happy when it lists middlewares
        return type(self).__name__
