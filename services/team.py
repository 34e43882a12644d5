"""Volunteers, coordinators and admins: invites, joining, pseudonyms, revocation."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from services.hygiene import clear_volunteer_view
from storage.volunteers import ROLES, IssuedInvite, VolunteerRecord

if TYPE_CHECKING:
    from services.context import Services

PSEUDONYM_WORDS = (
    "Birch", "Cedar", "Heron", "Linden", "Maple", "Otter", "Pine", "Raven", "Rowan", "Sparrow",
    "Swift", "Willow", "Aspen", "Crane", "Falcon", "Juniper", "Lark", "Alder", "Finch", "Hazel",
)  # fmt: skip
PSEUDONYM_PATTERN = re.compile(r"^[\w\- ]{2,32}$")


class TeamError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def generated_pseudonym() -> str:
    return f"{secrets.choice(PSEUDONYM_WORDS)}-{secrets.randbelow(90) + 10}"


class TeamService:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def invite(self, actor: VolunteerRecord | None, role: str) -> IssuedInvite:
        """Issue a one-time invite. ``actor`` None means the command line (the server's operator)."""
        if actor is not None and not actor.is_admin:
            raise TeamError("forbidden")
        if role not in ROLES:
            raise TeamError("unknown_role")
        invite = await self.s.volunteers.issue_invite(role, self.s.policy.invite_valid_for, actor.id if actor else None)
        await self.s.audit.record("invite_issued", actor_id=actor.id if actor else None, request_id=None, detail=role)
        return invite

    async def join(self, *, user_id: int, chat_id: int, code: str, language: str) -> VolunteerRecord:
        if await self.s.volunteers.by_telegram(user_id) is not None:
            raise TeamError("already")
        role = await self.s.volunteers.redeem_invite(code)
        if role is None:
            raise TeamError("bad_code")
        volunteer = await self.s.volunteers.create(
            user_id=user_id, chat_id=chat_id, role=role, pseudonym=generated_pseudonym(), language=language
        )
        await self.s.audit.record("joined", actor_id=volunteer.id, request_id=None, detail=role)
        return volunteer

    async def ensure_admins(self, admin_ids: tuple[int, ...], language: str) -> int:
        """Admins named in settings exist and are admins (in a private chat, chat id == user id)."""
        created = 0
        for user_id in admin_ids:
            existing = await self.s.volunteers.by_telegram(user_id, active_only=False)
            if existing is not None and existing.is_admin and existing.active:
                continue
            try:
                # Replicas starting together race here; whoever loses finds the row made by the other.
                async with self.s.session.begin_nested():
                    await self.s.volunteers.create(
                        user_id=user_id,
                        chat_id=user_id,
                        role="admin",
                        pseudonym=existing.pseudonym if existing else generated_pseudonym(),
                        language=existing.language if existing else language,
                    )
            except IntegrityError:
                continue
            created += 1
        return created

    async def roster(self, actor: VolunteerRecord) -> list[tuple[VolunteerRecord, int]]:
        if not actor.is_coordinator:
            raise TeamError("forbidden")
        return [
            (volunteer, len(await self.s.requests.list_assigned(volunteer.id)))
            for volunteer in await self.s.volunteers.list_all()
        ]

    async def revoke(self, actor: VolunteerRecord, volunteer_id: str) -> VolunteerRecord:
        if not actor.is_admin:
            raise TeamError("forbidden")
        target = await self.s.volunteers.by_id(volunteer_id)
        if target is None or not target.active:
            raise TeamError("no_such_volunteer")
        if target.id == actor.id:
            raise TeamError("self")
        await self.s.volunteers.revoke(target.id)
        await self.s.audit.record("revoked", actor_id=actor.id, request_id=None, detail=target.id)
        for request in await self.s.requests.list_assigned(target.id):
            released = await self.s.requests.release(request.id, target.id)
            if released is not None:
                await clear_volunteer_view(self.s, released, target.id, "revoked")
                await self.s.audit.record("released", actor_id=actor.id, request_id=request.id, detail="revoked")
                await self.s.queue.announce_again(released, skip_volunteer=target.id)
        return target

    async def set_pseudonym(self, volunteer: VolunteerRecord, pseudonym: str) -> str:
        pseudonym = " ".join(pseudonym.split())
        if not PSEUDONYM_PATTERN.fullmatch(pseudonym):
            raise TeamError("bad_pseudonym")
        await self.s.volunteers.set_pseudonym(volunteer.id, pseudonym)
        return pseudonym
