"""What happens when nobody acts in time (periodic jobs, bot/app.py): a claimed request nobody touched goes back
to the queue, an urgent one nobody took is escalated to the coordinators."""

from __future__ import annotations

from services import metrics
from services.hygiene import clear_other_views, clear_volunteer_view
from services.notices import Escalation, LeaseExpired
from services.use_case import UseCase
from storage import clock
from storage.clock import iso_week


class Deadlines(UseCase):
    """Claim leases and escalations."""

    async def expire_leases(self) -> int:
        cutoff = clock.now() - self.s.policy.claim_lease
        expired = 0
        for record in await self.s.requests.claimed_idle_since(cutoff):
            holder = record.assignee_id
            released = await self.s.requests.expire_lease(record.id, cutoff)
            if released is None:
                continue
            expired += 1
            await self.s.audit.record("lease_expired", actor_id=holder, request_id=record.id)
            await clear_other_views(self.s, released, "lease_expired", keep=None)
            if holder is not None:
                await clear_volunteer_view(self.s, released, holder, "lease_expired")
                hours = int(self.s.policy.claim_lease.total_seconds() // 3600)
                await self.s.outbox.put(
                    LeaseExpired(code=record.code, hours=hours), volunteer_id=holder, request_id=record.id
                )
            await self.s.queue.announce_again(released, skip_volunteer=holder)
        return expired

    async def escalate(self) -> int:
        cutoff = clock.now() - self.s.policy.escalate_after
        escalated = 0
        coordinators = await self.s.volunteers.coordinators()
        for record in await self.s.requests.unescalated_urgent_since(cutoff):
            if await self.s.requests.mark_escalated(record.id) is None:
                continue
            escalated += 1
            now = clock.now()
            # At the moment the counter uses, so /forget can take exactly this contribution back.
            await self.s.audit.record("escalated", actor_id=None, request_id=record.id, at=now)
            await self.s.counters.bump(iso_week(now), metrics.ESCALATED, metrics.ALL)
            for coordinator in coordinators:
                await self.s.outbox.put(
                    Escalation(code=record.code, created_at=record.created_at.isoformat()),
                    volunteer_id=coordinator.id,
                    request_id=record.id,
                )
        return escalated
