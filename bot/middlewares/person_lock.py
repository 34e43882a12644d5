"""One update at a time per person, for the whole life of the update's transaction.

The lock is taken before the transaction opens and released after it commits, so the next update from
the same person reads what the previous one wrote -- on PostgreSQL too, where nothing else serialises
them. aiogram's own event isolation would release its lock inside the transaction and build its Redis
key from raw Telegram ids; this one locks on the blinded FSM key (docs/decisions/0003, 0005).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiogram import BaseMiddleware, Bot
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey
from aiogram.types import TelegramObject
from redis.asyncio import Redis
from redis.exceptions import LockError

from handlers.middleware import Handler
from storage.fsm import EncryptedStorage, storage_key_text

log = structlog.get_logger()


class PersonLockMiddleware(BaseMiddleware):
    def __init__(self, fsm: FSMContextMiddleware, storage: EncryptedStorage, isolation: BaseEventIsolation) -> None:
        self.fsm = fsm
        self.storage = storage
        self.isolation = isolation

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        bot: Bot = data["bot"]
        context = self.fsm.resolve_event_context(bot, data)
        if context is None:
            return await handler(event, data)
        async with self.isolation.lock(key=self.storage.blinded(context.key)):
            return await handler(event, data)


class RenewedRedisLocks(BaseEventIsolation):
    """Person locks shared by replicas: short-lived in Redis, renewed by their holder while it works.

    A live update keeps its lock as long as it needs; a replica killed mid-update stops renewing, and
    its lock is gone within ``ttl`` seconds -- well inside the 15 seconds Telegram gives a bot to
    answer a button press, so the person's re-delivered press is still answered.
    """

    PREFIX = "tropa:lock:"

    def __init__(self, redis: Redis, ttl: float = 5.0) -> None:
        self.redis = redis
        self.ttl = ttl

    @contextlib.asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        held = self.redis.lock(self.PREFIX + storage_key_text(key), timeout=self.ttl, sleep=0.02)
        started = time.monotonic()
        await held.acquire()
        waited = time.monotonic() - started
        if waited > self.ttl:
            log.warning("person_lock.waited", duration_ms=int(waited * 1000))
        done = asyncio.Event()
        renewing = asyncio.create_task(self._renew(held, done))
        try:
            yield
        finally:
            # Stopped between commands, never cancelled inside one: a Redis command cancelled mid-flight
            # can leave its connection out of step with the server.
            done.set()
            with contextlib.suppress(LockError):
                await renewing
            with contextlib.suppress(LockError):
                await held.release()

    async def _renew(self, held: Any, done: asyncio.Event) -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.ttl / 3)
                return
            await held.reacquire()

    async def close(self) -> None:
        return None
