"""SQLAlchemy models. Plaintext columns hold only what queue mechanics and statistics need.

Every column that holds something a person said, or a Telegram id to reach them, is ``Sealed`` (an
AES-GCM blob, see storage/crypto.py) and is listed in ``SEALED_COLUMNS``; every other column is listed in
``PLAINTEXT_COLUMNS`` with the reason it may be readable. tests/test_inventory.py proves the lists and the
models agree, so a new plaintext column cannot slip in unnoticed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 32
BLIND_LENGTH = 64

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both dialects (SQLite drops the zone, so it is stored naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use storage.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Sealed(TypeDecorator[bytes]):
    """An AES-GCM blob. A distinct type so the inventory test can find every encrypted column."""

    impl = LargeBinary
    cache_ok = True


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meta(Base):
    """Small facts about the database itself: the keyring's check value, the schema's creation."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class DataKey(Base):
    """A data key wrapped by a key-encryption key. Owner: a request id, or ``system``."""

    __tablename__ = "data_keys"
    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kek_id: Mapped[str] = mapped_column(String(8), index=True)
    wrapped: Mapped[bytes] = mapped_column(Sealed)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Volunteer(Base):
    __tablename__ = "volunteers"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tg_index: Mapped[str] = mapped_column(String(BLIND_LENGTH), unique=True)
    chat_id: Mapped[bytes] = mapped_column(Sealed)
    pseudonym: Mapped[bytes] = mapped_column(Sealed)
    role: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    code_index: Mapped[str] = mapped_column(String(BLIND_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"), nullable=True)


class Request(Base):
    __tablename__ = "requests"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    requester_index: Mapped[str] = mapped_column(String(BLIND_LENGTH), index=True)
    status: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    # The queue's order (most urgent first) as a number, so an index can serve the queue page.
    urgency_rank: Mapped[int] = mapped_column(SmallInteger, server_default=text("99"))
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    assignee_id: Mapped[str | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    requester_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # A keyed hash of the one-time secret that attaches this request to another Telegram account
    # (services/reconnect.py, docs/decisions/0012): never the secret itself.
    reconnect_key: Mapped[str | None] = mapped_column(String(BLIND_LENGTH), nullable=True)
    # The person's messages no volunteer has answered yet: how many, and since when (services/waiting.py).
    unanswered: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answers: Mapped[bytes] = mapped_column(Sealed)
    chat_id: Mapped[bytes] = mapped_column(Sealed)

    __table_args__ = (
        # One open request per requester, enforced by the database even under concurrent submits.
        Index(
            "uq_requests_one_open",
            "requester_index",
            unique=True,
            sqlite_where=text("status IN ('new', 'claimed')"),
            postgresql_where=text("status IN ('new', 'claimed')"),
        ),
        Index("ix_requests_queue", "status", "urgency", "created_at"),
        Index("ix_requests_waiting", "status", "requester_blocked", "urgency_rank", "created_at", "id"),
    )


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Written for whoever takes the case next (on a transfer or a release), and shown to them with it.
    handover: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    body: Mapped[bytes] = mapped_column(Sealed)


class CaseMessage(Base):
    """One relayed message of a case's conversation, kept for whoever holds it next (storage/conversation.py):
    sealed under the request's data key, at most ``KEPT_MESSAGES`` per request, gone with the request."""

    __tablename__ = "case_messages"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    body: Mapped[bytes] = mapped_column(Sealed)


class AuditEvent(Base):
    """Who did what to which request, when. Survives the request's shredding without pointing at it."""

    __tablename__ = "audit_events"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[str | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(
        ForeignKey("requests.id", ondelete="SET NULL"), nullable=True, index=True
    )
    detail: Mapped[str | None] = mapped_column(String(64), nullable=True)


class StatCounter(Base):
    """Aggregate counts per ISO week, updated in the same transaction as the event they count."""

    __tablename__ = "stat_counters"
    week: Mapped[str] = mapped_column(String(8), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(48), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class FsmRecord(Base):
    """aiogram FSM state; the key is already blinded and the data already sealed by the FSM wrapper."""

    __tablename__ = "fsm_state"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    data: Mapped[bytes | None] = mapped_column(Sealed, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OutboxMessage(Base):
    """A message to send after the transaction that decided it commits; see bot/delivery.py."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_lane", "lane", "id"),)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), nullable=True, index=True
    )
    recipient: Mapped[str] = mapped_column(String(16))
    volunteer_id: Mapped[str | None] = mapped_column(ForeignKey("volunteers.id", ondelete="CASCADE"), nullable=True)
    purpose: Mapped[str] = mapped_column(String(24))
    # One lane per recipient: messages in a lane go out in order, lanes do not wait for each other.
    lane: Mapped[str] = mapped_column(String(48))
    # Items of one album (a blind index of Telegram's media group id) travel as one sendMediaGroup.
    album: Mapped[str | None] = mapped_column(String(32), nullable=True)
    payload: Mapped[bytes] = mapped_column(Sealed)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ShownMessage(Base):
    """A message the bot showed someone about a request: for reply threading and for hygiene.

    ``lookup`` is a blind index of (audience, message id) so a reply can be matched without storing
    readable message ids; ``ref`` holds the chat-side ids sealed under the request's data key.
    """

    __tablename__ = "shown_messages"
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[str | None] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    audience: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[str] = mapped_column(String(BLIND_LENGTH), index=True)
    # The other side of a relayed pair (the original a copy was made from), for edits and replies.
    peer_lookup: Mapped[str | None] = mapped_column(String(BLIND_LENGTH), nullable=True, index=True)
    ref: Mapped[bytes] = mapped_column(Sealed)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockedRequester(Base):
    """A requester a coordinator blocked as a provocateur: their messages reach nobody, /start opens nothing.

    Kept by blind index, apart from requests, so a block outlives the request's shredding.
    """

    __tablename__ = "blocked_requesters"
    requester_index: Mapped[str] = mapped_column(String(BLIND_LENGTH), primary_key=True)
    blocked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_by: Mapped[str | None] = mapped_column(ForeignKey("volunteers.id", ondelete="SET NULL"), nullable=True)


class CannedReply(Base):
    """A reply template in one language, kept by coordinators; sealed like everything volunteers write."""

    __tablename__ = "canned_replies"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(2), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    text: Mapped[bytes] = mapped_column(Sealed)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a re-delivered update changes nothing twice."""

    __tablename__ = "processed_updates"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ShredRecord(Base):
    """A request shredded since the last key roll, by a blind index of its id only: ``tropa restore`` shreds it
    again in a backup taken before. A roll leaves every older backup unreadable, so it clears these."""

    __tablename__ = "shred_ledger"
    request_index: Mapped[str] = mapped_column(String(BLIND_LENGTH), primary_key=True)
    shredded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "forget" (the person erased it: no trail, counters taken back) or "purge" (retention: counters stay).
    kind: Mapped[str] = mapped_column(String(8))


class ReconnectFailure(Base):
    """A wrong reconnect key, by blind indexes only (the account that sent it, the request code it named), so
    guessing stays rate-limited across replicas; forgotten after a day."""

    __tablename__ = "reconnect_failures"
    __table_args__ = (Index("ix_reconnect_failures_subject", "subject", "failed_at"),)
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    subject: Mapped[str] = mapped_column(String(BLIND_LENGTH))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One row per periodic job and period: the primary key makes a second run of a period impossible."""

    __tablename__ = "job_runs"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


SEALED_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {
        ("data_keys", "wrapped"),
        ("volunteers", "chat_id"),
        ("volunteers", "pseudonym"),
        ("requests", "answers"),
        ("requests", "chat_id"),
        ("notes", "body"),
        ("case_messages", "body"),
        ("fsm_state", "data"),
        ("outbox", "payload"),
        ("shown_messages", "ref"),
        ("canned_replies", "text"),
    }
)

# Every column that is not sealed, and why it may be read without a key. A new column goes into one of the two
# lists, or tests/test_inventory.py fails. "random id": storage/ids.py, names no one; "blind index": a keyed
# HMAC (storage/keyring.py), a pseudonym that only the index key turns back into a Telegram id or a code.
PLAINTEXT_COLUMNS: dict[tuple[str, str], str] = {
    ("meta", "key"): "database facts: the name of a fact (key_check, kek.active, roll.started_at, ...)",
    ("meta", "value"): "database facts: key ids, the keyring's check value, moments of rolls and shreds",
    ("data_keys", "owner_id"): "key mechanics: a random request id, or system / ephemeral-<random id>",
    ("data_keys", "kek_id"): "key mechanics: which key-encryption key wraps it, for a roll's re-wrap",
    ("data_keys", "created_at"): "key mechanics: when the key was made",
    ("volunteers", "id"): "random id",
    ("volunteers", "tg_index"): "blind index of the volunteer's Telegram id",
    ("volunteers", "role"): "access control: volunteer, coordinator or admin",
    ("volunteers", "language"): "the language the bot writes to them in",
    ("volunteers", "active"): "access control: revoked or not",
    ("volunteers", "created_at"): "team mechanics: when they joined",
    ("volunteers", "revoked_at"): "team mechanics: when access ended",
    ("invites", "id"): "random id",
    ("invites", "code_index"): "blind index of the one-time code",
    ("invites", "role"): "access control: the role the code grants",
    ("invites", "created_at"): "invite mechanics: when it was issued",
    ("invites", "expires_at"): "invite mechanics: when it stops working",
    ("invites", "used_at"): "invite mechanics: used once, then never again",
    ("invites", "created_by"): "random id of the admin who issued it",
    ("requests", "id"): "random id",
    ("requests", "code"): "queue mechanics: the random case code volunteers quote",
    ("requests", "requester_index"): "blind index of the requester's Telegram id (one open request each)",
    ("requests", "status"): "queue mechanics: new, claimed or closed",
    ("requests", "urgency"): "queue mechanics: the queue's order",
    ("requests", "urgency_rank"): "queue mechanics: the queue's order as a number, for its index",
    ("requests", "language"): "the language the bot writes to the requester in",
    ("requests", "created_at"): "queue mechanics: waiting since",
    ("requests", "updated_at"): "queue mechanics: last change",
    ("requests", "claimed_at"): "statistics: time to claim",
    ("requests", "closed_at"): "statistics: time to close",
    ("requests", "last_activity_at"): "retention: shredded after a period without activity",
    ("requests", "escalated_at"): "queue mechanics: an unclaimed urgent request is escalated once",
    ("requests", "assignee_id"): "queue mechanics: random id of the volunteer holding the case",
    ("requests", "outcome"): "statistics: one of a fixed list of outcomes",
    ("requests", "flagged"): "queue mechanics: a volunteer flagged it as suspicious",
    ("requests", "requester_blocked"): "access control: nobody may claim or answer it",
    ("requests", "reconnect_key"): "keyed hash (blind index) of a one-time secret bound to the request id; opens "
    "nothing: only the secret, shown once to the person, matches it (docs/decisions/0012)",
    ("requests", "unanswered"): "queue mechanics: how many of the person's messages wait for an answer (/mine)",
    ("requests", "waiting_since"): "queue mechanics: since when the oldest unanswered message waits (/mine's order)",
    ("requests", "first_reply_at"): "statistics: time to the first answer, counted once",
    ("notes", "id"): "random id",
    ("notes", "request_id"): "random id of the request",
    ("notes", "author_id"): "random id of the volunteer who wrote it",
    ("notes", "created_at"): "the notes' order",
    ("notes", "handover"): "queue mechanics: a note for the next volunteer, shown with the case when it changes hands",
    ("case_messages", "id"): "random id, in the conversation's order",
    ("case_messages", "request_id"): "random id of the request",
    ("audit_events", "id"): "random id",
    ("audit_events", "at"): "audit: when",
    ("audit_events", "actor_id"): "audit: random id of the volunteer who acted",
    ("audit_events", "action"): "audit: one of a fixed list of actions",
    ("audit_events", "request_id"): "audit: random id of the request, cleared when it is shredded",
    ("audit_events", "detail"): "audit: a fixed code (reason, outcome, role, language, canned key) or a random id",
    ("stat_counters", "week"): "statistics: ISO week",
    ("stat_counters", "metric"): "statistics: what is counted",
    ("stat_counters", "bucket"): "statistics: one of a fixed list of answers, counted, never per person",
    ("stat_counters", "count"): "statistics: the count",
    ("fsm_state", "key"): "blind index: the FSM key with chat and user ids blinded (storage/fsm/encrypted.py)",
    ("fsm_state", "state"): "sealed by the FSM wrapper before it arrives (base64 text: aiogram wants a string)",
    ("fsm_state", "updated_at"): "retention: abandoned intakes are erased after a period",
    ("outbox", "id"): "random id, in sending order",
    ("outbox", "request_id"): "random id of the request",
    ("outbox", "recipient"): "outbox mechanics: requester, assignee, volunteer, group or chat",
    ("outbox", "volunteer_id"): "outbox mechanics: random id of the volunteer it goes to",
    ("outbox", "purpose"): "outbox mechanics: what kind of message (relay, notice, hygiene, ...)",
    ("outbox", "lane"): "outbox mechanics: recipient kind with a random id, or a blind index of a chat",
    ("outbox", "album"): "blind index of Telegram's media group id",
    ("outbox", "attempts"): "outbox mechanics: retries so far",
    ("outbox", "created_at"): "outbox mechanics: when it was queued",
    ("outbox", "next_attempt_at"): "outbox mechanics: when to try again",
    ("outbox", "locked_until"): "outbox mechanics: a sender's lease",
    ("outbox", "failed_reason"): "outbox mechanics: one of a fixed list of failures (blocked, gave_up, ...)",
    ("shown_messages", "id"): "random id",
    ("shown_messages", "request_id"): "random id of the request",
    ("shown_messages", "volunteer_id"): "random id of the volunteer it was shown to",
    ("shown_messages", "audience"): "hygiene: requester, volunteer or group",
    ("shown_messages", "kind"): "hygiene: what kind of message it was",
    ("shown_messages", "lookup"): "blind index of (audience, message id), for reply threading",
    ("shown_messages", "peer_lookup"): "blind index of the relayed message's other side",
    ("shown_messages", "sent_at"): "hygiene: deleted within 48 hours, edited down after that",
    ("blocked_requesters", "requester_index"): "blind index of the blocked requester's Telegram id",
    ("blocked_requesters", "blocked_at"): "access control: when",
    ("blocked_requesters", "blocked_by"): "random id of the coordinator who blocked them",
    ("canned_replies", "key"): "the template's short name, a coordinator's label of letters and digits",
    ("canned_replies", "language"): "the template's language",
    ("canned_replies", "id"): "random id",
    ("canned_replies", "updated_at"): "when the template last changed",
    ("processed_updates", "update_id"): "Telegram's number for an update, handled once; names no one",
    ("processed_updates", "handled_at"): "dedupe mechanics: old ids are cleared after a while",
    ("shred_ledger", "request_index"): "blind index of a shredded request's random id, for a restore",
    ("shred_ledger", "shredded_at"): "key mechanics: when, for the roll's deadline",
    ("shred_ledger", "kind"): "forget or purge",
    ("reconnect_failures", "id"): "random id",
    ("reconnect_failures", "subject"): "blind index of the account that sent a wrong key, or of the code it named",
    ("reconnect_failures", "failed_at"): "rate limit: failures of the last hour and day count",
    ("job_runs", "name"): "job mechanics: which periodic job",
    ("job_runs", "period"): "job mechanics: which period it ran for",
    ("job_runs", "started_at"): "job mechanics: when it started",
    ("job_runs", "finished_at"): "job mechanics: when it finished",
}
