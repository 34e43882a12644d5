"""SQLAlchemy models. Plaintext columns hold only what queue mechanics and statistics need.

Every column that holds something a person said, or a Telegram id to reach them, is ``Sealed`` (an
AES-GCM blob, see storage/crypto.py) and is listed in ``SEALED_COLUMNS``; a test proves the list and
the models agree, so a new plaintext column cannot slip in unnoticed.
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
    """A message to send after the transaction that decided it commits; see services/delivery.py."""

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
        ("fsm_state", "data"),
        ("outbox", "payload"),
        ("shown_messages", "ref"),
        ("canned_replies", "text"),
    }
)
