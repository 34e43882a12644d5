"""Canned replies: texts coordinators keep in each language, that volunteers send to a person in the person's
language: from the case's Canned button, or typed as ``#key`` (``#key a line of my own`` adds a personal line).

A text missing in the person's language is taken from the nearest language they are likely to read: a Ukrainian
speaker reads Russian before English, a Russian speaker Ukrainian; an English speaker Russian, then Ukrainian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.access import require_coordinator, require_holder
from services.errors import QueueError
from services.notes import NOTE_MAX
from services.sanitize import neutralize_controls
from services.use_case import UseCase
from storage.canned import CannedReplies
from storage.kinds import Language
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord

CANNED_KEY = re.compile(r"[a-z0-9_-]{1,32}")
# Where a canned reply is looked for, for a person writing in each language: their own first.
CANNED_FALLBACK: dict[str, tuple[Language, ...]] = {
    Language.RU: (Language.RU, Language.UK, Language.EN),
    Language.UK: (Language.UK, Language.RU, Language.EN),
    Language.EN: (Language.EN, Language.RU, Language.UK),
}
# "#key" at the start of what a volunteer writes, then (optionally) a line of their own.
CANNED_MENTION = re.compile(r"#([A-Za-z0-9_-]{1,32})(?:\s+(.*))?", re.DOTALL)


def fallback(language: str) -> tuple[Language, ...]:
    return CANNED_FALLBACK.get(language, CANNED_FALLBACK[Language.EN])


@dataclass(frozen=True)
class CannedText:
    """One canned reply as someone is shown it: in ``language`` (the nearest to the reader's that it exists in),
    and every language it exists in."""

    key: str
    language: str
    text: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Expanded:
    text: str
    language: str


def pick(key: str, texts: dict[str, str], reader: str) -> CannedText | None:
    for language in fallback(reader):
        if language in texts:
            present = tuple(code for code in Language if code in texts)
            return CannedText(key, language, texts[language], present)
    return None


class CannedService(UseCase):
    """Reading, sending and keeping canned replies; only coordinators change them."""

    @property
    def _replies(self) -> CannedReplies:
        return CannedReplies(self.s.session, self.s.vault)

    async def texts(self, reader: str) -> list[CannedText]:
        """Every canned reply, each in the language nearest to ``reader``'s."""
        found = [pick(key, texts, reader) for key, texts in (await self._replies.texts_by_key()).items()]
        return [text for text in found if text is not None]

    async def for_case(self, volunteer: VolunteerRecord, code: str) -> tuple[RequestRecord, list[CannedText]]:
        """What the holder of a case can send its person: each canned reply in the person's language, or the
        nearest one."""
        record = await self.s.queue.find(code)
        require_holder(volunteer, record)
        return record, await self.texts(record.language)

    async def chosen(self, request: RequestRecord, key: str) -> CannedText:
        """Canned reply ``key`` for ``request``'s person; QueueError when there is no such reply."""
        texts = (await self._replies.texts_by_key()).get(key.lower(), {})
        found = pick(key.lower(), texts, request.language)
        if found is None:
            raise QueueError("no_canned")
        return found

    async def send(self, volunteer: VolunteerRecord, code: str, key: str, list_message_id: int) -> RequestRecord:
        """Canned reply ``key`` to the person of case ``code``, from the list's button (``list_message_id``)."""
        record = await self.s.queue.find(code)
        require_holder(volunteer, record)
        found = await self.chosen(record, key)
        content = {"type": "text", "text": found.text}
        return await self.s.relay.to_requester(
            volunteer, code, content, list_message_id, canned_language=found.language, typed=False
        )

    async def expand(self, request: RequestRecord, text: str) -> Expanded | None:
        """``#key`` and an optional line of the volunteer's own, as the text the person gets; None when the
        text does not start with a canned reply's key (it is sent as it is)."""
        match = CANNED_MENTION.fullmatch(text.strip())
        if match is None or not CANNED_KEY.fullmatch(match.group(1).lower()):
            return None
        found = await self.chosen(request, match.group(1))
        own = (match.group(2) or "").strip()
        return Expanded(f"{found.text}\n\n{own}" if own else found.text, found.language)

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
