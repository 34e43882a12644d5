"""Volunteers, coordinators and admins, and the one-time invites that make them.

Their Telegram ids are blind-indexed for lookup and sealed (system key) for messaging; pseudonyms are
sealed too, because a chosen pseudonym is often a name someone uses elsewhere.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, exists, literal, select, text, update

from storage import clock
from storage.crypto import Place
from storage.ids import new_id
from storage.kinds import Role
from storage.models import BlockedRequester, Invite, Volunteer
from storage.repository import Repository

VOLUNTEER_DOMAIN = "tg-volunteer"
INVITE_DOMAIN = "invite"
INVITE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
INVITE_LENGTH = 12


@dataclass(frozen=True, slots=True)
class VolunteerRecord:
    id: str
    role: Role
    language: str
    active: bool
    pseudonym: str
    created_at: datetime

    @property
    def is_coordinator(self) -> bool:
        return self.role.at_least(Role.COORDINATOR)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    code: str
    role: Role
    expires_at: datetime


# Built once (a statement made afresh for each update is walked again to find it in the cache). The outer
# join from a one-row anchor gives a row whether or not the person is a volunteer. Plain columns of the table,
# not an ORM entity: the look-up runs with every update, and loading an object cost twice the statement.
_VOLUNTEERS = cast(Table, Volunteer.__table__)
_WHO = (
    select(
        *(_VOLUNTEERS.c[name] for name in ("id", "role", "language", "active", "pseudonym", "created_at")),
        exists().where(BlockedRequester.requester_index == bindparam("requester_index")).label("blocked"),
    )
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(_VOLUNTEERS, and_(_VOLUNTEERS.c.tg_index == bindparam("tg_index"), _VOLUNTEERS.c.active.is_(True)))
)


class VolunteerRepository(Repository):
    def _index(self, user_id: int) -> str:
        return self.vault.blind(VOLUNTEER_DOMAIN, user_id)

    async def _record(self, row: Volunteer | Row[*tuple[Any, ...]]) -> VolunteerRecord:
        key = await self.vault.system_key(self.session)
        return VolunteerRecord(
            id=row.id,
            role=Role(row.role),
            language=row.language,
            active=row.active,
            pseudonym=self.vault.open_text(key, row.pseudonym, Place.of(Volunteer.pseudonym, row.id)),
            created_at=row.created_at,
        )

    async def create(self, *, user_id: int, chat_id: int, role: Role, pseudonym: str, language: str) -> VolunteerRecord:
        if role not in set(Role):
            raise ValueError("unknown role")
        key = await self.vault.system_key(self.session)
        existing = await self.session.scalar(select(Volunteer).where(Volunteer.tg_index == self._index(user_id)))
        volunteer_id = existing.id if existing else new_id()
        values = dict(
            chat_id=self.vault.seal_text(key, str(chat_id), Place.of(Volunteer.chat_id, volunteer_id)),
            pseudonym=self.vault.seal_text(key, pseudonym, Place.of(Volunteer.pseudonym, volunteer_id)),
            role=role,
            language=language,
            active=True,
            revoked_at=None,
        )
        if existing:  # a revoked volunteer invited again comes back under the same id
            for name, value in values.items():
                setattr(existing, name, value)
            row = existing
        else:
            row = Volunteer(id=volunteer_id, tg_index=self._index(user_id), created_at=clock.now(), **values)
            self.session.add(row)
        await self.session.flush()
        return await self._record(row)

    async def by_telegram(self, user_id: int, *, active_only: bool = True) -> VolunteerRecord | None:
        query = select(Volunteer).where(Volunteer.tg_index == self._index(user_id))
        if active_only:
            query = query.where(Volunteer.active.is_(True))
        row = await self.session.scalar(query)
        return await self._record(row) if row else None

    async def by_telegram_and_blocked(self, user_id: int, requester_index: str) -> tuple[VolunteerRecord | None, bool]:
        """The active volunteer with this Telegram id, if any, and whether ``requester_index`` is blocked, in one
        statement: the role look-up every update makes carries the question the intake's gate asks next."""
        row = (
            await self.session.execute(_WHO, {"tg_index": self._index(user_id), "requester_index": requester_index})
        ).one()
        return (await self._record(row) if row.id is not None else None), bool(row.blocked)

    async def by_id(self, volunteer_id: str) -> VolunteerRecord | None:
        row = await self.session.get(Volunteer, volunteer_id)
        return await self._record(row) if row else None

    async def list_all(self, *, active_only: bool = True) -> list[VolunteerRecord]:
        query = select(Volunteer).order_by(Volunteer.created_at)
        if active_only:
            query = query.where(Volunteer.active.is_(True))
        return [await self._record(row) for row in await self.session.scalars(query)]

    async def coordinators(self) -> list[VolunteerRecord]:
        """Everyone who coordinates: coordinators and admins."""
        return [v for v in await self.list_all() if v.is_coordinator]

    async def chat_id(self, volunteer_id: str) -> int:
        row = await self.session.get(Volunteer, volunteer_id)
        if row is None:
            raise LookupError("volunteer is gone")
        key = await self.vault.system_key(self.session)
        return int(self.vault.open_text(key, row.chat_id, Place.of(Volunteer.chat_id, volunteer_id)))

    async def set_pseudonym(self, volunteer_id: str, pseudonym: str) -> None:
        key = await self.vault.system_key(self.session)
        await self.session.execute(
            update(Volunteer)
            .where(Volunteer.id == volunteer_id)
            .values(pseudonym=self.vault.seal_text(key, pseudonym, Place.of(Volunteer.pseudonym, volunteer_id)))
        )

    async def lock_pseudonyms(self) -> None:
        """Serialise pseudonym changes until this transaction ends, so two people cannot both take a free
        name. Pseudonyms are sealed (no unique index can see them); SQLite has one writer anyway."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(text("SELECT pg_advisory_xact_lock(7406247)"))

    async def revoked_at(self, volunteer_id: str) -> datetime | None:
        return await self.session.scalar(select(Volunteer.revoked_at).where(Volunteer.id == volunteer_id))

    async def set_language(self, volunteer_id: str, language: str) -> None:
        await self.session.execute(update(Volunteer).where(Volunteer.id == volunteer_id).values(language=language))

    async def revoke(self, volunteer_id: str) -> bool:
        result = await self.session.execute(
            update(Volunteer)
            .where(Volunteer.id == volunteer_id, Volunteer.active.is_(True))
            .values(active=False, revoked_at=clock.now())
            .returning(Volunteer.id)
        )
        return result.scalar_one_or_none() is not None

    # -- invites -----------------------------------------------------------------------------------

    async def issue_invite(self, role: Role, valid_for: timedelta, created_by: str | None) -> IssuedInvite:
        if role not in set(Role):
            raise ValueError("unknown role")
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        now = clock.now()
        invite = Invite(
            id=new_id(),
            code_index=self.vault.blind(INVITE_DOMAIN, code),
            role=role,
            created_at=now,
            expires_at=now + valid_for,
            created_by=created_by,
        )
        self.session.add(invite)
        await self.session.flush()
        return IssuedInvite(code, Role(role), invite.expires_at)

    async def redeem_invite(self, code: str) -> Role | None:
        """Use an invite once; returns its role, or None if unknown, used or expired."""
        result = await self.session.execute(
            update(Invite)
            .where(
                Invite.code_index == self.vault.blind(INVITE_DOMAIN, code.strip().lower()),
                Invite.used_at.is_(None),
                Invite.expires_at > clock.now(),
            )
            .values(used_at=clock.now())
            .returning(Invite.role)
        )
        role = result.scalar_one_or_none()
        return Role(role) if role is not None else None
