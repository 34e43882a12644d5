"""The durable outbox: messages decided in a transaction, sent after it commits, retried until delivered.

A payload is a small JSON document sealed under the request's data key (so shredding a request drops
its undelivered messages too) or, for messages about no request, under the ephemeral key, which every key
roll replaces (storage/epochs.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import (
    BindParameter,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import clock
from storage.crypto import CryptoError, Key, Place
from storage.ids import new_id
from storage.kinds import Recipient, Status
from storage.models import OutboxMessage, Request, Volunteer
from storage.repository import Repository

_QUEUED = "tropa.outbox.queued"
log = structlog.get_logger()
# How long a sender that died keeps its messages from the others. A sender renews its lease just before
# each send, and one send is bounded well below this (bot/delivery.py: SEND_TIMEOUT).
LOCK_FOR = timedelta(seconds=15)


class Notice(Protocol):
    """A message as a use case queues it (services/notices.py): where it goes, why, and its stored layout."""

    @property
    def recipient(self) -> Recipient | None: ...

    @property
    def purpose(self) -> str: ...

    def payload(self) -> dict[str, Any]: ...


class LeaseLost(Exception):
    """A sender's lease ran out and another sender took the messages."""


@dataclass(frozen=True, slots=True)
class PendingMessage:
    id: str
    request_id: str | None
    recipient: str
    volunteer_id: str | None
    purpose: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    lease: datetime | None  # the locked_until this sender set: another sender's lease is a different value

    @property
    def album(self) -> str | None:
        content = self.payload.get("content")
        return str(content["album"]) if isinstance(content, dict) and content.get("album") else None


_TABLE = cast(Table, OutboxMessage.__table__)
_INSERT = insert(_TABLE)
# Statements the sender makes for every batch and every message sent, built once and run on the table: the ORM's
# bulk UPDATE and DELETE also look for the rows among the session's objects, whose lease nothing here reads again.
_LEASE = update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True))).values(locked_until=bindparam("lease"))
_DONE = delete(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
_UNLOCK = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("message_id"), _TABLE.c.locked_until.is_not_distinct_from(bindparam("held")))
    .values(locked_until=None)
)


@functools.cache
def _due_query(postgres: bool, limit: int) -> Select[OutboxMessage]:
    """The due lane heads, built once: the sender asks after every update that queued something, and building it
    (an alias of the table for the lane's earlier messages) cost more than running it."""
    now: BindParameter[datetime] = bindparam("now")
    earlier = aliased(OutboxMessage)
    lane_head = ~exists().where(
        earlier.lane == OutboxMessage.lane, earlier.id < OutboxMessage.id, earlier.failed_reason.is_(None)
    )
    query = (
        select(OutboxMessage)
        .outerjoin(Request, Request.id == OutboxMessage.request_id)
        .where(
            OutboxMessage.failed_reason.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
            or_(
                OutboxMessage.recipient != "assignee",
                and_(Request.assignee_id.is_not(None), Request.status == Status.CLAIMED),
            ),
            lane_head,
        )
        # A person waiting for a reply goes before a triage card: in a busy volunteer's chat the
        # one-message-a-second slot would otherwise always go to the backlog of older cards.
        .order_by(case((OutboxMessage.purpose == "card", 1), else_=0), OutboxMessage.id)
        .limit(limit)
    )
    return query.with_for_update(of=OutboxMessage, skip_locked=True) if postgres else query


