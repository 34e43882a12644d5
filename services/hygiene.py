"""Volunteer-side hygiene: when a case leaves a volunteer, what the bot showed them about it goes too.

Telegram lets a bot delete messages in a private chat for 48 hours; after that the bot can still edit
its own messages, so those are edited down to one neutral line. The volunteer's own messages older
than 48 hours are out of reach -- the README tells volunteers to clear their chats.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from storage import clock
from storage.requests import RequestRecord

if TYPE_CHECKING:
    from services.context import Services

DELETABLE_FOR = timedelta(hours=47)  # an hour of margin under Telegram's 48 for the outbox to act
DELETE_BATCH = 100


async def clear_volunteer_view(s: Services, request: RequestRecord, volunteer_id: str, reason: str) -> int:
    """Queue the removal of everything shown to ``volunteer_id`` about ``request``; returns how many.

    The outbox rows belong to no request (sealed under the ephemeral key), so they survive the request's
    shredding when this runs just before it.
    """
    shown = await s.shown.for_request(request.id, audience="volunteer", volunteer_id=volunteer_id)
    if not shown:
        return 0
    cutoff = clock.now() - DELETABLE_FOR
    deletable = sorted({m.message_id for m in shown if m.sent_at > cutoff})
    for start in range(0, len(deletable), DELETE_BATCH):
        await s.outbox.put(
            recipient="volunteer",
            volunteer_id=volunteer_id,
            purpose="hygiene",
            payload={"kind": "delete", "message_ids": deletable[start : start + DELETE_BATCH]},
        )
    for old in (m for m in shown if m.sent_at <= cutoff and m.kind != "own"):
        await s.outbox.put(
            recipient="volunteer",
            volunteer_id=volunteer_id,
            purpose="hygiene",
            payload={
                "kind": "neutralize",
                "message_id": old.message_id,
                "media": old.kind.endswith("_media"),
                "code": request.code,
                "reason": reason,
            },
        )
    await s.shown.forget([m.id for m in shown])
    return len(shown)
