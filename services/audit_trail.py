"""A request's audit trail, as coordinators read it: who saw and did what, when. Reading it is audited too."""

from __future__ import annotations

from services.access import require_coordinator
from services.use_case import UseCase
from storage.audit import AuditEntry
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord


class AuditTrailService(UseCase):
    """The trail of one request, each entry with its actor's pseudonym."""

    async def read(self, volunteer: VolunteerRecord, code: str) -> tuple[RequestRecord, list[tuple[AuditEntry, str]]]:
        require_coordinator(volunteer)
        record = await self.s.queue.find(code)
        await self.s.audit.record("audit_read", actor_id=volunteer.id, request_id=record.id)
        entries = []
        for entry in await self.s.audit.for_request(record.id):
            actor = await self.s.volunteers.by_id(entry.actor_id) if entry.actor_id else None
            entries.append((entry, actor.pseudonym if actor else "—"))
        return record, entries
