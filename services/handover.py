"""Handovers that keep context: a case changing hands takes its story with it.

The holder letting a case go (a release, a transfer) is asked for a handover note first (services/prompts.py);
it is kept as a note marked for the next volunteer. Whoever holds the case next (the transferee, or whoever
claims it from the queue after a release or a lease expiry) gets, in this order: the handover note, the case's
card, and the kept conversation (services/conversation.py). The person is told, in their language, that
another volunteer has their request.
"""

from __future__ import annotations

from services.errors import QueueError
from services.notices import ConversationPage, FullCard, HandedOver, HandoverNote
from services.use_case import UseCase
from storage.requests import RequestDetails, RequestRecord
from storage.volunteers import VolunteerRecord

HOLDING_ACTIONS = ("claimed", "transferred")


class HandoverService(UseCase):
    async def prepare(
        self, volunteer: VolunteerRecord, code: str, to: str | None = None
    ) -> tuple[RequestRecord, VolunteerRecord | None]:
        """Before the note is asked: the case is in ``volunteer``'s hands and, for a transfer, may be handed on
        to ``to``, who can take it."""
        record = await self.s.queue.held(volunteer, code, handing_on=to is not None)
        if to is None:
            return record, None
        target = await self.s.volunteers.by_id(to)
        if target is None or not target.active or target.id == volunteer.id:
            raise QueueError("no_such_volunteer")
        return record, target

    async def release(self, volunteer: VolunteerRecord, code: str, note: str | None) -> RequestRecord:
        """Back to the queue, with a note for whoever claims it next (``note`` None: without one)."""
        await self.prepare(volunteer, code)
        if note is not None:
            await self.s.notes.add(volunteer, code, note, handover=True)
        return await self.s.queue.release(volunteer, code)

    async def transfer(self, volunteer: VolunteerRecord, code: str, to: str, note: str | None) -> VolunteerRecord:
        """To another volunteer, with a note for them (``note`` None: without one)."""
        await self.prepare(volunteer, code, to)
        if note is not None:
            await self.s.notes.add(volunteer, code, note, handover=True)
        return await self.s.queue.transfer(volunteer, code, to)

    # -- the next holder ----------------------------------------------------------------------------

    async def previous_holder(self, record: RequestRecord) -> str | None:
        """Who held the case last before now (None: nobody ever did). Read before the new holder is recorded."""
        holder = None
        for entry in await self.s.audit.for_request(record.id):
            if entry.action == "claimed":
                holder = entry.actor_id
            elif entry.action == "transferred":
                holder = entry.detail
        return holder

    async def taken_over(self, holder: VolunteerRecord, record: RequestRecord, previous: str | None) -> None:
        """A case someone held before is now ``holder``'s: they get its conversation (after the card, which the
        claim shows at once), and the person hears of the new volunteer unless it is the same one again."""
        await self._conversation(holder, record)
        if previous != holder.id:
            await self._tell_person(holder, record)

    async def transferred(self, holder: VolunteerRecord, details: RequestDetails) -> None:
        """A transferred case reaches ``holder`` through the outbox: the handover note, the card, the
        conversation; and the person hears of the new volunteer."""
        record = details.record
        note = await self.s.notes.handover_for(holder, record)
        if note is not None:
            handover = HandoverNote(code=record.code, by=note.author, at=note.at, text=note.text)
            await self.s.outbox.put(handover, volunteer_id=holder.id, request_id=record.id)
        await self.s.outbox.put(
            FullCard.of(details, reason="transferred"), volunteer_id=holder.id, request_id=record.id
        )
        await self._conversation(holder, record)
        await self._tell_person(holder, record)

    async def _conversation(self, holder: VolunteerRecord, record: RequestRecord) -> None:
        messages = await self.s.conversation.of(record)
        if messages:
            await self.s.audit.record("conversation_read", actor_id=holder.id, request_id=record.id)
            page = ConversationPage(code=record.code, messages=[message.to_dict() for message in messages])
            await self.s.outbox.put(page, volunteer_id=holder.id, request_id=record.id)

    async def _tell_person(self, holder: VolunteerRecord, record: RequestRecord) -> None:
        if not record.requester_blocked:  # a blocked person is told nothing new
            await self.s.outbox.put(HandedOver(code=record.code, pseudonym=holder.pseudonym), request_id=record.id)
