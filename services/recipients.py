"""Who an outbox message reaches at the moment it goes out, and whether they may still have it.

Access is checked again when a message goes out, not only when it was queued: case details reach only
the volunteer who holds the case at that moment, a triage card only while the request waits, nothing but
removals reaches someone no longer on the team or a blocked requester (those messages are withheld:
dropped unsent). Removals themselves always go out (services/hygiene.py). The sender that asks is the
Telegram adapter, bot/delivery.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.context import Services
from services.notices import Notice, notice_type
from storage.outbox import PendingMessage
from storage.requests import RequestRecord
from storage.vault import Shredded


@dataclass(frozen=True)
class Target:
    chat_id: int
    locale: str
    volunteer_id: str | None = None  # whose private chat it is, when it is a team member's


def kind_of(message: PendingMessage) -> type[Notice]:
    """The notice class of a message, which says how it is treated (services/notices.py); the base class's
    defaults for a kind no class describes."""
    return notice_type(message.payload) or Notice


class Unresolvable(Exception):
    """The recipient cannot be reached now (no assignee yet, no group configured): retried, a bounded
    number of times."""


class Withheld(Exception):
    """The message is no longer wanted (its recipient lost access, it offers what is gone, its recipient was
    blocked): dropped unsent."""


class DeadLetter(Exception):
    """The message can never be delivered (its recipient left the team): recorded as failed at once."""


async def resolve(services: Services, message: PendingMessage) -> Target:
    """The chat a message queued for a requester, a volunteer, the case's assignee or the group goes to now.

    Raises ``Shredded`` (its request is gone), ``Withheld``, ``DeadLetter`` or ``Unresolvable``.
    """
    kind = kind_of(message)
    request = await services.requests.by_id(message.request_id) if message.request_id else None
    if message.request_id is not None and request is None:
        raise Shredded("request is gone")
    if message.recipient == "requester":
        assert request is not None
        if request.requester_blocked and not kind.removal:
            raise Withheld("requester_blocked")  # a blocked person is told nothing new
        return Target(await services.requests.requester_chat_id(request.id), request.language)
    if kind.offers_request and request is not None and (request.status != "new" or request.requester_blocked):
        raise Withheld("not_waiting")  # a card would offer a request nobody can take any more
    if message.recipient in ("volunteer", "assignee"):
        volunteer_id = message.volunteer_id
        if message.recipient == "assignee":
            volunteer_id = request.assignee_id if request else None
        volunteer = await services.volunteers.by_id(volunteer_id) if volunteer_id else None
        if volunteer is None:
            raise Unresolvable("no such volunteer")
        if not volunteer.active and not kind.removal:
            raise DeadLetter("revoked")
        if kind.case_content and not (request is not None and request.held_by(volunteer.id)):
            raise Withheld("not_holder")
        return Target(await services.volunteers.chat_id(volunteer.id), volunteer.language, volunteer.id)
    if message.recipient == "group":
        if services.policy.volunteer_chat_id is None:
            raise Unresolvable("no volunteers' group configured")
        return Target(services.policy.volunteer_chat_id, services.policy.default_language)
    raise Unresolvable(f"unknown recipient kind {message.recipient}")


async def entitled(services: Services, message: PendingMessage, request: RequestRecord, volunteer_id: str) -> bool:
    """Whether the volunteer a message went to may still have it (it reached them as their access ended)."""
    volunteer = await services.volunteers.by_id(volunteer_id)
    if volunteer is None or not volunteer.active:
        return False
    return not kind_of(message).case_content or request.held_by(volunteer_id)
