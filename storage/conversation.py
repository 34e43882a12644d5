"""The kept conversation of a case: the last ``KEPT_MESSAGES`` relayed messages, both ways, sealed under the
request's data key (AAD: case_messages/body/row id), so they go with the request (ON DELETE CASCADE) and no copy
opens once its key is shredded. Nothing but the random ids says how many there are or when they were written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from storage.crypto import Place
from storage.ids import new_id
from storage.models import CaseMessage
from storage.repository import Repository

KEPT_MESSAGES = 50  # per case; the oldest goes when a newer one comes (README, docs/decisions/0013)


@dataclass(frozen=True, slots=True)
class KeptMessage:
    at: datetime
    sender: str  # "requester" or "volunteer"
    name: str | None  # the volunteer's pseudonym, for their messages
    text: str  # the text, or the caption of a file
    media: str | None  # what kind of file it was ("photo", "voice", ...), never the file itself
    edited: bool

    def to_dict(self) -> dict[str, Any]:
        """As it is sealed (and carried in an outbox notice)."""
        return {
            "at": self.at.isoformat(),
            "from": self.sender,
            "name": self.name,
            "text": self.text,
            "media": self.media,
            "edited": self.edited,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> KeptMessage:
        return cls(
            at=datetime.fromisoformat(body["at"]),
            sender=str(body["from"]),
            name=body.get("name"),
            text=str(body.get("text") or ""),
            media=body.get("media"),
            edited=bool(body.get("edited")),
        )


class Conversation(Repository):
    async def keep(self, request_id: str, message: KeptMessage) -> None:
        """Keep one message; past the bound, the oldest of this case goes."""
        row_id = new_id()
        key = await self.vault.data_key(self.session, request_id)
        body = self.vault.seal_json(key, message.to_dict(), Place.of(CaseMessage.body, row_id))
        self.session.add(CaseMessage(id=row_id, request_id=request_id, body=body))
        oldest_kept = (
            select(CaseMessage.id)
            .where(CaseMessage.request_id == request_id)
            .order_by(CaseMessage.id.desc())
            .offset(KEPT_MESSAGES - 1)
            .limit(1)
            .scalar_subquery()
        )
        await self.session.execute(  # one statement; the new row is flushed before it runs
            delete(CaseMessage)
            .where(CaseMessage.request_id == request_id, CaseMessage.id < oldest_kept)
            .execution_options(synchronize_session=False)
        )

    async def recent(self, request_id: str) -> list[KeptMessage]:
        """The kept messages of a case, oldest first."""
        rows = list(
            await self.session.scalars(
                select(CaseMessage).where(CaseMessage.request_id == request_id).order_by(CaseMessage.id)
            )
        )
        if not rows:
            return []
        key = await self.vault.data_key(self.session, request_id)
        opened = (self.vault.open_json(key, row.body, Place.of(CaseMessage.body, row.id)) for row in rows)
        return [KeptMessage.from_dict(body) for body in opened]
