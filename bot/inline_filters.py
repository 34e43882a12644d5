"""Magic filters and FSM states checked in place, not in a worker thread.

aiogram calls a filter that is not a coroutine function through ``asyncio.to_thread``, so that a blocking
filter cannot stall the event loop. A magic filter (``F.chat.type == ChatType.PRIVATE``, ``F.text``) reads
attributes of the event and compares them, and a ``State`` given as a filter (``Intake.language``) compares
two strings: the trip to a thread and back costs far more than either, and a requester's button press
passed nine of them on its way through the routers. Those two kinds are wrapped here as coroutine
functions once the routers are built; any other filter is left as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.fsm.state import State


def check_filters_in_place(root: Router) -> int:
    """Every such filter of ``root`` and the routers under it, on handlers and on observers; returns how many."""
    changed = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in (observer._handler, *observer.handlers):
                for event_filter in handler.filters or ():
                    if not event_filter.awaitable and _pure(event_filter):
                        event_filter.callback = _in_place(event_filter.callback)
                        event_filter.awaitable = True
                        changed += 1
    return changed


def _pure(event_filter: FilterObject) -> bool:
    return event_filter.magic is not None or isinstance(event_filter.callback, State)


def _in_place(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    # aiogram already read the filter's parameters from the original callable; it passes the same ones here.
    async def in_place(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return in_place
