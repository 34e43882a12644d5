"""Volunteers, coordinators and admins: invites, joining, pseudonyms, revocation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services import pseudonyms
from services.errors import TeamError
from services.hygiene import Report, clear_person
from services.use_case import UseCase
from storage.kinds import Language, Role
from storage.volunteers import IssuedInvite, VolunteerRecord

# Trees and birds, in the alphabet the volunteer's requesters mostly read: "Берёза-17" reads as a name to a
# Russian speaker, "Birch-17" as a foreign call sign.
PSEUDONYM_WORDS: dict[str, tuple[str, ...]] = {
    Language.EN: (
        "Birch", "Cedar", "Heron", "Linden", "Maple", "Otter", "Pine", "Raven", "Rowan", "Sparrow",
        "Swift", "Willow", "Aspen", "Crane", "Falcon", "Juniper", "Lark", "Alder", "Finch", "Hazel",
    ),
    Language.RU: (
        "Берёза", "Кедр", "Цапля", "Липа", "Клён", "Выдра", "Сосна", "Ворон", "Рябина", "Воробей",
        "Стриж", "Ива", "Осина", "Журавль", "Сокол", "Можжевельник", "Жаворонок", "Ольха", "Зяблик", "Орешник",
    ),
    Language.UK: (
        "Береза", "Кедр", "Чапля", "Липа", "Клен", "Видра", "Сосна", "Крук", "Горобина", "Горобець",
        "Стриж", "Верба", "Осика", "Журавель", "Сокіл", "Ялівець", "Жайворонок", "Вільха", "Зяблик", "Ліщина",
    ),
}  # fmt: skip
GENERATE_ATTEMPTS = 50


def generated_pseudonym(language: str, digits: int = 2) -> str:
    low = 10 ** (digits - 1)
    words = PSEUDONYM_WORDS.get(language, PSEUDONYM_WORDS[Language.EN])
    return f"{secrets.choice(words)}-{secrets.randbelow(9 * low) + low}"


@dataclass
class AdminsReport:
    """What ``ensure_admins`` did with the admins named in TROPA_ADMIN_IDS, for the operator's console."""

    created: int = 0
    kept_revoked: list[tuple[str, datetime | None]] = field(default_factory=list)  # pseudonym, revoked at


class TeamService(UseCase):
    async def invite(self, actor: VolunteerRecord | None, role: str) -> IssuedInvite:
        """Issue a one-time invite. ``actor`` None means the command line (the server's operator)."""
        if actor is not None and not actor.is_admin:
            raise TeamError("forbidden")
        if role not in set(Role):
            raise TeamError("unknown_role")
        invite = await self.s.volunteers.issue_invite(
            Role(role), self.s.policy.invite_valid_for, actor.id if actor else None
        )
        await self.s.audit.record("invite_issued", actor_id=actor.id if actor else None, request_id=None, detail=role)
        return invite

    async def join(self, *, user_id: int, chat_id: int, code: str, language: str) -> VolunteerRecord:
        if await self.s.volunteers.by_telegram(user_id) is not None:
            raise TeamError("already")
        role = await self.s.volunteers.redeem_invite(code)
        if role is None:
            raise TeamError("bad_code")
        volunteer = await self.s.volunteers.create(
            user_id=user_id,
            chat_id=chat_id,
            role=role,
            pseudonym=await self._free_pseudonym(language),
            language=language,
        )
        await self.s.audit.record("joined", actor_id=volunteer.id, request_id=None, detail=role)
        return volunteer

    async def ensure_admins(self, admin_ids: tuple[int, ...], language: str) -> AdminsReport:
        """Admins named in settings exist and are admins (in a private chat, chat id == user id).

        Someone an admin revoked through the bot stays revoked, listed or not: a start of the bot must not
        undo a revocation. The report names them so the operator is told why (bot/app.py)."""
        report = AdminsReport()
        for user_id in admin_ids:
            existing = await self.s.volunteers.by_telegram(user_id, active_only=False)
            if existing is not None and not existing.active:
                report.kept_revoked.append((existing.pseudonym, await self.s.volunteers.revoked_at(existing.id)))
                continue
            if existing is not None and existing.is_admin:
                continue
            try:
                # Replicas starting together race here; whoever loses finds the row made by the other.
                async with self.s.session.begin_nested():
                    await self.s.volunteers.create(
                        user_id=user_id,
                        chat_id=user_id,
                        role=Role.ADMIN,
                        pseudonym=existing.pseudonym if existing else await self._free_pseudonym(language),
                        language=existing.language if existing else language,
                    )
            except IntegrityError:
                continue
            report.created += 1
        return report

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
        # Scrub first: everything the bot ever showed them (cases, cards, notes, inspections) is queued for
        # removal in the transaction that ends their access, and removals reach them after it ended
        # (services/recipients.py). Whoever revoked them is told if their chat cannot be cleaned.
        await clear_person(self.s, target.id, "revoked", report=Report(actor.id, target.pseudonym))
        await self.s.outbox.drop_unsent_to_volunteer(target.id)
        for request in await self.s.requests.list_assigned(target.id):
            released = await self.s.requests.release(request.id, target.id)
            if released is not None:
                await self.s.audit.record("released", actor_id=actor.id, request_id=request.id, detail="revoked")
                await self.s.queue.announce_again(released, skip_volunteer=target.id)
        await self.s.volunteers.revoke(target.id)
        await self.s.audit.record("revoked", actor_id=actor.id, request_id=None, detail=target.id)
        return target

    async def set_pseudonym(self, volunteer: VolunteerRecord, pseudonym: str) -> str:
        try:
            name = pseudonyms.checked(pseudonym)
        except pseudonyms.PseudonymError as error:
            raise TeamError(error.reason) from None
        await self.s.volunteers.lock_pseudonyms()
        if not await self._pseudonym_free(name, volunteer.id):
            raise TeamError("pseudonym_taken")
        await self.s.volunteers.set_pseudonym(volunteer.id, name)
        return name

    async def _pseudonym_free(self, name: str, for_volunteer: str | None = None) -> bool:
        """No one else on the team, present or past (the audit names past members), looks like ``name``."""
        wanted = pseudonyms.skeleton(name)
        return all(
            pseudonyms.skeleton(other.pseudonym) != wanted
            for other in await self.s.volunteers.list_all(active_only=False)
            if other.id != for_volunteer
        )

    async def _free_pseudonym(self, language: str) -> str:
        await self.s.volunteers.lock_pseudonyms()
        for attempt in range(GENERATE_ATTEMPTS):
            name = generated_pseudonym(language, 2 if attempt < GENERATE_ATTEMPTS // 2 else 4)
            if await self._pseudonym_free(name):
                return name
        raise RuntimeError("no free pseudonym found")
