"""The anonymous relay between a requester and the volunteer who holds their request.

Messages travel as outbox payloads describing *what* was said (text, or a Telegram file id with its
caption), never as forwards: the other side sees "Volunteer Birch:" or "R-7KQ3XM:", not an account.
A requester's message that arrives before anyone claimed the request waits, sealed, and is delivered
on claim. Each delivered copy is remembered with its original (``storage/shown.py``), so a reply is
threaded on the other side and an edit edits the copy; album items carry their group id and the
sender delivers them as one album.
"""

from __future__ import annotations

from typing import Any

from services import workload
from services.access import require_holder, require_not_blocked
from services.errors import QueueError
from services.notices import RelayEdit, RelayIn, RelayOut, Sent
from services.sanitize import neutralize_controls
from services.use_case import UseCase
from storage.kinds import Recipient
from storage.requests import RequestRecord
from storage.shown import Peer
from storage.volunteers import VolunteerRecord

RELAYED_TYPES = ("text", "photo", "voice", "document", "video", "audio", "video_note", "sticker", "animation")
CAPTIONLESS = ("video_note", "sticker")
CAPTION_LIMIT = 1024
LABEL_ROOM = 64  # "Volunteer <pseudonym>:" or "R-XXXXXX:" in front of a caption
TEXT_LIMIT = 4096


def split_caption(content: dict[str, Any]) -> list[dict[str, Any]]:
    """A caption too long to carry a label goes ahead of its media as a text of its own."""
    caption = content.get("caption") or ""
    if content["type"] == "text" or content.get("album") or len(caption) + LABEL_ROOM <= CAPTION_LIMIT:
        return [content]
    return [{"type": "text", "text": caption}, {**content, "caption": None}]


def split_text(content: dict[str, Any]) -> list[dict[str, Any]]:
    text = content.get("text") or ""
    room = TEXT_LIMIT - LABEL_ROOM
    if content["type"] != "text" or len(text) <= room:
        return [content]
    return [{"type": "text", "text": text[start : start + room]} for start in range(0, len(text), room)]


def pieces(content: dict[str, Any]) -> list[dict[str, Any]]:
    """One message may become several, each one Bot API call: a label ahead of media that take no
    caption, a long caption ahead of its media, a long text in parts."""
    label = [{"type": "label", "of": content["type"]}] if content["type"] in CAPTIONLESS else []
    return label + [piece for part in split_caption(content) for piece in split_text(part)]


def visible(content: dict[str, Any]) -> dict[str, Any]:
    """What a message says, with the characters a reader cannot see taken out (services/sanitize.py).
    QueueError("empty") when no visible text is left of a text message."""
    cleaned = dict(content)
    if cleaned["type"] == "text":
        cleaned["text"] = neutralize_controls(str(cleaned.get("text") or ""))
        if not cleaned["text"].strip():
            raise QueueError("empty")
    elif cleaned.get("caption"):
        caption = neutralize_controls(str(cleaned["caption"]))
        cleaned["caption"] = caption if caption.strip() else None
    return cleaned


def _peer(peer: Peer) -> dict[str, Any]:
    return {"audience": peer.audience, "owner": peer.owner, "id": peer.message_id}


