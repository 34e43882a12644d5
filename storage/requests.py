"""Requests: create, find, read decrypted, move through the queue, shred.

Methods return plain dataclasses; nothing outside storage sees an ORM object or a ciphertext.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.crypto import Place
from storage.epochs import FORGET, note_shred
from storage.ids import new_id, new_request_code
from storage.kinds import OPEN_STATUSES, Status
from storage.models import BlockedRequester, Request, ShownMessage
from storage.repository import Repository

REQUESTER_DOMAIN = "tg-user"
RECONNECT_DOMAIN = "reconnect-key"  # a keyed hash of a request's one-time reconnect secret (decision 0012)
# Most urgent first; not knowing how urgent it is ranks above having time to prepare (migration 0006).
URGENCY_ORDER = ("48h", "week", "unknown", "planning")


def urgency_rank(urgency: str) -> int:
    """The queue's order as a number (most urgent first), stored so an index can serve the queue page."""
    return URGENCY_ORDER.index(urgency)


CODE_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class RequestRecord:
    id: str
    code: str
    status: Status
    urgency: str
    language: str
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    last_activity_at: datetime
    escalated_at: datetime | None
    assignee_id: str | None
    outcome: str | None
    flagged: bool
    requester_blocked: bool
    unanswered: int = 0  # the person's messages waiting for an answer, and since when
    waiting_since: datetime | None = None
    first_reply_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def held_by(self, volunteer_id: str) -> bool:
        """Whether ``volunteer_id`` may see this case in full now: they hold it, and it is open."""
        return self.status is Status.CLAIMED and self.assignee_id == volunteer_id


@dataclass(frozen=True, slots=True)
class RequestDetails:
    record: RequestRecord
    answers: dict[str, Any]


def _record(row: Request) -> RequestRecord:
    return RequestRecord(
        id=row.id,
        code=row.code,
        status=Status(row.status),
        urgency=row.urgency,
        language=row.language,
        created_at=row.created_at,
        updated_at=row.updated_at,
        claimed_at=row.claimed_at,
        closed_at=row.closed_at,
        last_activity_at=row.last_activity_at,
        escalated_at=row.escalated_at,
        assignee_id=row.assignee_id,
        outcome=row.outcome,
        flagged=row.flagged,
        requester_blocked=row.requester_blocked,
        unanswered=row.unanswered or 0,
        waiting_since=row.waiting_since,
        first_reply_at=row.first_reply_at,
    )


class DuplicateOpenRequest(Exception):
    """The requester already has an open request (the database's partial unique index said so)."""


_KNOWN_BLOCKS = "tropa.requests.blocked"
_REQUESTS = cast(Table, Request.__table__)
# Where the sender finds the person for every message to them: the column, not the whole request as an object.
_SEALED_CHAT = select(_REQUESTS.c.chat_id).where(_REQUESTS.c.id == bindparam("request_id"))


def _known_blocks(session: AsyncSession) -> dict[str, bool]:
    """Requester index -> blocked, as this transaction has read or written it (the session lives as long)."""
    known: dict[str, bool] = session.info.setdefault(_KNOWN_BLOCKS, {})
    return known


