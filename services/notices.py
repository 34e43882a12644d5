"""What the outbox carries: one small frozen class per kind of message.

Each class says where its messages go (``recipient``; None when the caller says it, as for a removal, which
goes to whichever chat holds the message), why they are sent (``purpose``), and how the sender treats them:
whether a Telegram 400 means there is nothing left to do (``settled_by_bad_request``), whether they only take
something away and so reach anyone, on the team or not, blocked or not (``removal``), whether they carry what a
requester said and so reach only the volunteer holding the case (``case_content``).

``Outbox.put`` stores a notice as the sealed JSON of its fields under its ``kind``; the sender reads it back
with :func:`parse` and views render it by its class. The kinds and the field names are the stored layout:
rows queued by an earlier release read the same, so renaming one needs a migration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from storage.kinds import Recipient
from storage.requests import RequestDetails, RequestRecord

NOTICES: dict[str, type[Notice]] = {}


@dataclass(frozen=True)
class Notice:
    kind: ClassVar[str]
    recipient: ClassVar[Recipient | None]
    purpose: ClassVar[str]
    # Remembered with the request once Telegram accepted it (storage/shown.py), as this kind of message.
    track: ClassVar[str | None] = None
    settled_by_bad_request: ClassVar[bool] = False
    removal: ClassVar[bool] = False
    case_content: ClassVar[bool] = False
    offers_request: ClassVar[bool] = False  # offers a waiting request: withheld once nobody can take it
    secret_inside: ClassVar[bool] = False  # holds a secret: dropped, never kept as a dead letter, if it fails

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        assert cls.kind not in NOTICES, f"two notices of kind {cls.kind}"
        NOTICES[cls.kind] = cls

    def payload(self) -> dict[str, Any]:
        """The stored layout: the kind, every field (an optional one only when it is set), the tracking."""
        fields = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None or f.default is not None
        }
        return {"kind": self.kind, **fields, **({"track": self.track} if self.track else {})}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in payload.items() if name in known})


def notice_type(payload: dict[str, Any]) -> type[Notice] | None:
    """The class of a stored payload; None for a kind no class describes (tests queue plain texts)."""
    return NOTICES.get(str(payload.get("kind")))


def parse(payload: dict[str, Any]) -> Notice:
    """A stored payload as its notice. KeyError for an unknown kind."""
    return NOTICES[str(payload["kind"])].from_payload(payload)


# -- to the requester --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation(Notice):
    """A submitted request: its code and what happens next."""

    kind = "confirmation"
    recipient = Recipient.REQUESTER
    purpose = "confirmation"
    track = "confirmation"
    code: str


@dataclass(frozen=True)
class Claimed(Notice):
    kind = "claimed"
    recipient = Recipient.REQUESTER
    purpose = "notice"
    track = "notice"  # like every message in the requester's chat: /wipe and /forget take it away
    code: str
    pseudonym: str


@dataclass(frozen=True)
class Closed(Notice):
    kind = "closed"
    recipient = Recipient.REQUESTER
    purpose = "notice"
    track = "notice"
    code: str


@dataclass(frozen=True)
class ReconnectKey(Notice):
    """The key that attaches the request to another Telegram account, shown once (docs/decisions/0012). Sealed
    under the request's key only until Telegram takes it: the row goes then, and only a hash of it stays."""

    kind = "reconnect_key"
    recipient = Recipient.REQUESTER
    purpose = "notice"
    track = "reconnect_key"  # deleted after a day, or when the person says it is written down
    secret_inside = True
    code: str
    secret: str


@dataclass(frozen=True)
class Reconnected(Notice):
    """To the volunteer holding a request: its person now writes from another account. The code only."""

    kind = "reconnected"
    recipient = Recipient.ASSIGNEE
    purpose = "notice"
    code: str


