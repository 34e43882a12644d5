"""Retention: requests shredded when their time is up (decision 0008), by the hourly job or `tropa purge`."""

from __future__ import annotations

from services import workload
from services.hygiene import clear_everywhere
from services.notices import ErasedInactive
from services.use_case import UseCase
from storage import clock
from storage.epochs import PURGE
from storage.requests import RequestRecord

PURGE_BATCH = 200  # requests of each kind one retention run shreds


class Retention(UseCase):
    """Shredding for retention, told to the holder and the coordinators by code only."""

    async def purge_expired(self, limit: int = PURGE_BATCH) -> int:
        """Shred what the retention periods say: a closed request that long after closing, any other request
        (waiting, claimed, a blocked person's) after that long with no activity. Counters stay; the holder
        and the coordinators are told the code only. At most ``limit`` of each kind, so the transaction stays
        short (a key roll's grace period counts on it); the hourly job, or `tropa purge`, does the rest."""
        shredded = 0
        for record in await self.s.requests.closed_before(clock.now() - self.s.policy.retention, limit=limit):
            shredded += await self.purge(record, notify=[])
        idle = await self.s.requests.open_idle_since(clock.now() - self.s.policy.inactive_after, limit=limit)
        coordinators = [v.id for v in await self.s.volunteers.coordinators()] if idle else []
        for record in idle:
            holder = [record.assignee_id] if record.assignee_id else []
            shredded += await self.purge(record, notify=list(dict.fromkeys([*holder, *coordinators])))
        return shredded

    async def purge(self, record: RequestRecord, notify: list[str]) -> int:
        """Shred one request for retention (also how a restore purges again what was purged after its backup);
        ``notify``: the volunteers told its code."""
        await self.s.audit.record("purged", actor_id=None, request_id=None)
        # Like /forget (decision 0011): what the team was shown of it leaves every chat and the group, and
        # the audit keeps no row about it; the counters stay, so the statistics outlive the records.
        await clear_everywhere(self.s, record, "purged")
        await self.s.audit.forget_request(record.id)
        for volunteer_id in notify:
            # Of no request (sealed under the ephemeral key), so the notice outlives the shred it reports.
            await self.s.outbox.put(
                ErasedInactive(code=record.code, days=self.s.policy.inactive_after.days), volunteer_id=volunteer_id
            )
        if not await self.s.requests.shred(record.id, kind=PURGE):
            return 0
        await workload.shredded(self.s, record)
        return 1
