"""The volunteer queue: announce, claim, show, inspect, release, transfer, close, reopen, flag.

Canned replies, notes, audit trails, blocks and the periodic jobs are use cases of their own
(services/canned.py, notes.py, audit_trail.py, blocks.py, deadlines.py, retention.py).

Every method re-checks who is asking and what state the request is in: a button or a command is a
wish, not a permission (services/access.py). Errors are ``QueueError`` with a stable reason the handlers
translate, raised before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from services import metrics, workload
from services.access import require_coordinator, require_holder, require_not_blocked
from services.errors import QueueError as QueueError  # callers catch it from here too
from services.events import RequestSubmitted
from services.hygiene import clear_other_views, clear_volunteer_view
from services.notes import NoteView
from services.notices import (
    Card,
    CardUpdate,
    Claimed,
    Closed,
    Flagged,
    Inspected,
)
from services.questionnaire import STAT_DIMENSIONS
from services.upgrade import upgrade_answers
from services.use_case import UseCase
from storage import clock
from storage.clock import iso_week
from storage.ids import normalize_request_code
from storage.kinds import Recipient, Status
from storage.requests import RequestDetails, RequestRecord
from storage.volunteers import VolunteerRecord

if TYPE_CHECKING:
    from services.context import Services

OUTCOMES = ("left", "legal", "psych", "referred", "stays", "no_response", "duplicate", "suspicious")
# Why a coordinator opens a request they do not hold: named in the audit and told to the holder.
INSPECT_REASONS = ("safety", "provocation", "unavailable", "complaint", "supervision")
PAGE_SIZE = 8


@dataclass(frozen=True)
class QueuePage:
    requests: list[RequestRecord]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Inspection:
    """What a coordinator sees when they open a request they do not hold."""

    details: RequestDetails
    notes: list[NoteView]


async def announce_submitted(services: Services, event: RequestSubmitted) -> None:
    await services.queue.announce(event.request, event.coarse_answers)


class QueueService(UseCase):
    # -- finding -----------------------------------------------------------------------------------

    async def find(self, code: str) -> RequestRecord:
        normalized = normalize_request_code(code)
        record = await self.s.requests.by_code(normalized) if normalized else None
        if record is None:
            raise QueueError("not_found")
        return record

    async def page(self, page: int) -> QueuePage:
        total = await self.s.requests.count_by_status(Status.NEW)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        listed = await self.s.requests.list_by_status(Status.NEW, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        return QueuePage(listed, page, pages, total)

    async def mine(self, volunteer: VolunteerRecord) -> list[RequestRecord]:
        """What ``volunteer`` holds, the person waiting longest for an answer first."""
        return await self.s.requests.list_assigned_by_waiting(volunteer.id)

    # -- announcing --------------------------------------------------------------------------------

    async def announce(
        self, request: RequestRecord, coarse: dict[str, Any], *, skip_volunteer: str | None = None
    ) -> None:
        notice = Card.of(request, coarse)
        if self.s.policy.volunteer_chat_id is not None:
            await self.s.outbox.put(notice, recipient=Recipient.GROUP, request_id=request.id)
            return
        for volunteer in await self.s.volunteers.list_all():
            if volunteer.id == skip_volunteer:
                continue
            await self.s.outbox.put(
                notice, recipient=Recipient.VOLUNTEER, volunteer_id=volunteer.id, request_id=request.id
            )

    async def announce_again(self, request: RequestRecord, *, skip_volunteer: str | None = None) -> None:
        """Back in the queue: a fresh card for everyone (but the volunteer who just let it go). A blocked
        person's request stays out of the queue."""
        if request.requester_blocked:
            return
        answers = upgrade_answers((await self.s.requests.read(request)).answers)
        await self.s.audit.record("announced", actor_id=None, request_id=request.id)
        coarse = {step.value: answers[step] for step in STAT_DIMENSIONS if step in answers}
        await self.announce(request, coarse, skip_volunteer=skip_volunteer)

    async def retire_cards(self, request: RequestRecord, state: str) -> None:
        """Edit every triage card of this request down to one line without a button. The cards stay known,
        so /forget can still take them away."""
        cards = await self.s.shown.for_request(request.id)
        cards = [card for card in cards if card.kind == "card"]
        for card in cards:
            await self.s.outbox.put(
                CardUpdate(code=request.code, state=state, message_id=card.message_id),
                recipient=Recipient.GROUP if card.audience == "group" else Recipient.VOLUNTEER,
                volunteer_id=card.volunteer_id,
                request_id=request.id,
            )
        await self.s.shown.set_kind([card.id for card in cards], "retired_card")

    # -- claiming and letting go -------------------------------------------------------------------

    async def claim(self, volunteer: VolunteerRecord, code: str) -> RequestDetails:
        record = await self.find(code)
        require_not_blocked(record)
        if record.status is Status.CLOSED:
            raise QueueError("closed")
        previous = await self.s.handover.previous_holder(record)
        claimed = await self.s.requests.claim(record.id, volunteer.id)
        if claimed is None:
            current = await self.s.requests.by_id(record.id)
            if current is not None and current.requester_blocked:
                raise QueueError("blocked")  # blocked while this claim was on its way
            raise QueueError("mine" if record.assignee_id == volunteer.id else "taken")
        assert claimed.claimed_at is not None
        # Statistics count requests, not events: a request claimed again after a release counts once.
        first_claim = previous is None
        # At the moment the counters use, so /forget can take exactly this contribution back.
        await self.s.audit.record("claimed", actor_id=volunteer.id, request_id=record.id, at=claimed.claimed_at)
        if first_claim:
            week = iso_week(claimed.claimed_at)
            await self.s.counters.bump(week, metrics.CLAIMED, metrics.ALL)
            await self.s.counters.bump(
                week, metrics.TIME_TO_CLAIM, metrics.duration_bucket(claimed.claimed_at - claimed.created_at)
            )
        if first_claim:
            await self.s.outbox.put(Claimed(code=record.code, pseudonym=volunteer.pseudonym), request_id=record.id)
        else:  # someone held it before: the conversation so far, and the person told of the new volunteer
            await self.s.handover.taken_over(volunteer, claimed, previous)
        await self.s.outbox.drop_unsent(record.id, "card")  # cards still waiting would offer a taken request
        await self.retire_cards(claimed, "claimed")
        await clear_other_views(self.s, claimed, "claimed", keep=volunteer.id)  # an inspection before the claim
        return await self.read(volunteer, claimed)

    async def read(self, volunteer: VolunteerRecord, record: RequestRecord) -> RequestDetails:
        """Decrypt a request for a person to see: always audited."""
        details = await self.s.requests.read(record)
        await self.s.audit.record("read", actor_id=volunteer.id, request_id=record.id)
        return replace(details, answers=upgrade_answers(details.answers))

    async def held(self, volunteer: VolunteerRecord, code: str, *, handing_on: bool = False) -> RequestRecord:
        """The request, if ``volunteer`` holds it (and, ``handing_on``, may pass it to someone else)."""
        record = await self.find(code)
        require_holder(volunteer, record)
        if handing_on:
            require_not_blocked(record)
        return record

    async def show(self, volunteer: VolunteerRecord, code: str) -> RequestDetails:
        """The full request again, for whoever holds it. A coordinator who does not is told how to open it
        anyway (``inspect``)."""
        record = await self.find(code)
        if volunteer.is_coordinator and not record.held_by(volunteer.id):
            raise QueueError("not_yours_coordinator")
        require_holder(volunteer, record)
        return await self.read(volunteer, record)

    async def before_inspection(self, coordinator: VolunteerRecord, code: str) -> RequestRecord | RequestDetails:
        """/inspect: a case the coordinator holds opens at once (there is nothing to justify); any other
        comes back as its record, and opens only with a reason (``inspect``)."""
        require_coordinator(coordinator)
        record = await self.find(code)
        if record.held_by(coordinator.id):
            return await self.read(coordinator, record)
        return record

    async def inspect(self, coordinator: VolunteerRecord, code: str, reason: str) -> Inspection:
        """A coordinator opens a request they do not hold: the one way past need-to-know. The reason is
        recorded in the audit and the volunteer holding the case is told who looked and why."""
        require_coordinator(coordinator)
        if reason not in INSPECT_REASONS:
            raise QueueError("unknown_reason")
        record = await self.find(code)
        await self.s.audit.record("inspected", actor_id=coordinator.id, request_id=record.id, detail=reason)
        if record.status is Status.CLAIMED and record.assignee_id not in (None, coordinator.id):
            await self.s.outbox.put(
                Inspected(code=record.code, by=coordinator.pseudonym, reason=reason),
                volunteer_id=record.assignee_id,
                request_id=record.id,
            )
        details = await self.read(coordinator, record)
        return Inspection(details, await self.s.notes.views(coordinator, record))

    async def release(self, volunteer: VolunteerRecord, code: str) -> RequestRecord:
        record = await self.find(code)
        released = await self.s.requests.release(record.id, volunteer.id)
        if released is None:
            raise QueueError("not_yours")
        await self.s.audit.record("released", actor_id=volunteer.id, request_id=record.id)
        await clear_volunteer_view(self.s, released, volunteer.id, "released")
        await clear_other_views(self.s, released, "released", keep=None)
        await self.announce_again(released, skip_volunteer=volunteer.id)
        return released

    async def transfer(self, volunteer: VolunteerRecord, code: str, to_volunteer_id: str) -> VolunteerRecord:
        record = await self.find(code)
        require_holder(volunteer, record)
        require_not_blocked(record)
        target = await self.s.volunteers.by_id(to_volunteer_id)
        if target is None or not target.active or target.id == volunteer.id:
            raise QueueError("no_such_volunteer")
        moved = await self.s.requests.transfer(record.id, volunteer.id, target.id)
        if moved is None:
            raise QueueError("not_yours")
        await self.s.audit.record("transferred", actor_id=volunteer.id, request_id=record.id, detail=target.id)
        await clear_volunteer_view(self.s, moved, volunteer.id, "transferred")
        await clear_other_views(self.s, moved, "transferred", keep=target.id)
        await self.s.handover.transferred(target, await self.read(target, moved))
        return target

    async def close(self, volunteer: VolunteerRecord, code: str, outcome: str) -> RequestRecord:
        if outcome not in OUTCOMES:
            raise QueueError("unknown_outcome")
        record = await self.find(code)
        closed = await self.s.requests.close(record.id, volunteer.id, outcome)
        if closed is None:
            raise QueueError("not_yours")
        assert closed.closed_at is not None
        first_close = await self.s.audit.count("closed", record.id) == 0  # a reopened request closes once
        await self.s.audit.record(
            "closed", actor_id=volunteer.id, request_id=record.id, detail=outcome, at=closed.closed_at
        )
        await workload.closed(self.s, closed)
        if first_close:
            week = iso_week(closed.closed_at)
            await self.s.counters.bump(week, metrics.CLOSED, outcome)
            await self.s.counters.bump(
                week, metrics.TIME_TO_CLOSE, metrics.duration_bucket(closed.closed_at - closed.created_at)
            )
        if outcome == "suspicious" and not closed.flagged:
            await self._flag(volunteer, closed)
        await clear_volunteer_view(self.s, closed, volunteer.id, "closed")
        await clear_other_views(self.s, closed, "closed", keep=None)
        if not closed.requester_blocked:  # a blocked person is told nothing new
            await self.s.outbox.put(Closed(code=record.code), request_id=record.id)
        return closed

    async def reopen(self, coordinator: VolunteerRecord, code: str) -> RequestRecord:
        """A coordinator puts a closed request back in the queue, held by nobody: the volunteer who closed
        it does not get it back (they may claim it from the queue like anyone)."""
        require_coordinator(coordinator)
        record = await self.find(code)
        require_not_blocked(record)
        if record.status is not Status.CLOSED:
            raise QueueError("not_closed")
        if await self.s.requests.requester_has_other_open(record.id):
            raise QueueError("requester_has_open")
        reopened = await self.s.requests.reopen(record.id)
        if reopened is None:
            raise QueueError("not_closed")
        now = clock.now()
        await self.s.audit.record("reopened", actor_id=coordinator.id, request_id=record.id, at=now)
        await self.s.counters.bump(iso_week(now), metrics.REOPENED, metrics.ALL)
        await workload.reopened(self.s, reopened)
        await self.announce_again(reopened)
        return reopened

    async def flag(self, volunteer: VolunteerRecord, code: str) -> RequestRecord:
        """The holder, or a coordinator (from a card or an escalation), marks a request as suspicious."""
        record = await self.find(code)
        if not volunteer.is_coordinator:
            require_holder(volunteer, record)
        if record.flagged:
            return record
        return await self._flag(volunteer, record)

    async def _flag(self, volunteer: VolunteerRecord, record: RequestRecord) -> RequestRecord:
        flagged = await self.s.requests.set_flagged(record.id, True)
        assert flagged is not None
        now = clock.now()
        await self.s.audit.record("flagged", actor_id=volunteer.id, request_id=record.id, at=now)
        await self.s.counters.bump(iso_week(now), metrics.FLAGGED, metrics.ALL)
        for coordinator in await self.s.volunteers.coordinators():
            await self.s.outbox.put(
                Flagged(code=record.code, by=volunteer.pseudonym), volunteer_id=coordinator.id, request_id=record.id
            )
        return flagged
