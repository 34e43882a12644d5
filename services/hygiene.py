"""Volunteer-side hygiene: when a case leaves someone, what the bot showed them about it goes too.

Telegram lets a bot delete messages in a private chat for 48 hours; after that the bot can still edit
its own messages, so those are edited down to one neutral line. The volunteer's own messages older
than 48 hours are out of reach -- the README tells volunteers to clear their chats.

A removal is decided in the transaction that ends the access (close, release, transfer, lease expiry,
revocation, /forget), as outbox rows of its own: they belong to no request (sealed under the ephemeral
key), so they survive the request's shredding, and they are delivered even to someone no longer on the team
(services/recipients.py), since they only take something away. A removal that waited past the 48 hours
(an outage, a flood wait) is turned into edits when it is finally sent (``overdue``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from services.notices import Delete, Neutralize, Notice
from storage import clock
from storage.kinds import Recipient
from storage.requests import RequestRecord
from storage.shown import Shown

if TYPE_CHECKING:
    from services.context import Services

DELETABLE_FOR = timedelta(hours=47)  # an hour of margin under Telegram's 48 for the outbox to act
INSPECTION_LASTS = timedelta(hours=1)  # a coordinator's look at a case they do not hold
DELETE_BATCH = 100  # Telegram's deleteMessages takes 1 to 100 ids
T = TypeVar("T")
CARD_KINDS = frozenset({"card", "retired_card"})  # triage cards: what every volunteer may see
OWN = "own"  # the volunteer's own message: deletable for 48 hours, never editable by the bot


@dataclass(frozen=True)
class Chat:
    """Whose chat a shown message is in: a volunteer's private chat, or the volunteers' group."""

    audience: Recipient
    volunteer_id: str | None


@dataclass(frozen=True)
class Report:
    """Who is told if a removal cannot be delivered (the admin who revoked someone), and about whom."""

    to: str
    name: str


def batches(items: Sequence[T], size: int = DELETE_BATCH) -> Iterator[list[T]]:
    """``items`` in runs of at most ``size``: one deleteMessages call each."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def deletion_batches(message_ids: Iterable[int]) -> Iterator[list[int]]:
    """Message ids, each once and in order, in runs one deleteMessages call takes."""
    return batches(sorted({int(message_id) for message_id in message_ids}))


def _target(shown: Shown) -> Chat:
    return Chat(Recipient.GROUP if shown.audience == "group" else Recipient.VOLUNTEER, shown.volunteer_id)


def _entry(shown: Shown, code: str) -> dict[str, Any]:
    return {
        "id": shown.message_id,
        "at": shown.sent_at.isoformat(),
        "media": shown.kind.endswith("_media"),
        "code": code,
        "editable": shown.kind != OWN,
    }


def _neutralize(entry: dict[str, Any], reason: str, report: Report | None = None) -> Neutralize:
    return Neutralize(
        message_id=int(entry["id"]),
        media=bool(entry["media"]),
        code=str(entry["code"]),
        reason=reason,
        report_to=report.to if report else None,
        name=report.name if report else None,
    )


async def scrub(s: Services, shown: list[tuple[Shown, str]], reason: str, *, report: Report | None = None) -> int:
    """Queue the removal of ``shown`` (each with its request code) and forget the rows; returns how many.

    Messages young enough are deleted (in batches per chat), older ones the bot wrote are edited down to
    one line naming the request and ``reason``."""
    if not shown:
        return 0
    cutoff = clock.now() - DELETABLE_FOR
    by_chat: dict[Chat, list[dict[str, Any]]] = defaultdict(list)
    for item, code in shown:
        if item.audience == "requester":
            continue
        by_chat[_target(item)].append(_entry(item, code))
    for chat, entries in by_chat.items():
        young = [e for e in entries if datetime.fromisoformat(e["at"]) > cutoff]
        young = sorted({e["id"]: e for e in young}.values(), key=lambda e: e["id"])
        for batch in batches(young):
            removal: Notice = Delete(
                message_ids=[e["id"] for e in batch],
                entries=batch,
                reason=reason,
                report_to=report.to if report else None,
                name=report.name if report else None,
            )
            await s.outbox.put(removal, recipient=chat.audience, volunteer_id=chat.volunteer_id)
        for entry in entries:
            if datetime.fromisoformat(entry["at"]) <= cutoff and entry["editable"]:
                removal = _neutralize(entry, reason, report)
                await s.outbox.put(removal, recipient=chat.audience, volunteer_id=chat.volunteer_id)
    await s.shown.forget([item.id for item, _ in shown])
    return len(shown)


