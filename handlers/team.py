"""Joining the team and managing it: /join, /invite, /volunteers, /revoke, /pseudonym."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from handlers.filters import HasRole
from handlers.refusals import answer_refusals
from services.context import Services
from storage.kinds import Role
from storage.volunteers import VolunteerRecord
from views import team as views
from views.callbacks import Revoke
from views.language import pick_language

# /join is open to anyone (that is how people join); everything else needs a role.


async def join(message: Message, command: CommandObject, services: Services) -> None:
    assert message.from_user is not None
    assert command.args
    language = pick_language(message.from_user.language_code, services.policy.default_language)
    volunteer = await services.team.join(
        user_id=message.from_user.id, chat_id=message.chat.id, code=command.args.split()[0], language=language
    )
    # The code is spent, but it should not sit in the chat either.
    await message.delete()
    await message.answer(**views.welcome(volunteer).as_kwargs())


async def invite(message: Message, command: CommandObject, services: Services, volunteer: VolunteerRecord) -> None:
    role = (command.args or "volunteer").strip().lower()
    issued = await services.team.invite(volunteer, role)
    await message.answer(protect_content=True, **views.invite_text(issued).as_kwargs())


async def volunteers(message: Message, services: Services, volunteer: VolunteerRecord) -> None:
    roster = await services.team.roster(volunteer)
    await message.answer(**views.roster_view(roster).as_kwargs())


async def revoke_menu(message: Message, services: Services, volunteer: VolunteerRecord) -> None:
    others = [v for v in await services.volunteers.list_all() if v.id != volunteer.id]
    if not others:
        await message.answer(views.nobody_else())
        return
    await message.answer(views.revoke_prompt(), reply_markup=views.revoke_markup(others))


async def revoke(
    callback: CallbackQuery, callback_data: Revoke, services: Services, volunteer: VolunteerRecord
) -> None:
    target = await services.team.revoke(volunteer, callback_data.volunteer)
    if isinstance(callback.message, Message):
        text = views.revoked(target, has_group=services.policy.volunteer_chat_id is not None)
        await callback.message.edit_text(text=text)
    await callback.answer()


async def pseudonym(message: Message, command: CommandObject, services: Services, volunteer: VolunteerRecord) -> None:
    if not command.args:
        await message.answer(views.pseudonym_now(volunteer.pseudonym))
        return
    name = await services.team.set_pseudonym(volunteer, command.args)
    await message.answer(views.pseudonym_changed(name))


def build_joining() -> Router:
    router = answer_refusals(Router(name="joining"))
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(join, Command("join"), F.text.regexp(r"^/join(@\w+)?\s+\S+"))
    return router


def build_router() -> Router:
    router = answer_refusals(Router(name="team"))
    router.message.filter(F.chat.type == ChatType.PRIVATE, HasRole(Role.VOLUNTEER))
    router.callback_query.filter(HasRole(Role.ADMIN))
    router.message.register(invite, Command("invite"), HasRole(Role.ADMIN))
    router.message.register(volunteers, Command("volunteers"), HasRole(Role.COORDINATOR))
    router.message.register(revoke_menu, Command("revoke"), HasRole(Role.ADMIN))
    router.callback_query.register(revoke, Revoke.filter())
    router.message.register(pseudonym, Command("pseudonym"))
    return router
