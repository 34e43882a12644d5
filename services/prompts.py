"""Prompts bound to a case: the bot asks a volunteer for something in a message they answer by replying to it.

A prompt (sent with Telegram's forced reply) is remembered as a message shown about its case, with what it asks
for sealed beside its id (storage/shown.py): so a reply to it finds its case and its purpose, after a restart
too, and it leaves the volunteer's chat with the rest of the case. A reply to a relayed message of the person is
bound the same way: to its case, as an answer to the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.use_case import UseCase
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord

PROMPT_KIND = "prompt"


class Ask(StrEnum):
    """What a prompt asks for."""

    REPLY = "reply"  # a message to the person
    NOTE = "note"  # a private note on the case
    HANDOVER = "handover"  # a note for the next volunteer, then the case is released or transferred
    GOODBYE = "goodbye"  # the volunteer's own goodbye, then the case is closed


@dataclass(frozen=True)
class Bound:
    """What a volunteer's reply is about: a case, and the prompt's purpose (REPLY for a relayed message)."""

    code: str
    ask: Ask
    to: str | None = None  # HANDOVER: the volunteer the case goes to; None: back to the queue
    outcome: str | None = None  # GOODBYE: how the case ends


class Prompts(UseCase):
    async def remember(
        self, volunteer: VolunteerRecord, record: RequestRecord, message_id: int, ask: Ask, **details: str | None
    ) -> None:
        extra: dict[str, Any] = {"ask": ask.value, **{name: value for name, value in details.items() if value}}
        await self.s.shown.record(
            request_id=record.id,
            audience="volunteer",
            kind=PROMPT_KIND,
            message_id=message_id,
            volunteer_id=volunteer.id,
            extra=extra,
        )

    async def bound(self, volunteer: VolunteerRecord, replied_message_id: int) -> Bound | None:
        """The case (and purpose) of the message a volunteer replied to, if it was about one."""
        shown = await self.s.shown.find("volunteer", volunteer.id, replied_message_id)
        if shown is None:
            return None
        request = await self.s.requests.by_id(shown.request_id)
        if request is None:
            return None
        extra = shown.extra or {}
        if shown.kind != PROMPT_KIND or extra.get("ask") not in set(Ask):
            return Bound(request.code, Ask.REPLY)
        return Bound(request.code, Ask(extra["ask"]), to=extra.get("to"), outcome=extra.get("outcome"))
