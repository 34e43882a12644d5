"""Notes on a request: private to whoever holds it, encrypted, every read audited."""

from __future__ import annotations

from dataclasses import dataclass

from services.access import require_holder
from services.errors import QueueError
from services.sanitize import neutralize_controls
from services.use_case import UseCase
from storage.notes import NoteRecord, Notes
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord

NOTE_MAX = 3000


@dataclass(frozen=True)
class NoteView:
    at: str
    author: str
    text: str
    handover: bool = False  # written for whoever takes the case next


class NotesService(UseCase):
    """Adding and reading notes; ``views`` also serves a coordinator's inspection."""

    async def add(self, volunteer: VolunteerRecord, code: str, text: str, *, handover: bool = False) -> RequestRecord:
        """A note by the holder; ``handover``: for whoever takes the case next (services/handover.py)."""
        record = await self.s.queue.find(code)
        require_holder(volunteer, record)
        text = checked(text)
        await Notes(self.s.session, self.s.vault).add(record.id, volunteer.id, text, handover=handover)
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
        return [await self._view(note) for note in notes]

    async def handover_for(self, reader: VolunteerRecord, record: RequestRecord) -> NoteView | None:
        """The newest handover note someone else left on the case, for the volunteer who holds it now (read
        like every note: audited)."""
        note = await Notes(self.s.session, self.s.vault).latest_handover(record.id)
        if note is None or note.author_id == reader.id:
            return None
        await self.s.audit.record("notes_read", actor_id=reader.id, request_id=record.id)
        return await self._view(note)

    async def _view(self, note: NoteRecord) -> NoteView:
        author = await self.s.volunteers.by_id(note.author_id) if note.author_id else None
        return NoteView(f"{note.at:%Y-%m-%d %H:%M} UTC", author.pseudonym if author else "—", note.text, note.handover)


def checked(text: str) -> str:
    """A note's text as it is kept: what a reader cannot see taken out; QueueError when nothing is left or
    it is too long."""
    text = neutralize_controls(text).strip()
    if not text:
        raise QueueError("empty")
    if len(text) > NOTE_MAX:
        raise QueueError("too_long")
    return text