class Outbox(Repository):
    async def _key_for(self, request_id: str | None) -> Key:
        """The key to seal a new message with: its request's, or the ephemeral key (which rolls)."""
        if request_id is None:
            return await self.vault.ephemeral_key(self.session)
        return await self.vault.data_key(self.session, request_id)

    async def _key_of(self, row: OutboxMessage) -> Key:
        if row.request_id is None:
            return await self.vault.ephemeral_key_for(self.session, row.payload)
        return await self.vault.data_key(self.session, row.request_id)

    async def put(
        self,
        notice: Notice | None = None,
        *,
        recipient: str | None = None,
        request_id: str | None = None,
        volunteer_id: str | None = None,
        delay: timedelta | None = None,
        lease: datetime | None = None,
        purpose: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> str:
        """Queue ``notice``; ``recipient`` only for a notice that can go to more than one kind of chat (a
        removal goes wherever the message is). ``purpose`` and ``payload`` instead of a notice: a message of a
        kind no notice class describes (tests queue plain texts). ``lease``: this process sends it itself
        right after the commit; the lease keeps other senders off it until then, and hands it to them if this
        process dies first."""
        if notice is not None:
            if recipient is not None and notice.recipient is not None and recipient != notice.recipient:
                raise ValueError("this notice goes to another kind of recipient")
            recipient = recipient or notice.recipient
            purpose, payload = notice.purpose, notice.payload()
        if recipient is None or purpose is None or payload is None:
            raise ValueError("a message needs a recipient, a purpose and a payload")
        if recipient not in set(Recipient):
            raise ValueError("unknown recipient kind")
        if recipient == "volunteer" and volunteer_id is None:
            raise ValueError("a volunteer message needs volunteer_id")
        if recipient in ("requester", "assignee") and request_id is None:
            raise ValueError("a requester or assignee message needs request_id")
        message_id = new_id()
        now = clock.now()
        key = await self._key_for(request_id)
        if lease is None:  # a message leased to this process is sent by it after the commit: no sender to wake
            self.session.info[_QUEUED] = True
        content = payload.get("content")
        album = content.get("album") if isinstance(content, dict) else None
        if any(isinstance(pending, (Request, Volunteer)) for pending in self.session.new):
            await self.session.flush()  # the row this message points to goes first
        # A plain INSERT, not an object for the unit of work: nothing reads the row back in this transaction,
        # and the flush at commit costs more than the statement (bench/intake_profile.py).
        await self.session.execute(
            _INSERT,
            {
                "id": message_id,
                "request_id": request_id,
                "recipient": recipient,
                "volunteer_id": volunteer_id,
                "purpose": purpose,
                "lane": self._lane(recipient, request_id, volunteer_id, payload),
                "album": self.vault.blind("outbox-album", str(album))[:32] if album else None,
                "payload": self.vault.seal_json(key, payload, Place.of(OutboxMessage.payload, message_id)),
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now + (delay or timedelta(0)),
                "locked_until": lease,
                "failed_reason": None,
            },
        )
        return message_id

    def _lane(self, recipient: str, request_id: str | None, volunteer_id: str | None, payload: dict[str, Any]) -> str:
        """Messages to one recipient keep their order; different recipients never wait for each other."""
        if recipient in ("requester", "assignee"):
            return f"{recipient}:{request_id}"
        if recipient == "volunteer":
            return f"volunteer:{volunteer_id}"
        if recipient == "group":
            return "group"
        return "chat:" + self.vault.blind("outbox-lane", int(payload["chat_id"]))[:32]

    @staticmethod
    def queued_in(session: AsyncSession) -> bool:
        """Whether this session's transaction put anything into the outbox for the sender to take (so it should
        wake once the transaction commits)."""
        return bool(session.info.get(_QUEUED))

    async def take_due(self, limit: int = 50) -> list[PendingMessage]:
        """Lease a batch of due messages to this sender, oldest first.

        Messages for the assignee of an unclaimed request are held: they become due when someone
        claims it. On PostgreSQL concurrent senders skip each other's rows (FOR UPDATE SKIP LOCKED).
        """
        now = clock.now()
        postgres = self.session.get_bind().dialect.name == "postgresql"
        query = _due_query(postgres, limit)
        rows = list(await self.session.scalars(query, {"now": now}))
        if not rows:
            return []
        rows = await self._with_album_siblings(rows, postgres)
        lease = now + LOCK_FOR
        await self.session.execute(_LEASE, {"ids": [row.id for row in rows], "lease": lease})
        pending = []
        for row in rows:
            try:
                pending.append(await self._pending(row, lease))
            except CryptoError:
                # Sealed under a key a roll destroyed (a writer outlived the grace period) or damaged: a dead
                # letter, recorded, instead of a batch no sender can ever get past.
                await self.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(failed_reason="unreadable", locked_until=None)
                )
                log.warning("outbox.unreadable", purpose=row.purpose)
        return pending

    async def renew(self, message_ids: list[str], lease: datetime | None) -> datetime:
        """Extend this sender's lease on messages it is about to send. LeaseLost when another sender
        holds any of them (this sender was too slow and its lease ran out): then it must not send them."""
        renewed = clock.now() + LOCK_FOR
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.locked_until == lease)
            .values(locked_until=renewed)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != len(message_ids):  # type: ignore[attr-defined]
            raise LeaseLost("another sender holds these messages")
        return renewed

    async def _pending(self, row: OutboxMessage, lease: datetime | None) -> PendingMessage:
        key = await self._key_of(row)
        return PendingMessage(
            id=row.id,
            request_id=row.request_id,
            recipient=row.recipient,
            volunteer_id=row.volunteer_id,
            purpose=row.purpose,
            payload=self.vault.open_json(key, row.payload, Place.of(OutboxMessage.payload, row.id)),
            attempts=row.attempts,
            created_at=row.created_at,
            lease=lease,
        )

    async def _with_album_siblings(self, heads: list[OutboxMessage], postgres: bool) -> list[OutboxMessage]:
        """A lane head that starts an album brings the album's other items (they follow it in the lane)."""
        rows: list[OutboxMessage] = []
        for head in heads:
            rows.append(head)
            if head.album is None:
                continue
            siblings = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.lane == head.lane,
                    OutboxMessage.album == head.album,
                    OutboxMessage.id > head.id,
                    OutboxMessage.failed_reason.is_(None),
                )
                .order_by(OutboxMessage.id)
                .limit(9)
            )
            if postgres:
                siblings = siblings.with_for_update(skip_locked=True)
            rows += list(await self.session.scalars(siblings))
        return rows

    async def drop_unsent(self, request_id: str, purpose: str) -> int:
        """Forget messages of one purpose about a request that have not gone out (stale triage cards)."""
        result = await self.session.execute(
            delete(OutboxMessage)
            .where(
                OutboxMessage.request_id == request_id,
                OutboxMessage.purpose == purpose,
                OutboxMessage.locked_until.is_(None),
                OutboxMessage.failed_reason.is_(None),
            )
            .returning(OutboxMessage.id)
        )
        return len(result.all())

    async def done(self, message_id: str) -> None:
        await self.done_many([message_id])

    async def done_many(self, message_ids: list[str]) -> None:
        await self.session.execute(_DONE, {"ids": message_ids})

    async def retry_at(self, message_id: str, moment: datetime, *, count_attempt: bool = True) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(
                next_attempt_at=moment,
                locked_until=None,
                attempts=OutboxMessage.attempts + (1 if count_attempt else 0),
            )
        )

    async def unlock(self, messages: list[PendingMessage]) -> None:
        """Give back leased messages this sender did not get to (they stay due); a lease that ran out
        and was taken by another sender is not ours to give back."""
        for message in messages:
            await self.session.execute(_UNLOCK, {"message_id": message.id, "held": message.lease})

    async def fail(self, message_id: str, reason: str) -> None:
        """Stop retrying; the row stays (payload sealed) so the failure is visible, until purged."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(failed_reason=reason[:32], locked_until=None, attempts=OutboxMessage.attempts + 1)
        )

    async def fail_pending(self, volunteer_id: str, purpose: str, reason: str) -> int:
        """Record every unsent message of ``purpose`` to one volunteer as failed (a chat that refuses one
        refuses them all); the ones a sender holds right now are left to it."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.volunteer_id == volunteer_id,
                OutboxMessage.purpose == purpose,
                OutboxMessage.failed_reason.is_(None),
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < clock.now()),
            )
            .values(failed_reason=reason[:32], locked_until=None)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())

    async def drop_unsent_to_volunteer(self, volunteer_id: str) -> int:
        """Forget what was still to be sent to a volunteer leaving the team, except removals. A message a
        sender holds right now is left to it (the sender takes it away again, bot/delivery.py)."""
        result = await self.session.execute(
            delete(OutboxMessage)
            .where(
                OutboxMessage.volunteer_id == volunteer_id,
                OutboxMessage.purpose != "hygiene",
                OutboxMessage.failed_reason.is_(None),
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < clock.now()),
            )
            .returning(OutboxMessage.id)
        )
        return len(result.all())

    async def drop_unsent_to_requester(self, request_ids: list[str]) -> int:
        """Forget what was still to be sent to a requester (a blocked one is told nothing new), except the
        removals that clean their chat."""
        if not request_ids:
            return 0
        result = await self.session.execute(
            delete(OutboxMessage)
            .where(
                OutboxMessage.request_id.in_(request_ids),
                OutboxMessage.recipient == "requester",
                OutboxMessage.purpose != "hygiene",
                OutboxMessage.failed_reason.is_(None),
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < clock.now()),
            )
            .returning(OutboxMessage.id)
        )
        return len(result.all())

    async def pending_count(self) -> int:
        query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.failed_reason.is_(None))
        return int(await self.session.scalar(query) or 0)

    async def drop_failed_before(self, moment: datetime) -> int:
        result = await self.session.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.failed_reason.is_not(None), OutboxMessage.created_at < moment)
            .returning(OutboxMessage.id)
        )
        return len(result.all())
