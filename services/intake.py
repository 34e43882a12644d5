"""Requester use cases: submit an intake, see its status, forget everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services import metrics, workload
from services.events import RequestSubmitted
from services.hygiene import clear_everywhere, enqueue_chat_deletes
from services.notices import Confirmation, Forgotten
from services.questionnaire import MULTI_SELECT, STAT_DIMENSIONS, complete
from services.upgrade import upgrade_answers
from services.use_case import UseCase
from storage.clock import iso_week
from storage.epochs import FORGET, note_shred
from storage.kinds import Status
from storage.requests import DuplicateOpenRequest, RequestRecord

__all__ = ["DuplicateOpenRequest", "ForgetResult", "IntakeService", "RequesterBlocked"]


# Audit actions counted once each, in the week they happened.
EVENT_METRICS = {"reopened": metrics.REOPENED, "flagged": metrics.FLAGGED, "escalated": metrics.ESCALATED}


class RequesterBlocked(Exception):
    """A coordinator blocked this person while their intake was open: it ends, and nothing is stored."""


@dataclass(frozen=True)
class ForgetResult:
    shredded: int
    requester_message_ids: list[int]


def submission_counters(answers: dict[str, Any], language: str) -> list[tuple[str, str]]:
    """The counters one request adds to: every question it answered (a question not asked counts nowhere)."""
    items = [(metrics.SUBMITTED, metrics.ALL), ("language", language)]
    for step in STAT_DIMENSIONS:
        value = answers.get(step)
        if value is None:
            continue
        values = value if step in MULTI_SELECT else [value]
        items.extend((step.value, str(v)) for v in values)
    return items


class IntakeService(UseCase):
    async def open_request(self, user_id: int) -> RequestRecord | None:
        return await self.s.requests.open_for_requester(user_id)

    async def is_blocked(self, user_id: int) -> bool:
        return await self.s.requests.is_blocked(user_id)

    async def latest_request(self, user_id: int) -> RequestRecord | None:
        return await self.s.requests.latest_for_requester(user_id)

    async def submit(
        self,
        *,
        user_id: int,
        chat_id: int,
        answers: dict[str, Any],
        language: str,
        tracked_message_ids: list[int],
    ) -> RequestRecord:
        """Store the request, count it, announce it and queue the requester's confirmation, all in
        the caller's transaction: either all of it happens or none.

        The chat is cleaned through the outbox too, so a crash right after commit still cleans it, and
        a failed commit never leaves a cleaned chat without a request. Raises ``AnswerError`` for
        incomplete answers and ``DuplicateOpenRequest`` when the requester already has an open request.
        """
        if await self.s.requests.is_blocked(user_id):
            raise RequesterBlocked
        completed = complete(answers)
        record = await self.s.requests.create(
            user_id=user_id,
            chat_id=chat_id,
            answers=completed.values,
            urgency=completed.urgency,
            language=language,
        )
        await self.s.counters.bump_many(iso_week(record.created_at), submission_counters(completed.values, language))
        await workload.arrived(self.s, record)
        # The language and the moment counted, so /forget can take exactly this contribution back.
        await self.s.audit.record(
            "submitted", actor_id=None, request_id=record.id, detail=language, at=record.created_at
        )
        outbox = self.s.outbox
        await outbox.put(Confirmation(code=record.code), request_id=record.id)
        await self.s.reconnect.issue(record)  # the key for another phone, shown once after it
        if self.s.policy.chat_hygiene:
            # Of no request (the ephemeral key): a /forget that comes before it is sent shreds the request,
            # and the answers must leave the phone all the same.
            await enqueue_chat_deletes(self.s, chat_id, tracked_message_ids, language)
        await self.s.events.emit(self.s, RequestSubmitted(record, completed.coarse()))
        return record

    async def set_language(self, user_id: int, language: str) -> None:
        record = await self.s.requests.open_for_requester(user_id)
        if record is not None:
            await self.s.requests.set_language(record.id, language)

    async def remember_in_chat(self, user_id: int, message_ids: list[int]) -> None:
        """Link messages in a requester's chat to their latest request, for /wipe and /forget."""
        request = await self.s.requests.latest_for_requester(user_id)
        if request is None:
            return
        for message_id in message_ids:
            await self.s.shown.record(request_id=request.id, audience="requester", kind="chat", message_id=message_id)

    async def requester_message_ids(self, user_id: int) -> list[int]:
        """Every message in the requester's chat that the bot tracked after submission (for /wipe).

        Only ``message_id``: a relayed copy's peer is a message in the volunteer's chat.
        """
        ids: list[int] = []
        for request_id in await self.s.requests.ids_for_requester(user_id):
            ids += [shown.message_id for shown in await self.s.shown.for_request(request_id, audience="requester")]
        return ids

    async def forget_messages(self, user_id: int) -> None:
        for request_id in await self.s.requests.ids_for_requester(user_id):
            shown = await self.s.shown.for_request(request_id, audience="requester")
            await self.s.shown.forget([item.id for item in shown])

    async def unfinished_erased(self) -> None:
        """The person's unfinished answers were erased (/cancel): copies left behind stop opening too."""
        await note_shred(self.s.session, self.s.vault)

    async def forget(self, user_id: int) -> ForgetResult:
        """Shred every request of this requester and leave no trail of them (docs/decisions/0011): what the
        bot showed the team about them is removed from every chat and the group, their audit rows go, the
        counters they added to are taken back, and the volunteer holding one is told its code only. The key
        roll that follows makes every copy of them, and of their unfinished answers, unreadable (0009)."""
        s = self.s
        await note_shred(s.session, s.vault)
        message_ids = await self.requester_message_ids(user_id)
        shredded = 0
        for request_id in await s.requests.ids_for_requester(user_id):
            record = await s.requests.by_id(request_id)
            if record is None or not await self.erase_without_trail(record):
                continue
            shredded += 1
            if record.status is Status.CLAIMED and record.assignee_id is not None:
                # Sealed under the ephemeral key, not the request's: it has to outlive the request.
                await s.outbox.put(Forgotten(code=record.code), volunteer_id=record.assignee_id)
        return ForgetResult(shredded, message_ids)

    async def erase_without_trail(self, record: RequestRecord) -> bool:
        """Shred one request the way /forget does (docs/decisions/0011): the counters it added to taken back,
        what the team was shown of it removed from every chat, its audit rows gone; only the erasure itself
        is counted, with no week. Also how a restore forgets again what was forgotten after its backup."""
        s = self.s
        await self._take_back_counters(record)
        await clear_everywhere(s, record, "forgotten")
        await s.audit.forget_request(record.id)
        if not await s.requests.shred(record.id, kind=FORGET):
            return False
        # How many requests people erased, ever: no week, no answer, nothing that points at one of them.
        await s.counters.bump(metrics.GAUGE_WEEK, metrics.WITHDRAWN, metrics.ALL)
        return True

    async def _take_back_counters(self, record: RequestRecord) -> None:
        """Every counter this request added to, taken back: the statistics read as if it was never made.

        The contributions are found again from the answers and the audit rows, which hold the moments the
        counters used (the week, and the durations to the first claim and the first close)."""
        s = self.s
        answers = upgrade_answers((await s.requests.read(record)).answers)
        entries = await s.audit.for_request(record.id)
        submitted = next((e for e in entries if e.action == "submitted"), None)
        language = submitted.detail if submitted and submitted.detail else record.language
        week = iso_week(record.created_at)
        for metric, bucket in submission_counters(answers, language):
            await s.counters.take_back(week, metric, bucket)
        claimed = next((e for e in entries if e.action == "claimed"), None)
        if claimed is not None:
            await s.counters.take_back(iso_week(claimed.at), metrics.CLAIMED, metrics.ALL)
            bucket = metrics.duration_bucket(claimed.at - record.created_at)
            await s.counters.take_back(iso_week(claimed.at), metrics.TIME_TO_CLAIM, bucket)
        closed = next((e for e in entries if e.action == "closed"), None)
        if closed is not None and closed.detail:
            await s.counters.take_back(iso_week(closed.at), metrics.CLOSED, closed.detail)
            bucket = metrics.duration_bucket(closed.at - record.created_at)
            await s.counters.take_back(iso_week(closed.at), metrics.TIME_TO_CLOSE, bucket)
        for entry in entries:
            if entry.action in EVENT_METRICS:
                await s.counters.take_back(iso_week(entry.at), EVENT_METRICS[entry.action], metrics.ALL)
        await workload.take_back(s, record)
