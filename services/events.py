"""Domain events, delivered to subscribers inside the transaction that raised them.

A subscriber writes with the same session (the outbox, counters), so an event and its consequences
commit together or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.requests import RequestRecord

if TYPE_CHECKING:
    from services.context import Services


@dataclass(frozen=True)
class RequestSubmitted:
    request: RequestRecord
    coarse_answers: dict[str, Any]


Subscriber = Callable[["Services", Any], Awaitable[None]]


class Events:
    def __init__(self) -> None:
        self._subscribers: dict[type, list[Subscriber]] = defaultdict(list)

    def subscribe(self, event_type: type, subscriber: Subscriber) -> None:
        self._subscribers[event_type].append(subscriber)

    async def emit(self, services: Services, event: object) -> None:
        for subscriber in self._subscribers[type(event)]:
            await subscriber(services, event)
