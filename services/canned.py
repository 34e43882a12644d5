"""Canned replies: texts coordinators keep in each language, that volunteers send with /reply CODE #KEY."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from services.access import require_coordinator
from services.errors import QueueError
from services.notes import NOTE_MAX
from services.sanitize import neutralize_controls
from storage.canned import CannedReplies
from storage.kinds import Language
from storage.volunteers import VolunteerRecord

if TYPE_CHECKING:
    from services.context import Services

CANNED_KEY = re.compile(r"[a-z0-9_-]{1,32}")
# Where a canned reply missing in the requester's language is looked for next.
CANNED_FALLBACK = (Language.EN, Language.RU, Language.UK)


class CannedService:
    """Reading, sending and keeping canned replies; only coordinators change them."""

    def __init__(self, services: Services) -> None:
        self.s = services

    @property
    def _replies(self) -> CannedReplies:
        return CannedReplies(self.s.session, self.s.vault)

    async def text(self, key: str, language: str) -> str | None:
        """A canned reply in ``language``, or in the nearest language it exists in."""
        canned = self._replies
        for candidate in (language, *CANNED_FALLBACK):
            text = await canned.get(key, candidate)
            if text is not None:
                return text
        return None

    async def reply(self, code: str, key: str) -> str:
        """The canned reply ``key`` in the language of the request ``code``, to send to its requester."""
        request = await self.s.queue.find(code)
        text = await self.text(key.lower(), request.language)
        if text is None:
            raise QueueError("no_canned")
        return text

    @staticmethod
    def key(key: str) -> str:
        """A key a coordinator typed, as it is stored; QueueError when it cannot be one."""
        if not CANNED_KEY.fullmatch(key.lower()):
            raise QueueError("bad_canned_key")
        return key.lower()

    async def save(self, coordinator: VolunteerRecord, key: str, language: str, text: str) -> None:
        require_coordinator(coordinator)
        if not CANNED_KEY.fullmatch(key) or language not in set(Language):
            raise QueueError("bad_canned_key")
        text = neutralize_controls(text).strip()
        if not text or len(text) > NOTE_MAX:
            raise QueueError("too_long" if text else "empty")
        await self._replies.put(key, language, text)
        await self.s.audit.record("canned_saved", actor_id=coordinator.id, request_id=None, detail=f"{key}/{language}")

    async def delete(self, coordinator: VolunteerRecord, key: str) -> int:
        require_coordinator(coordinator)
        deleted = await self._replies.delete(key)
        await self.s.audit.record("canned_deleted", actor_id=coordinator.id, request_id=None, detail=key)
        return deleted

    async def listing(self) -> dict[str, list[str]]:
        return await self._replies.languages_by_key()
