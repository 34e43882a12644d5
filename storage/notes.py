"""Volunteers' notes on a request, sealed under the request's data key (shredded with it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage import clock
from storage.crypto import Key, Place
from storage.ids import new_id
from storage.models import Note
from storage.repository import Repository


@dataclass(frozen=True, slots=True)
class NoteRecord:
    at: datetime
    author_id: str | None
    text: str
    handover: bool = False


class Notes(Repository):
    async def add(self, request_id: str, author_id: str, text: str, *, handover: bool = False) -> None:
        note_id = new_id()
        key = await self.vault.data_key(self.session, request_id)
        self.session.add(
            Note(
                id=note_id,
                request_id=request_id,
                author_id=author_id,
                created_at=clock.now(),
                handover=handover,
                body=self.vault.seal_text(key, text, Place.of(Note.body, note_id)),
            )
        )

    async def for_request(self, request_id: str) -> list[NoteRecord]:
        key = await self.vault.data_key(self.session, request_id)
        rows = await self.session.scalars(select(Note).where(Note.request_id == request_id).order_by(Note.id))
        return [self._record(row, key) for row in rows]

    async def latest_handover(self, request_id: str) -> NoteRecord | None:
        """The newest note written for whoever takes the case next."""
        row = await self.session.scalar(
            select(Note).where(Note.request_id == request_id, Note.handover.is_(True)).order_by(Note.id.desc()).limit(1)
        )
        return self._record(row, await self.vault.data_key(self.session, request_id)) if row else None

    def _record(self, row: Note, key: Key) -> NoteRecord:
        text = self.vault.open_text(key, row.body, Place.of(Note.body, row.id))
        return NoteRecord(row.created_at, row.author_id, text, row.handover)
