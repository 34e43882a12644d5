"""Wrong reconnect keys, counted so that guessing one stays infeasible (docs/decisions/0012).

A failure is kept under blind indexes only: of the account that sent the key, and of the request code it
named (whether such a request exists or not). Rows older than a day count for nothing and are forgotten.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from storage import clock
from storage.ids import new_id
from storage.models import ReconnectFailure
from storage.repository import Repository


class ReconnectFailures(Repository):
    def account(self, user_id: int) -> str:
        return self.vault.blind("reconnect-account", user_id)

    def code(self, code: str) -> str:
        return self.vault.blind("reconnect-code", code)

    async def record(self, *subjects: str) -> None:
        now = clock.now()
        self.session.add_all(ReconnectFailure(id=new_id(), subject=subject, failed_at=now) for subject in subjects)
        await self.session.flush()

    async def since(self, subject: str, moment: datetime) -> int:
        query = select(func.count()).where(ReconnectFailure.subject == subject, ReconnectFailure.failed_at >= moment)
        return int(await self.session.scalar(query) or 0)

    async def forget_before(self, moment: datetime) -> int:
        result = await self.session.execute(
            delete(ReconnectFailure).where(ReconnectFailure.failed_at < moment).returning(ReconnectFailure.id)
        )
        return len(result.all())
