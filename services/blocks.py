"""Blocking a provocateur, and lifting the block (decision 0010: the access model)."""

from __future__ import annotations

from services.access import require_coordinator
from services.notices import Blocked
from services.use_case import UseCase
from storage.kinds import Status
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord


class BlockService(UseCase):
    """A coordinator blocks the person behind a request; nothing tells them."""

    async def block(self, coordinator: VolunteerRecord, code: str) -> RequestRecord:
        """A block is total: the person's requests can no longer be claimed, answered, handed on or
        reopened; their messages are accepted and dropped, /start opens nothing, an intake they are in ends
        at their next step. Nothing tells them anything new: what was still to be sent to them is dropped.
        The volunteer holding their case is told."""
        require_coordinator(coordinator)
        record = await self.s.queue.find(code)
        index = await self.s.requests.requester_index_of(record.id)
        await self.s.requests.block_requester(record.id, coordinator.id)
        await self.s.audit.record("blocked", actor_id=coordinator.id, request_id=record.id)
        for request_id in await self.s.requests.ids_for_index(index or ""):
            await self.s.outbox.drop_unsent_to_requester([request_id])
            await self.s.outbox.drop_unsent(request_id, "card")
            affected = await self.s.requests.by_id(request_id)
            if affected is None:
                continue
            await self.s.queue.retire_cards(affected, "blocked")
            if affected.status is Status.CLAIMED and affected.assignee_id is not None:
                await self.s.outbox.put(
                    Blocked(code=affected.code), volunteer_id=affected.assignee_id, request_id=affected.id
                )
        blocked = await self.s.requests.by_id(record.id)
        assert blocked is not None
        return blocked

    async def unblock(self, coordinator: VolunteerRecord, code: str) -> RequestRecord:
        require_coordinator(coordinator)
        record = await self.s.queue.find(code)
        await self.s.requests.unblock_requester(record.id)
        await self.s.audit.record("unblocked", actor_id=coordinator.id, request_id=record.id)
        unblocked = await self.s.requests.by_id(record.id)
        assert unblocked is not None
        if unblocked.status is Status.NEW:
            await self.s.queue.announce_again(unblocked)  # back in the queue: volunteers see its card again
        return unblocked
