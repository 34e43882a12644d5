"""The audit trail: every time a person's request is shown to someone, and every change made to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import clock
from storage.ids import new_id
from storage.models import AuditEvent


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor_id: str | None
    action: str
    detail: str | None


class AuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        action: str,
        *,
        actor_id: str | None,
        request_id: str | None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """``at``: the moment a counter counted the same event, when one did (defaults to now)."""
        self.session.add(
            AuditEvent(
                id=new_id(),
                at=at or clock.now(),
                actor_id=actor_id,
                action=action,
                request_id=request_id,
                detail=detail,
            )
        )

    async def for_request(self, request_id: str) -> list[AuditEntry]:
        rows = await self.session.scalars(
            select(AuditEvent).where(AuditEvent.request_id == request_id).order_by(AuditEvent.id)
        )
        return [AuditEntry(row.at, row.actor_id, row.action, row.detail) for row in rows]

    async def forget_request(self, request_id: str) -> int:
        """Remove every row about one request (its requester used /forget): no trail of it is kept."""
        result = await self.session.execute(
            delete(AuditEvent).where(AuditEvent.request_id == request_id).returning(AuditEvent.id)
        )
        return len(result.all())

    async def count(self, action: str, request_id: str) -> int:
        query = select(func.count()).where(AuditEvent.action == action, AuditEvent.request_id == request_id)
        return int(await self.session.scalar(query) or 0)
