"""Telegram's sending limits, for the bot as a whole: about 30 messages a second overall, about one a
second per chat, twenty a minute per group. Several replicas share one limiter in Redis, so three
replicas do not earn three times the 429s. Chat ids never reach Redis: keys use a blind index.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

# Counted over 1.1 s rather than 1 s: the margin absorbs the jitter between the moment a sender is
# allowed and the moment Telegram receives the message.
GLOBAL_WINDOW_MS = 1100


@dataclass(frozen=True)
class Limits:
    per_second: int = 30  # for the whole bot
    private_interval: float = 1.0  # seconds between messages to one private chat
    group_interval: float = 3.0  # seconds between messages to one group (20 a minute)

    def interval(self, chat_id: int) -> float:
        return self.group_interval if chat_id < 0 else self.private_interval


class SendLimiter(Protocol):
    async def acquire(self, chat_id: int) -> float:
        """Wait out the bot-wide limit, then take a slot for ``chat_id`` and return 0 -- or, if that chat
        is still busy, take nothing and return the seconds until it is free (the caller defers only that
        chat's messages, so one busy group does not hold up everyone else)."""


class NoLimits:
    async def acquire(self, chat_id: int) -> float:
        return 0.0


class MemoryLimiter:
    """One process: a sliding second for the global rate, a next-allowed time per chat."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._sent: list[float] = []
        self._next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, chat_id: int) -> float:
        async with self._lock:
            while True:
                now = time.monotonic()
                chat_wait = self._next.get(chat_id, 0.0) - now
                if chat_wait > 0:
                    return chat_wait
                self._sent = [t for t in self._sent if t > now - GLOBAL_WINDOW_MS / 1000]
                if len(self._sent) >= self.limits.per_second:
                    await asyncio.sleep(self._sent[0] + GLOBAL_WINDOW_MS / 1000 - now)
                    continue
                self._sent.append(now)
                self._next[chat_id] = now + self.limits.interval(chat_id)
                if len(self._next) > 50_000:
                    self._next = {c: t for c, t in self._next.items() if t > now}
                return 0.0


# Atomic on the Redis server, on the server's clock (replicas' clocks may differ): a sliding one-second
# window of sends for the whole bot, and a per-chat key that lives for the chat's interval.
# Returns 0 when the caller may send now; a negative number is how many milliseconds that chat is still
# busy, a positive one how long the whole bot must wait before asking again.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local window, limit, interval = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local chat_wait = redis.call('PTTL', KEYS[2])
if chat_wait > 0 then return -chat_wait end
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return math.max(1, oldest + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window * 2)
if interval > 0 then redis.call('SET', KEYS[2], '1', 'PX', interval) end
return 0
"""


class RedisLimiter:
    """All replicas: one sliding window for the whole bot and a short-lived key per chat, in Redis."""

    PREFIX = "tropa:rate:"

    def __init__(self, redis: Redis, limits: Limits, blind: Callable[[str, int], str]) -> None:
        self.redis = redis
        self.limits = limits
        self.blind = blind
        self._acquire = redis.register_script(_ACQUIRE)

    async def acquire(self, chat_id: int) -> float:
        keys = [f"{self.PREFIX}global", f"{self.PREFIX}chat:{self.blind('rate', chat_id)[:32]}"]
        interval_ms = int(self.limits.interval(chat_id) * 1000)
        while True:
            member = uuid.uuid4().hex
            answer = int(
                await self._acquire(keys=keys, args=[GLOBAL_WINDOW_MS, self.limits.per_second, interval_ms, member])
            )
            if answer == 0:
                return 0.0
            if answer < 0:
                return -answer / 1000
            await asyncio.sleep(answer / 1000)