class RequestRepository(Repository):
    def requester_index(self, user_id: int) -> str:
        return self.vault.blind(REQUESTER_DOMAIN, user_id)

    async def create(
        self, *, user_id: int, chat_id: int, answers: dict[str, Any], urgency: str, language: str
    ) -> RequestRecord:
        if urgency not in URGENCY_ORDER:
            raise ValueError("unknown urgency")
        now = clock.now()
        for _ in range(CODE_ATTEMPTS):
            request_id = new_id()
            dek = await self.vault.new_data_key(self.session, request_id)
            row = Request(
                id=request_id,
                code=new_request_code(),
                requester_index=self.requester_index(user_id),
                status=Status.NEW,
                urgency=urgency,
                urgency_rank=urgency_rank(urgency),
                language=language,
                created_at=now,
                updated_at=now,
                last_activity_at=now,
                flagged=False,
                requester_blocked=False,
                answers=self.vault.seal_json(dek, answers, Place.of(Request.answers, request_id)),
                chat_id=self.vault.seal_text(dek, str(chat_id), Place.of(Request.chat_id, request_id)),
            )
            # Someone blocked while their intake was open stays blocked in what it becomes.
            row.requester_blocked = await self._blocked(row.requester_index)
            try:
                async with self.session.begin_nested():
                    self.session.add(row)
                    await self.session.flush()
            except IntegrityError as error:
                if "one_open" in str(error.orig) or await self.open_for_requester(user_id):
                    raise DuplicateOpenRequest from None
                continue  # a request code collided; draw another
            return _record(row)
        raise RuntimeError("could not draw a free request code")

    async def by_code(self, code: str) -> RequestRecord | None:
        row = await self.session.scalar(select(Request).where(Request.code == code))
        return _record(row) if row else None

    async def by_id(self, request_id: str) -> RequestRecord | None:
        row = await self.session.get(Request, request_id, populate_existing=True)
        return _record(row) if row else None

    async def open_for_requester(self, user_id: int) -> RequestRecord | None:
        row = await self.session.scalar(
            select(Request).where(
                Request.requester_index == self.requester_index(user_id),
                Request.status.in_(OPEN_STATUSES),
            )
        )
        return _record(row) if row else None

    async def latest_for_requester(self, user_id: int) -> RequestRecord | None:
        row = await self.session.scalar(
            select(Request)
            .where(Request.requester_index == self.requester_index(user_id))
            .order_by(Request.created_at.desc())
            .limit(1)
        )
        return _record(row) if row else None

    async def all_ids(self) -> list[str]:
        return list(await self.session.scalars(select(Request.id)))

    async def ids_for_index(self, requester_index: str) -> list[str]:
        return list(await self.session.scalars(select(Request.id).where(Request.requester_index == requester_index)))

    async def ids_for_requester(self, user_id: int) -> list[str]:
        return list(
            await self.session.scalars(
                select(Request.id).where(Request.requester_index == self.requester_index(user_id))
            )
        )

    async def read(self, record: RequestRecord) -> RequestDetails:
        """Decrypt the answers. Callers that show them to a person must audit the read."""
        row = await self.session.get(Request, record.id)
        if row is None:
            raise LookupError("request is gone")
        dek = await self.vault.data_key(self.session, record.id)
        return RequestDetails(record, self.vault.open_json(dek, row.answers, Place.of(Request.answers, record.id)))

    # -- another Telegram account (services/reconnect.py, docs/decisions/0012) ----------------------

    def _reconnect_hash(self, request_id: str, secret: str) -> str:
        return self.vault.blind(RECONNECT_DOMAIN, f"{request_id}:{secret}")

    async def set_reconnect_key(self, request_id: str, secret: str) -> None:
        """Only a keyed hash bound to the request is kept; the secret itself is shown once and never stored."""
        await self._transition(request_id, reconnect_key=self._reconnect_hash(request_id, secret))

    async def reconnect_key_matches(self, request_id: str, secret: str) -> bool:
        stored = await self.session.scalar(select(Request.reconnect_key).where(Request.id == request_id))
        return stored is not None and hmac.compare_digest(stored, self._reconnect_hash(request_id, secret))

    async def move_requester(self, request_id: str, user_id: int, chat_id: int) -> None:
        """The request now belongs to another Telegram account: its blind index and its sealed chat id change,
        so the earlier account no longer reaches it, nor it them."""
        dek = await self.vault.data_key(self.session, request_id)
        try:
            async with self.session.begin_nested():
                await self._transition(
                    request_id,
                    requester_index=self.requester_index(user_id),
                    chat_id=self.vault.seal_text(dek, str(chat_id), Place.of(Request.chat_id, request_id)),
                    last_activity_at=clock.now(),
                )
        except IntegrityError:
            raise DuplicateOpenRequest from None  # that account opened a request of its own meanwhile

    async def requester_chat_id(self, request_id: str) -> int:
        sealed: bytes | None = await self.session.scalar(_SEALED_CHAT, {"request_id": request_id})
        if sealed is None:
            raise LookupError("request is gone")
        dek = await self.vault.data_key(self.session, request_id)
        return int(self.vault.open_text(dek, sealed, Place.of(Request.chat_id, request_id)))

    # -- listing -----------------------------------------------------------------------------------

    @staticmethod
    def _queue_order(query: Select[Any]) -> Select[Any]:
        return query.order_by(Request.urgency_rank, Request.created_at, Request.id)

    async def list_by_status(self, status: Status, *, limit: int = 50, offset: int = 0) -> list[RequestRecord]:
        query = self._queue_order(select(Request).where(Request.status == status, Request.requester_blocked.is_(False)))
        rows = await self.session.scalars(query.limit(limit).offset(offset))
        return [_record(row) for row in rows]

    async def count_by_status(self, status: Status) -> int:
        query = select(func.count()).where(Request.status == status, Request.requester_blocked.is_(False))
        return int(await self.session.scalar(query) or 0)

    async def list_assigned(self, volunteer_id: str) -> list[RequestRecord]:
        query = self._queue_order(
            select(Request).where(Request.assignee_id == volunteer_id, Request.status == Status.CLAIMED)
        )
        return [_record(row) for row in await self.session.scalars(query)]

    async def list_assigned_by_waiting(self, volunteer_id: str) -> list[RequestRecord]:
        """What a volunteer holds, the person waiting longest for an answer first; then the rest, longest held
        first."""
        query = (
            select(Request)
            .where(Request.assignee_id == volunteer_id, Request.status == Status.CLAIMED)
            .order_by(Request.waiting_since.is_(None), Request.waiting_since, Request.claimed_at, Request.id)
        )
        return [_record(row) for row in await self.session.scalars(query)]

    async def open_backlog_by_urgency(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(Request.urgency, func.count()).where(Request.status.in_(OPEN_STATUSES)).group_by(Request.urgency)
        )
        return {urgency: count for urgency, count in rows}

    async def closed_before(self, moment: datetime, *, limit: int | None = None) -> list[RequestRecord]:
        query = (
            select(Request)
            .where(Request.status == Status.CLOSED, Request.closed_at < moment)
            .order_by(Request.closed_at)
        )
        rows = await self.session.scalars(query.limit(limit))
        return [_record(row) for row in rows]

    async def open_idle_since(self, moment: datetime, *, limit: int | None = None) -> list[RequestRecord]:
        """Requests not closed (waiting, claimed, or from a blocked person) with no activity since ``moment``:
        nothing done by the team (``last_activity_at``, which the claim lease also reads) and no message from
        the person (their own messages in the chat, as tracked for /wipe)."""
        wrote_since = exists().where(
            ShownMessage.request_id == Request.id,
            ShownMessage.audience == "requester",
            ShownMessage.kind == "own",
            ShownMessage.sent_at >= moment,
        )
        query = select(Request).where(
            Request.status.in_(OPEN_STATUSES), Request.last_activity_at < moment, ~wrote_since
        )
        rows = await self.session.scalars(query.order_by(Request.last_activity_at).limit(limit))
        return [_record(row) for row in rows]

    async def claimed_idle_since(self, moment: datetime) -> list[RequestRecord]:
        rows = await self.session.scalars(
            select(Request).where(Request.status == Status.CLAIMED, Request.last_activity_at < moment)
        )
        return [_record(row) for row in rows]

    async def unescalated_urgent_since(self, moment: datetime) -> list[RequestRecord]:
        rows = await self.session.scalars(
            select(Request).where(
                Request.status == Status.NEW,
                Request.urgency == "48h",
                Request.escalated_at.is_(None),
                Request.requester_blocked.is_(False),
                Request.created_at < moment,
            )
        )
        return [_record(row) for row in rows]

    # -- state changes: each one conditional, so concurrent actors cannot both win ---------------

    async def _transition(self, request_id: str, *conditions: Any, **values: Any) -> RequestRecord | None:
        values.setdefault("updated_at", clock.now())
        result = await self.session.execute(
            update(Request)
            .where(Request.id == request_id, *conditions)
            .values(**values)
            .returning(Request.id)
            .execution_options(synchronize_session=False)
        )
        if result.scalar_one_or_none() is None:
            return None
        return await self.by_id(request_id)

    async def claim(self, request_id: str, volunteer_id: str) -> RequestRecord | None:
        now = clock.now()
        return await self._transition(
            request_id,
            Request.status == Status.NEW,
            Request.requester_blocked.is_(False),
            status=Status.CLAIMED,
            assignee_id=volunteer_id,
            claimed_at=now,
            last_activity_at=now,
        )

    async def release(self, request_id: str, volunteer_id: str) -> RequestRecord | None:
        return await self._transition(
            request_id,
            Request.status == Status.CLAIMED,
            Request.assignee_id == volunteer_id,
            status=Status.NEW,
            assignee_id=None,
            claimed_at=None,
            last_activity_at=clock.now(),
        )

    async def transfer(self, request_id: str, from_id: str, to_id: str) -> RequestRecord | None:
        return await self._transition(
            request_id,
            Request.status == Status.CLAIMED,
            Request.assignee_id == from_id,
            Request.requester_blocked.is_(False),
            assignee_id=to_id,
            last_activity_at=clock.now(),
        )

    async def close(self, request_id: str, volunteer_id: str, outcome: str) -> RequestRecord | None:
        now = clock.now()
        return await self._transition(
            request_id,
            Request.status == Status.CLAIMED,
            Request.assignee_id == volunteer_id,
            status=Status.CLOSED,
            outcome=outcome,
            closed_at=now,
            last_activity_at=now,
        )

    async def reopen(self, request_id: str) -> RequestRecord | None:
        """A closed request back in the queue, held by nobody: whoever held it has no access any more."""
        return await self._transition(
            request_id,
            Request.status == Status.CLOSED,
            Request.requester_blocked.is_(False),
            status=Status.NEW,
            assignee_id=None,
            outcome=None,
            closed_at=None,
            claimed_at=None,
            last_activity_at=clock.now(),
        )

    async def requester_has_other_open(self, request_id: str) -> bool:
        """Whether this request's requester has another open request (only one may be open at a time)."""
        index = await self.requester_index_of(request_id)
        query = select(func.count()).where(
            Request.requester_index == index, Request.id != request_id, Request.status.in_(OPEN_STATUSES)
        )
        return bool(await self.session.scalar(query))

    async def set_language(self, request_id: str, language: str) -> None:
        await self._transition(request_id, language=language)

    async def touch(self, request_id: str) -> None:
        await self._transition(request_id, last_activity_at=clock.now())

    async def set_flagged(self, request_id: str, flagged: bool) -> RequestRecord | None:
        return await self._transition(request_id, flagged=flagged)

    async def set_requester_blocked(self, request_id: str, blocked: bool) -> RequestRecord | None:
        return await self._transition(request_id, requester_blocked=blocked)

    # -- the person's unanswered messages (services/waiting.py) -------------------------------------

    async def note_unanswered(self, request_id: str) -> None:
        """One more message of the person waits for an answer (since the oldest one, if others wait)."""
        now = clock.now()
        await self.session.execute(
            update(Request)
            .where(Request.id == request_id)
            .values(unanswered=Request.unanswered + 1, waiting_since=func.coalesce(Request.waiting_since, now))
            .execution_options(synchronize_session=False)
        )

    async def clear_unanswered(self, request_id: str) -> int:
        """Nothing of the person waits any more; how many messages did. The row is locked first (PostgreSQL),
        so a message of the person arriving meanwhile is counted after this, never lost from the count."""
        waiting = await self.session.scalar(
            select(Request.unanswered).where(Request.id == request_id).with_for_update()
        )
        if not waiting:
            return 0
        await self.session.execute(
            update(Request)
            .where(Request.id == request_id)
            .values(unanswered=0, waiting_since=None)
            .execution_options(synchronize_session=False)
        )
        return int(waiting)

    async def mark_first_reply(self, request_id: str) -> datetime | None:
        """The moment of the first answer the person got, if this is it (None if one came before)."""
        now = clock.now()
        result = await self.session.execute(
            update(Request)
            .where(Request.id == request_id, Request.first_reply_at.is_(None))
            .values(first_reply_at=now)
            .returning(Request.id)
            .execution_options(synchronize_session=False)
        )
        return now if result.scalar_one_or_none() is not None else None

    async def mark_escalated(self, request_id: str) -> RequestRecord | None:
        return await self._transition(request_id, Request.escalated_at.is_(None), escalated_at=clock.now())

    async def expire_lease(self, request_id: str, moment: datetime) -> RequestRecord | None:
        return await self._transition(
            request_id,
            Request.status == Status.CLAIMED,
            Request.last_activity_at < moment,
            status=Status.NEW,
            assignee_id=None,
            claimed_at=None,
            # Not activity: nobody did anything. The inactivity retention still counts from the last person.
        )

    # -- blocking provocateurs ---------------------------------------------------------------------

    async def requester_index_of(self, request_id: str) -> str | None:
        return await self.session.scalar(select(Request.requester_index).where(Request.id == request_id))

    async def block_requester(self, request_id: str, blocked_by: str) -> bool:
        index = await self.requester_index_of(request_id)
        if index is None:
            return False
        if await self.session.get(BlockedRequester, index) is None:
            self.session.add(BlockedRequester(requester_index=index, blocked_at=clock.now(), blocked_by=blocked_by))
        _known_blocks(self.session)[index] = True
        await self.session.execute(
            update(Request).where(Request.requester_index == index).values(requester_blocked=True)
        )
        return True

    async def unblock_requester(self, request_id: str) -> bool:
        index = await self.requester_index_of(request_id)
        if index is None:
            return False
        await self.session.execute(delete(BlockedRequester).where(BlockedRequester.requester_index == index))
        _known_blocks(self.session)[index] = False
        await self.session.execute(
            update(Request).where(Request.requester_index == index).values(requester_blocked=False)
        )
        return True

    async def block_account(self, user_id: int, blocked_by: str | None) -> None:
        """Block one more account of a person already blocked (it came with their request's key)."""
        index = self.requester_index(user_id)
        if await self.session.get(BlockedRequester, index) is None:
            self.session.add(BlockedRequester(requester_index=index, blocked_at=clock.now(), blocked_by=blocked_by))
            await self.session.flush()

    async def is_blocked(self, user_id: int) -> bool:
        return await self._blocked(self.requester_index(user_id))

    def remember_blocked(self, requester_index: str, blocked: bool) -> None:
        """What another statement of this transaction read (bot/middlewares/roles.py)."""
        _known_blocks(self.session)[requester_index] = blocked

    async def _blocked(self, index: str) -> bool:
        """Looked up once per transaction: a requester's update asks up to three times (the intake's gate, the
        submission, the new request's flag), and the identity map remembers only a block that exists."""
        known = _known_blocks(self.session)
        if index not in known:
            known[index] = await self.session.get(BlockedRequester, index) is not None
        return known[index]

    # -- shredding ---------------------------------------------------------------------------------

    async def shred(self, request_id: str, *, kind: str = FORGET) -> bool:
        """Delete the data key and every row sealed under it, in the caller's transaction.

        Notes, outbox messages and shown-message references go with the request row (ON DELETE
        CASCADE); audit events stay but lose their pointer to it (ON DELETE SET NULL). Copies the database
        keeps of what is deleted here stop opening at the next key roll (storage/epochs.py).
        """
        await self.vault.destroy_data_key(self.session, request_id)
        result = await self.session.execute(delete(Request).where(Request.id == request_id).returning(Request.id))
        shredded = result.scalar_one_or_none() is not None
        if shredded:
            await note_shred(self.session, self.vault, request_id, kind)
        return shredded
