"""Requesters who flood are answered once, politely, and then ignored until the minute passes.

Volunteers are not throttled: a relay conversation can be fast. Counting is per blinded user, in
memory (one process) -- a shared limiter is a multi-replica concern.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

log = structlog.get_logger()
WINDOW_SECONDS = 60.0


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(self, per_minute: int, blind: Callable[[str, int], str]) -> None:
        self.per_minute = per_minute
        self.blind = blind
        self._hits: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    def _over_limit(self, who: str, now: float) -> bool:
        hits = self._hits.setdefault(who, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return True
        hits.append(now)
        if len(self._hits) > 10_000:  # forget people who went quiet, so memory stays bounded
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - WINDOW_SECONDS]:
                self._hits.pop(key, None)
                self._warned.pop(key, None)
        return False

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or data.get("volunteer") is not None:
            return await handler(event, data)
        who = self.blind("throttle", user.id)
        now = time.monotonic()
        if not self._over_limit(who, now):
            self._warned.pop(who, None)
            return await handler(event, data)
        log.info("requester.throttled")
        if who not in self._warned:
            self._warned[who] = now
            text = _("You are sending messages very fast. Please wait a minute, then go on.")
            if isinstance(event, Message):
                await event.answer(text)
            elif isinstance(event, CallbackQuery):
                await event.answer(text, show_alert=True)
        elif isinstance(event, CallbackQuery):
            await event.answer()
        return None
