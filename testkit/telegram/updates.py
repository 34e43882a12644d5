"""``getUpdates``: long polling over the queue people fill, with Telegram's confirmations and conflicts."""

from __future__ import annotations

import asyncio

from testkit.telegram.copying import clone
from testkit.telegram.errors import ApiError, Json
from testkit.telegram.params import Params
from testkit.telegram.state import WorldState

# Update types delivered when getUpdates never named any (Telegram's default excludes these three).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


def _allowed(world: WorldState, update: Json) -> bool:
    kind = next(key for key in update if key != "update_id")
    if world.allowed_updates is None:
        return kind not in _NOT_BY_DEFAULT
    return kind in world.allowed_updates


async def get_updates(world: WorldState, p: Params) -> list[Json]:
    """Confirm what ``offset`` confirms, then answer with what is pending, waiting up to ``timeout``."""
    if world.webhook.url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = p.integer("offset") or 0
    limit = min(max(p.integer("limit") or 100, 1), 100)
    timeout = max(p.integer("timeout") or 0, 0)
    allowed = p.decoded("allowed_updates")
    if isinstance(allowed, list):
        world.allowed_updates = set(allowed) or None
    if offset > 0:
        world.pending = [u for u in world.pending if u["update_id"] >= offset]
    elif offset < 0:
        world.pending = world.pending[offset:]
    world.poll_generation += 1
    generation = world.poll_generation
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if generation != world.poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            )
        world.pending = [u for u in world.pending if _allowed(world, u)]
        batch = world.pending[:limit]
        remaining = deadline - loop.time()
        if batch or remaining <= 0 or world.closed:
            return clone(batch)
        await world.wait_change(remaining)
