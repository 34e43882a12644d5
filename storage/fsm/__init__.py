"""FSM storage, laid out like aiogram's ``fsm/storage/``.

- ``base``: the key as text, and ``FsmBackend``: what the sealing wrapper asks of a backend.
- ``database``: ``DatabaseStorage``, records in the ``fsm_state`` table (one box).
- ``redis``: ``SweepableRedisStorage`` and its ``RedisKeyBuilder`` (several replicas).
- ``journal``: ``fsm_state`` rows as the journal of writes a Redis backend is about to get.
- ``encrypted``: ``EncryptedStorage``, the storage the dispatcher gets: blinds keys and seals values for a
  backend, holds Redis writes back until the update commits, reseals at a key roll.

Imports run one way: ``encrypted`` -> ``journal`` -> ``base``; ``database`` and ``redis`` -> ``base``.
"""

from storage.fsm.base import FsmBackend, parse_storage_key, storage_key_text
from storage.fsm.database import DatabaseStorage
from storage.fsm.encrypted import FSM_DOMAIN, EncryptedStorage, FsmEntry
from storage.fsm.redis import REDIS_PREFIX, RedisKeyBuilder, SweepableRedisStorage

__all__ = [
    "FSM_DOMAIN",
    "REDIS_PREFIX",
    "DatabaseStorage",
    "EncryptedStorage",
    "FsmBackend",
    "FsmEntry",
    "RedisKeyBuilder",
    "SweepableRedisStorage",
    "parse_storage_key",
    "storage_key_text",
]
