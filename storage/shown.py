"""Messages the bot showed someone about a request: to thread replies, and to clean them up later.

The chat-side message ids are sealed under the request's data key; ``lookup`` is a blind index of
(audience, owner, message id), so a reply can find its request without a readable id in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update

from storage import clock
from storage.crypto import Place
from storage.ids import new_id
from storage.kinds import Status
from storage.models import Request, ShownMessage
from storage.repository import Repository

SHOWN_DOMAIN = "shown-message"


@dataclass(frozen=True, slots=True)
class Peer:
    """A message in someone's chat: who sees it (requester/volunteer/group), whose chat, which id."""

    audience: str
    owner: str | None
    message_id: int


@dataclass(frozen=True, slots=True)
class Shown:
    id: str
    request_id: str
    volunteer_id: str | None
    audience: str
    kind: str
    message_id: int
    peer_message_id: int | None
    sent_at: datetime
    extra: dict[str, Any] | None = None  # what a prompt asks for (services/prompts.py), sealed with the ids


class ShownMessages(Repository):
    def _lookup(self, audience: str, owner: str | None, message_id: int) -> str:
        return self.vault.blind(SHOWN_DOMAIN, f"{audience}:{owner or ''}:{message_id}")

    async def record(
        self,
        *,
        request_id: str,
        audience: str,
        kind: str,
        message_id: int,
        volunteer_id: str | None = None,
        peer: Peer | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Remember a message; ``peer`` is the original it was copied from (relays), in the other chat;
        ``extra``, sealed with it, what it is for."""
        row_id = new_id()
        peer_message_id = peer.message_id if peer else None
        key = await self.vault.data_key(self.session, request_id)
        ref: dict[str, Any] = {"m": message_id, "p": peer_message_id}
        if extra:
            ref["x"] = extra
        self.session.add(
            ShownMessage(
                id=row_id,
                request_id=request_id,
                volunteer_id=volunteer_id,
                audience=audience,
                kind=kind,
                lookup=self._lookup(audience, volunteer_id, message_id),
                peer_lookup=self._lookup(peer.audience, peer.owner, peer.message_id) if peer else None,
                ref=self.vault.seal_json(key, ref, Place.of(ShownMessage.ref, row_id)),
                sent_at=clock.now(),
            )
        )

    async def _decode(self, row: ShownMessage) -> Shown:
        key = await self.vault.data_key(self.session, row.request_id)
        ref = self.vault.open_json(key, row.ref, Place.of(ShownMessage.ref, row.id))
        return Shown(
            row.id,
            row.request_id,
            row.volunteer_id,
            row.audience,
            row.kind,
            ref["m"],
            ref["p"],
            row.sent_at,
            ref.get("x"),
        )

    async def find(self, audience: str, owner: str | None, message_id: int) -> Shown | None:
        row = await self.session.scalar(
            select(ShownMessage).where(ShownMessage.lookup == self._lookup(audience, owner, message_id))
        )
        return await self._decode(row) if row else None

    async def copies_of(self, original: Peer) -> list[Shown]:
        """The copies made of ``original`` in the other side's chat."""
        rows = await self.session.scalars(
            select(ShownMessage).where(
                ShownMessage.peer_lookup == self._lookup(original.audience, original.owner, original.message_id)
            )
        )
        return [await self._decode(row) for row in rows]

    async def counterpart(self, message: Peer) -> int | None:
        """For a message in one chat, the id of its relayed twin in the other chat: the original if
        ``message`` is a copy, else the copy made of it. Threads replies across the relay."""
        shown = await self.find(message.audience, message.owner, message.message_id)
        if shown is not None and shown.peer_message_id is not None:
            return shown.peer_message_id
        copies = await self.copies_of(message)
        return copies[0].message_id if copies else None

    async def for_request(
        self, request_id: str, *, audience: str | None = None, volunteer_id: str | None = None
    ) -> list[Shown]:
        query = select(ShownMessage).where(ShownMessage.request_id == request_id)
        if audience is not None:
            query = query.where(ShownMessage.audience == audience)
        if volunteer_id is not None:
            query = query.where(ShownMessage.volunteer_id == volunteer_id)
        return [await self._decode(row) for row in await self.session.scalars(query.order_by(ShownMessage.id))]

    async def stray_before(self, moment: datetime, kinds_allowed: frozenset[str]) -> list[Shown]:
        """Messages shown before ``moment`` to a team member who does not hold their request now (a
        coordinator's inspection, a copy that outlived a change of hands), except ``kinds_allowed``."""
        query = (
            select(ShownMessage)
            .join(Request, Request.id == ShownMessage.request_id)
            .where(
                ShownMessage.audience == "volunteer",
                ShownMessage.sent_at < moment,
                ShownMessage.kind.not_in(kinds_allowed),
                or_(
                    Request.status != Status.CLAIMED,
                    Request.assignee_id.is_(None),
                    Request.assignee_id != ShownMessage.volunteer_id,
                ),
            )
            .order_by(ShownMessage.id)
        )
        return [await self._decode(row) for row in await self.session.scalars(query)]

    async def of_kind(self, kind: str, *, sent_before: datetime | None = None) -> list[Shown]:
        """Messages of one kind (a reconnect key, say), the oldest first; only those sent before ``sent_before``
        when it is given."""
        query = select(ShownMessage).where(ShownMessage.kind == kind)
        if sent_before is not None:
            query = query.where(ShownMessage.sent_at < sent_before)
        return [await self._decode(row) for row in await self.session.scalars(query.order_by(ShownMessage.id))]

    async def for_volunteer(self, volunteer_id: str) -> list[Shown]:
        """Everything shown to one volunteer, about any request."""
        query = select(ShownMessage).where(ShownMessage.volunteer_id == volunteer_id).order_by(ShownMessage.id)
        return [await self._decode(row) for row in await self.session.scalars(query)]

    async def set_kind(self, ids: list[str], kind: str) -> None:
        if ids:
            await self.session.execute(update(ShownMessage).where(ShownMessage.id.in_(ids)).values(kind=kind))

    async def forget(self, ids: list[str]) -> None:
        if ids:
            await self.session.execute(delete(ShownMessage).where(ShownMessage.id.in_(ids)))
