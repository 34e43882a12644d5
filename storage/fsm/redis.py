"""The FSM backend of several replicas: aiogram's ``RedisStorage``, able to list and rewrite its records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from aiogram.fsm.storage.base import KeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import WatchError

from storage.fsm.base import FsmBackend, RecordChange, parse_storage_key, storage_key_text

REDIS_PREFIX = "tropa:fsm:"


class RedisKeyBuilder(KeyBuilder):
    """``tropa:fsm:<bot>:<chat>:<user>:<thread>:<business>:<destiny>:<part>``, ids already blinded."""

    def build(self, key: StorageKey, part: str | None = None) -> str:
        return f"{REDIS_PREFIX}{storage_key_text(key)}:{part or ''}"


class SweepableRedisStorage(RedisStorage, FsmBackend):
    """aiogram's RedisStorage, able to list its keys for the abandoned-intake sweep."""

    @classmethod
    def connect(cls, url: str) -> SweepableRedisStorage:
        return cls(Redis.from_url(url), key_builder=RedisKeyBuilder())

    async def keys(self, untouched_before: datetime | None = None) -> AsyncIterator[StorageKey]:
        seen: set[str] = set()
        async for raw in self.redis.scan_iter(match=f"{REDIS_PREFIX}*", count=500):
            text = (raw.decode() if isinstance(raw, bytes) else str(raw))[len(REDIS_PREFIX) :]
            key_text = text.rsplit(":", 1)[0]
            if key_text not in seen:
                seen.add(key_text)
                yield parse_storage_key(key_text)

    async def delete(self, key: StorageKey) -> None:
        await self.redis.delete(self.key_builder.build(key, "state"), self.key_builder.build(key, "data"))

    async def replace_record(self, key: StorageKey, change: RecordChange) -> bool:
        """Rewrite a record's state and data only if nobody writes them meanwhile (WATCH); the time to live
        stays as it was."""
        state_key, data_key = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(state_key, data_key)
                raw_state, raw_data = await pipe.mget(state_key, data_key)
                state = raw_state.decode() if isinstance(raw_state, bytes) else raw_state
                data = self.json_loads(raw_data) if raw_data is not None else {}
                changed = change(state, data)
                if changed is None:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                if changed[0] is not None and changed[0] != state:
                    pipe.set(state_key, changed[0], keepttl=True)
                if changed[1] is not None and changed[1] != data:
                    pipe.set(data_key, self.json_dumps(changed[1]), keepttl=True)
                await pipe.execute()
                return True
            except WatchError:
                return False  # written meanwhile: by a process sealing with the current key

    async def get_record(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        """State and data in one round trip, read as ``get_state`` and ``get_data`` would."""
        state, data = await self.redis.mget(self.key_builder.build(key, "state"), self.key_builder.build(key, "data"))
        if isinstance(state, bytes):
            state = state.decode()
        return state, (self.json_loads(data) if data is not None else {})

    async def set_record(self, key: StorageKey, state: str | None, data: Mapping[str, Any]) -> None:
        """State and data together, in one round trip and atomically (``MULTI``), as ``set_state`` and
        ``set_data`` would write them."""
        state_key, data_key = self.key_builder.build(key, "state"), self.key_builder.build(key, "data")
        async with self.redis.pipeline(transaction=True) as pipe:
            if state is None:
                pipe.delete(state_key)
            else:
                pipe.set(state_key, state, ex=self.state_ttl)
            if data:
                pipe.set(data_key, self.json_dumps(dict(data)), ex=self.data_ttl)
            else:
                pipe.delete(data_key)
            await pipe.execute()
