"""Closing kindly: the outcome first, then a goodbye to the person, sent before the case closes.

The goodbye goes out as the volunteer's last message (signed with their pseudonym, kept in the conversation),
while the relay still allows it; then the case closes as every close does, and the bot's own short line follows
it ("Your request … is closed", with /start and /forget), so the goodbye templates never repeat that line. A
blocked person gets neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.errors import QueueError
from services.notes import checked
from services.queue import OUTCOMES
from services.use_case import UseCase
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord


@dataclass(frozen=True)
class Farewell:
    """What closing a case with ``outcome`` would send: a goodbye in ``record.language``, unless ``silent``."""

    record: RequestRecord
    outcome: str

    @property
    def silent(self) -> bool:
        return self.record.requester_blocked  # a blocked person is told nothing new


class GoodbyeService(UseCase):
    async def offer(self, volunteer: VolunteerRecord, code: str, outcome: str) -> Farewell:
        """The outcome is chosen: the goodbye can be offered (the case is theirs, the outcome known)."""
        if outcome not in OUTCOMES:
            raise QueueError("unknown_outcome")
        return Farewell(await self.s.queue.held(volunteer, code), outcome)

    async def close(
        self, volunteer: VolunteerRecord, code: str, outcome: str, goodbye: str | None, message_id: int, *, typed: bool
    ) -> RequestRecord:
        """Send ``goodbye`` (None: none), then close. ``message_id``: the volunteer's own goodbye (``typed``),
        or the bot's message whose button sent the template."""
        farewell = await self.offer(volunteer, code, outcome)
        if goodbye is not None and not farewell.silent:
            text = checked(goodbye)
            content = {"type": "text", "text": text}
            await self.s.relay.to_requester(volunteer, code, content, message_id, confirm=False, typed=typed)
        return await self.s.queue.close(volunteer, code, outcome)