@dataclass(frozen=True)
class HandedOver(Notice):
    """The request went to another volunteer (transferred, or taken from the queue after someone let it go)."""

    kind = "handed_over"
    recipient = Recipient.REQUESTER
    purpose = "notice"
    track = "notice"
    code: str
    pseudonym: str


# -- the queue, to volunteers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Card(Notice):
    """The triage card: coarse answers only, no free text, no identifiers. To the group, or to each volunteer."""

    kind = "card"
    recipient = None
    purpose = "card"
    track = "card"
    offers_request = True
    code: str
    language: str
    location: str | None
    urgency: str
    created_at: str  # ISO 8601
    situation: list[str] | None = None  # None: not asked (the fast path), or a card queued before issue 18
    status: str | None = None  # the one situation of a card queued before issue 18

    @classmethod
    def of(cls, request: RequestRecord, coarse: dict[str, Any]) -> Card:
        return cls(
            code=request.code,
            language=request.language,
            situation=coarse.get("situation"),
            location=coarse.get("location"),
            urgency=request.urgency,
            created_at=request.created_at.isoformat(),
        )


@dataclass(frozen=True)
class CardUpdate(Notice):
    """A triage card edited down to one line without its button: claimed, or out of the queue."""

    kind = "card_update"
    recipient = None
    purpose = "card_update"
    settled_by_bad_request = True
    removal = True
    code: str
    state: str
    message_id: int


@dataclass(frozen=True)
class FullCard(Notice):
    """The whole request, to the volunteer who holds it: sent at once when they claim it or ask for it again,
    through the outbox when it is handed to them (``reason``: "transferred")."""

    kind = "full_card"
    recipient = Recipient.VOLUNTEER
    purpose = "transfer"
    track = "full"
    case_content = True
    reason: str
    code: str
    language: str
    urgency: str
    created_at: str  # ISO 8601
    answers: dict[str, Any]

    @classmethod
    def of(cls, details: RequestDetails, *, reason: str) -> FullCard:
        record = details.record
        return cls(
            reason=reason,
            code=record.code,
            language=record.language,
            urgency=record.urgency,
            created_at=record.created_at.isoformat(),
            answers=details.answers,
        )


@dataclass(frozen=True)
class HandoverNote(Notice):
    """What the previous holder wrote for whoever takes the case next: ahead of the card they get."""

    kind = "handover_note"
    recipient = Recipient.VOLUNTEER
    purpose = "transfer"
    track = "handover"
    case_content = True
    code: str
    by: str  # a pseudonym
    at: str  # ISO 8601
    text: str


@dataclass(frozen=True)
class ConversationPage(Notice):
    """The kept conversation of a case (services/conversation.py), to the volunteer who takes it over: its
    newest page is shown, the page buttons read the rest again."""

    kind = "conversation"
    recipient = Recipient.VOLUNTEER
    purpose = "transfer"
    track = "conversation"
    case_content = True
    code: str
    messages: list[dict[str, Any]]  # storage/conversation.py: KeptMessage.to_dict()


@dataclass(frozen=True)
class Sent(Notice):
    """To a volunteer whose message Telegram accepted for the person: which case it went to, as a reply to it
    (``language``: the language a canned reply went out in)."""

    kind = "sent"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    track = "sent"
    code: str
    reply_to: int
    language: str | None = None


@dataclass(frozen=True)
class Undelivered(Notice):
    """To the volunteer whose answer Telegram would not deliver."""

    kind = "undelivered"
    recipient = Recipient.ASSIGNEE
    purpose = "notice"
    code: str
    reason: str


@dataclass(frozen=True)
class LeaseExpired(Notice):
    kind = "lease_expired"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    code: str
    hours: int


@dataclass(frozen=True)
class ErasedInactive(Notice):
    """Sealed under the ephemeral key, not the request's: it outlives the shred it reports."""

    kind = "erased_inactive"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    code: str
    days: int


