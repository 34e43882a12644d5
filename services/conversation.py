"""The conversation of a case, kept for whoever holds it next (storage/conversation.py: bounded, sealed under the
request's data key, shredded with it; docs/decisions/0013).

Each relayed message is kept as it was said: its text, or for a file only what kind it was and its caption
(a file id is Telegram's, and no key of ours could take it back). Shown to the volunteer who takes the case over
(services/handover.py), and only to the holder when they turn its pages.
"""

from __future__ import annotations

from typing import Any

from services.access import require_holder
from services.use_case import UseCase
from storage import clock
from storage.conversation import Conversation, KeptMessage
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord


def kept(content: dict[str, Any], volunteer: VolunteerRecord | None) -> KeptMessage:
    """A relayed message as the conversation keeps it."""
    media = None if content["type"] == "text" else str(content["type"])
    text = content.get("text") if media is None else content.get("caption")
    return KeptMessage(
        at=clock.now(),
        sender="volunteer" if volunteer else "requester",
        name=volunteer.pseudonym if volunteer else None,
        text=str(text or ""),
        media=media,
        edited=bool(content.get("edited")),
    )


class ConversationService(UseCase):
    @property
    def _store(self) -> Conversation:
        return Conversation(self.s.session, self.s.vault)

    async def keep(
        self, request: RequestRecord, content: dict[str, Any], *, volunteer: VolunteerRecord | None = None
    ) -> None:
        """Keep a message of the person (``volunteer`` None) or of the volunteer who wrote it."""
        await self._store.keep(request.id, kept(content, volunteer))

    async def of(self, request: RequestRecord) -> list[KeptMessage]:
        return await self._store.recent(request.id)

    async def read(self, volunteer: VolunteerRecord, code: str) -> tuple[RequestRecord, list[KeptMessage]]:
        """The kept conversation, for the volunteer holding the case (the page buttons are not the permission);
        the read is audited like every read of a case."""
        record = await self.s.queue.find(code)
        require_holder(volunteer, record)
        await self.s.audit.record("conversation_read", actor_id=volunteer.id, request_id=record.id)
        return record, await self.of(record)