class RelayService(UseCase):
    async def from_requester(
        self, user_id: int, message_id: int, content: dict[str, Any], *, reply_to: int | None = None
    ) -> RequestRecord | None:
        """Queue a requester's message for whoever holds (or will hold) their open request."""
        request = await self.s.requests.open_for_requester(user_id)
        if request is None:
            return None
        content = visible(content)
        await self.s.shown.record(request_id=request.id, audience="requester", kind="own", message_id=message_id)
        if request.requester_blocked:
            return request  # accepted politely, delivered to nobody
        await self.s.conversation.keep(request, content)
        if not content.get("edited"):
            await workload.person_wrote(self.s, request)
        original = Peer("requester", None, message_id)
        threaded = await self.s.shown.counterpart(Peer("requester", None, reply_to)) if reply_to else None
        for piece in pieces(content):
            await self.s.outbox.put(
                RelayIn(code=request.code, content=piece, peer=_peer(original), reply_to=threaded),
                request_id=request.id,
            )
        return request

    async def to_requester(
        self,
        volunteer: VolunteerRecord,
        code: str,
        content: dict[str, Any],
        volunteer_message_id: int,
        *,
        reply_to: int | None = None,
        canned_language: str | None = None,
        confirm: bool = True,
        typed: bool = True,
    ) -> RequestRecord:
        """Queue a volunteer's message for the person; ``confirm``: the volunteer is told once it went out
        (``canned_language``: a canned reply's language, said with it). ``volunteer_message_id``: what they
        typed (``typed``: it leaves their chat with the case; a text starting with ``#key`` sends that canned
        reply in the person's language, the rest of it as a line of its own, services/canned.py), or the bot's
        message whose button sent it."""
        request = await self.s.queue.find(code)
        require_holder(volunteer, request)
        require_not_blocked(request)
        if typed and content["type"] == "text":
            expanded = await self.s.canned.expand(request, str(content.get("text") or ""))
            if expanded is not None:
                content, canned_language = {"type": "text", "text": expanded.text}, expanded.language
        content = visible(content)
        if typed:
            await self.s.shown.record(
                request_id=request.id,
                audience="volunteer",
                kind="own",
                message_id=volunteer_message_id,
                volunteer_id=volunteer.id,
            )
        original = Peer("volunteer", volunteer.id, volunteer_message_id)
        threaded = await self.s.shown.counterpart(Peer("volunteer", volunteer.id, reply_to)) if reply_to else None
        parts = pieces(content)
        for index, piece in enumerate(parts, start=1):
            last = index == len(parts)
            out = RelayOut(
                pseudonym=volunteer.pseudonym,
                content=piece,
                peer=_peer(original),
                reply_to=threaded,
                confirm=confirm and last,
                language=canned_language if last else None,
            )
            await self.s.outbox.put(out, request_id=request.id)
        await self.s.conversation.keep(request, content, volunteer=volunteer)
        await workload.volunteer_answered(self.s, request)
        await self.s.requests.touch(request.id)
        return request

    async def delivered(self, request: RequestRecord, notice: RelayOut, volunteer_id: str | None) -> None:
        """Telegram accepted a volunteer's message for the person: the volunteer sees where it went, as a
        reply to what they wrote."""
        if not notice.confirm or volunteer_id is None:
            return
        sent = Sent(code=request.code, reply_to=int(notice.peer["id"]), language=notice.language)
        await self.s.outbox.put(sent, volunteer_id=volunteer_id, request_id=request.id)

    # -- edits -------------------------------------------------------------------------------------

    async def edit_from_requester(self, user_id: int, message_id: int, content: dict[str, Any]) -> bool:
        """Carry a requester's edit to the copy the volunteer has; False if there is no open request."""
        request = await self.s.requests.open_for_requester(user_id)
        if request is None:
            return False
        if request.requester_blocked:
            return True
        try:
            content = visible(content)
        except QueueError:
            return True  # edited down to nothing visible: nothing to pass on
        # Only the copy the present holder has: a volunteer who let the case go gets nothing more of it.
        copies = [
            copy
            for copy in await self.s.shown.copies_of(Peer("requester", None, message_id))
            if copy.request_id == request.id and copy.volunteer_id is not None and request.held_by(copy.volunteer_id)
        ]
        if not copies:  # not delivered yet (or never): pass the new wording on as a message
            await self.from_requester(user_id, message_id, {**content, "edited": True})
            return True
        await self.s.conversation.keep(request, {**content, "edited": True})
        for copy in copies:
            await self.s.outbox.put(
                RelayEdit(message_id=copy.message_id, content=content, sender=request.code),
                recipient=Recipient.VOLUNTEER,
                volunteer_id=copy.volunteer_id,
                request_id=request.id,
            )
        return True

    async def edit_from_volunteer(self, volunteer: VolunteerRecord, message_id: int, content: dict[str, Any]) -> bool:
        """Carry a volunteer's edit to the requester's copy; False if the message was not relayed."""
        shown = await self.s.shown.find("volunteer", volunteer.id, message_id)
        if shown is None:
            return False
        request = await self.s.requests.by_id(shown.request_id)
        if request is None or not request.held_by(volunteer.id) or request.requester_blocked:
            return False
        try:
            content = visible(content)
        except QueueError:
            return False
        copies = await self.s.shown.copies_of(Peer("volunteer", volunteer.id, message_id))
        if not copies:  # not a message to the person (a note, a handover note), or not delivered yet
            return False
        await self.s.conversation.keep(request, {**content, "edited": True}, volunteer=volunteer)
        for copy in copies:
            await self.s.outbox.put(
                RelayEdit(message_id=copy.message_id, content=content, pseudonym=volunteer.pseudonym),
                recipient=Recipient.REQUESTER,
                request_id=request.id,
            )
        return True