def overdue(payload: dict[str, Any], now: datetime) -> tuple[Delete | None, list[Neutralize]] | None:
    """For a deletion sent late: the deletion of what is still deletable (None if nothing is) and the edits
    that replace the rest, or None if every message is still young enough (the deletion goes out as it is).
    Both tell the same admin as the late deletion if they fail."""
    if payload.get("kind") != Delete.kind:
        return None
    late_deletion = Delete.from_payload(payload)
    entries = late_deletion.entries
    if not entries:
        return None
    cutoff = now - DELETABLE_FOR
    late = [e for e in entries if datetime.fromisoformat(e["at"]) <= cutoff]
    if not late:
        return None
    young = [e for e in entries if datetime.fromisoformat(e["at"]) > cutoff]
    report = Report(late_deletion.report_to, late_deletion.name or "—") if late_deletion.report_to else None
    reason = late_deletion.reason or "closed"
    edits = [_neutralize(e, reason, report) for e in late if e.get("editable", True)]
    deletion = replace(late_deletion, message_ids=[int(e["id"]) for e in young], entries=young) if young else None
    return deletion, edits


async def _with_codes(s: Services, shown: list[Shown], known: RequestRecord | None = None) -> list[tuple[Shown, str]]:
    codes: dict[str, str] = {known.id: known.code} if known else {}
    paired = []
    for item in shown:
        if item.request_id not in codes:
            record = await s.requests.by_id(item.request_id)
            codes[item.request_id] = record.code if record else "—"
        paired.append((item, codes[item.request_id]))
    return paired


async def clear_volunteer_view(s: Services, request: RequestRecord, volunteer_id: str, reason: str) -> int:
    """Everything shown to ``volunteer_id`` about ``request``: their access to it ends."""
    shown = await s.shown.for_request(request.id, audience="volunteer", volunteer_id=volunteer_id)
    return await scrub(s, await _with_codes(s, shown, request), reason)


async def clear_other_views(s: Services, request: RequestRecord, reason: str, *, keep: str | None) -> int:
    """Case details shown to anyone but ``keep`` (a coordinator's inspection, a stray copy); triage cards,
    which every volunteer may see, stay."""
    shown = [
        item
        for item in await s.shown.for_request(request.id, audience="volunteer")
        if item.volunteer_id != keep and item.kind not in CARD_KINDS
    ]
    return await scrub(s, await _with_codes(s, shown, request), reason)


async def clear_everywhere(s: Services, request: RequestRecord, reason: str) -> int:
    """Everything shown to anyone on the team about ``request``, triage cards in the group included."""
    shown = [item for item in await s.shown.for_request(request.id) if item.audience != "requester"]
    return await scrub(s, await _with_codes(s, shown, request), reason)


async def clear_person(s: Services, volunteer_id: str, reason: str, *, report: Report | None = None) -> int:
    """Everything the bot ever showed ``volunteer_id`` about any request (a revocation)."""
    shown = await s.shown.for_volunteer(volunteer_id)
    return await scrub(s, await _with_codes(s, shown), reason, report=report)


async def clear_stray_views(s: Services) -> int:
    """The safety net behind every change of hands: a case message in the chat of someone who does not hold
    the case (a coordinator's inspection, chiefly) is removed once it is an hour old at most."""
    stray = await s.shown.stray_before(clock.now() - INSPECTION_LASTS, CARD_KINDS)
    return await scrub(s, await _with_codes(s, stray), "inspection_over")


async def enqueue_chat_deletes(services: Services, chat_id: int, message_ids: list[int], locale: str) -> None:
    """Delete messages from a person's chat through the outbox, as rows of no request (the ephemeral key):
    they outlive a shred of the request they were about (an intake swept, a /forget before they went out)."""
    for batch in deletion_batches(message_ids):
        await services.outbox.put(Delete(message_ids=batch, chat_id=chat_id, locale=locale), recipient=Recipient.CHAT)
