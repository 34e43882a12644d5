"""Requesters who flood are answered once, politely, and then ignored until the minute passes.

Volunteers are not throttled: a relay conversation can be fast. Counting is per blinded user, in
memory (one process) -- a shared limiter is a multi-replica concern.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, TelegramObject, User
from redis.asyncio import Redis

from handlers.middleware import Handler, answer_instead
from views.requester import too_fast

log = structlog.get_logger()
WINDOW_SECONDS = 60.0


class HitCounter(Protocol):
    async def hit(self, who: str) -> tuple[int, bool]:
        """Count one event for ``who`` in the current minute; returns (events so far, first over the limit
        to be told)."""


class MemoryCounter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._warned: set[str] = set()

    async def hit(self, who: str) -> tuple[int, bool]:
        now = time.monotonic()
        hits = self._hits.setdefault(who, deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        if not hits:
            self._warned.discard(who)
        hits.append(now)
        if len(self._hits) > 10_000:  # forget people who went quiet, so memory stays bounded
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - WINDOW_SECONDS]:
                self._hits.pop(key, None)
                self._warned.discard(key)
        over = len(hits) > self.per_minute
        tell = over and who not in self._warned
        if tell:
            self._warned.add(who)
        return len(hits), tell


class RedisCounter:
    """Shared by replicas: a counter per person and minute; ``who`` is already a blind index."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    async def hit(self, who: str) -> tuple[int, bool]:
        key = f"tropa:throttle:{who}:{int(time.time() // WINDOW_SECONDS)}"
        count = int(await self.redis.incr(key))
        if count == 1:
            await self.redis.expire(key, int(WINDOW_SECONDS) * 2)
        return count, count == self.per_minute + 1


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(self, counter: HitCounter, per_minute: int, blind: Callable[[str, int], str]) -> None:
        self.counter = counter
        self.per_minute = per_minute
        self.blind = blind

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or data.get("volunteer") is not None:
            return await handler(event, data)
        count, tell = await self.counter.hit(self.blind("throttle", user.id)[:32])
        if count <= self.per_minute:
            return await handler(event, data)
        log.info("requester.throttled")
        if tell:
            await answer_instead(event, too_fast())
        elif isinstance(event, CallbackQuery):
            await event.answer()
        return None
