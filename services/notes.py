"""Notes on a request: private to whoever holds it, encrypted, every read audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.access import require_holder
from services.errors import QueueError
from services.sanitize import neutralize_controls
from storage.notes import NoteRecord, Notes
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord

if TYPE_CHECKING:
    from services.context import Services

NOTE_MAX = 3000


@dataclass(frozen=True)
class NoteView:
    at: str
    author: str
    text: str


class NotesService:
    """Adding and reading notes; ``views`` also serves a coordinator's inspection."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def add(self, volunteer: VolunteerRecord, code: str, text: str) -> RequestRecord:
        record = await self.s.queue.find(code)
        require_holder(volunteer, record)
        text = neutralize_controls(text).strip()
        if not text:
            raise QueueError("empty")
        if len(text) > NOTE_MAX:
            raise QueueError("too_long")
        await Notes(self.s.session, self.s.vault).add(record.id, volunteer.id, text)
        await self.s.audit.record("note_added", actor_id=volunteer.id, request_id=record.id)
        await self.s.requests.touch(record.id)
        return record

    async def read(self, volunteer: VolunteerRecord, code: str) -> tuple[RequestRecord, list[NoteView]]:
        record = await self.s.queue.find(code)
        require_holder(volunteer, record)
        return record, await self.views(volunteer, record)

    async def views(self, reader: VolunteerRecord, record: RequestRecord) -> list[NoteView]:
        notes: list[NoteRecord] = await Notes(self.s.session, self.s.vault).for_request(record.id)
        await self.s.audit.record("notes_read", actor_id=reader.id, request_id=record.id)
        views = []
        for note in notes:
            author = await self.s.volunteers.by_id(note.author_id) if note.author_id else None
            views.append(NoteView(f"{note.at:%Y-%m-%d %H:%M} UTC", author.pseudonym if author else "—", note.text))
        return views