@dataclass(frozen=True)
class Escalation(Notice):
    """To coordinators: an urgent request nobody took. It carries a Claim button, so it is a card: withheld once
    the request is taken, and edited down to one line when it is (services/queue.py: retire_cards)."""

    kind = "escalation"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    track = "card"
    offers_request = True
    code: str
    created_at: str  # ISO 8601


@dataclass(frozen=True)
class Flagged(Notice):
    kind = "flagged"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    code: str
    by: str  # a pseudonym


@dataclass(frozen=True)
class Inspected(Notice):
    """To the volunteer holding a case a coordinator opened: who, and why."""

    kind = "inspected"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    code: str
    by: str  # a pseudonym
    reason: str


@dataclass(frozen=True)
class Blocked(Notice):
    kind = "blocked"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    code: str


@dataclass(frozen=True)
class Forgotten(Notice):
    """To the volunteer who held a request its requester erased: its code only. Of no request (ephemeral key)."""

    kind = "forgotten"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    code: str


@dataclass(frozen=True)
class ScrubFailed(Notice):
    """To the admin who revoked someone whose chat the bot could not clean."""

    kind = "scrub_failed"
    recipient = Recipient.VOLUNTEER
    purpose = "notice"
    name: str
    reason: str


# -- the relay ---------------------------------------------------------------------------------------
# ``content``: what was said, as services/relay.py describes it ({"type": "text", "text": ...}, or a file id
# and caption); ``peer``: the original, so a reply on the other side threads to it.


@dataclass(frozen=True)
class RelayIn(Notice):
    """A requester's message, to whoever holds their request when it goes out."""

    kind = "relay_in"
    recipient = Recipient.ASSIGNEE
    purpose = "relay"
    track = "relay"
    case_content = True
    code: str
    content: dict[str, Any]
    peer: dict[str, Any]
    reply_to: int | None = None


@dataclass(frozen=True)
class RelayOut(Notice):
    """A volunteer's answer, to the requester, signed with the volunteer's pseudonym."""

    kind = "relay_out"
    recipient = Recipient.REQUESTER
    purpose = "relay"
    track = "relay"
    pseudonym: str
    content: dict[str, Any]
    peer: dict[str, Any]
    reply_to: int | None = None
    confirm: bool | None = None  # the volunteer is told once it went out (services/relay.py: delivered)
    language: str | None = None  # a canned reply's language, told with that


@dataclass(frozen=True)
class RelayEdit(Notice):
    """An edit carried to the copy on the other side: from a requester (``sender``, their request's code), or
    from a volunteer (``pseudonym``)."""

    kind = "relay_edit"
    recipient = None
    purpose = "relay"
    settled_by_bad_request = True
    case_content = True
    message_id: int
    content: dict[str, Any]
    sender: str | None = None
    pseudonym: str | None = None


# -- removals (services/hygiene.py) and an update's own effects ------------------------------------


@dataclass(frozen=True)
class Delete(Notice):
    """Messages deleted from one chat: a team member's or the group (``entries`` say when each was sent, so a
    late deletion becomes edits), or a person's chat named here (``chat_id``, ``locale``). ``report_to``: the
    admin told if it fails, about ``name``."""

    kind = "delete"
    recipient = None
    purpose = "hygiene"
    settled_by_bad_request = True
    removal = True
    message_ids: list[int]
    entries: list[dict[str, Any]] | None = None
    reason: str | None = None
    chat_id: int | None = None
    locale: str | None = None
    report_to: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Neutralize(Notice):
    """One of the bot's messages too old to delete, edited down to one line naming the request."""

    kind = "neutralize"
    recipient = None
    purpose = "hygiene"
    settled_by_bad_request = True
    removal = True
    message_id: int
    media: bool
    code: str
    reason: str
    report_to: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Method(Notice):
    """An edit or a deletion an update made, sent after its commit (bot/middlewares/retry.py: AfterCommit)."""

    kind = "method"
    recipient = Recipient.CHAT
    purpose = "effect"
    settled_by_bad_request = True
    method: str
    params: dict[str, Any]
    chat_id: int
