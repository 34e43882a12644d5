"""Volunteer and coordinator commands, in a private chat with the bot; Claim buttons also in the group."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from handlers.case import ask_handover, offer_outcomes, offer_transfer, save_note
from handlers.filters import CaseCode, HasRole
from handlers.refusals import answer_refusals
from handlers.showing import edit_in_place, send_full_card, send_notes, send_tracked
from services.context import Services
from storage.kinds import Language, Role
from storage.requests import RequestDetails
from storage.volunteers import VolunteerRecord
from views import case as case_views
from views import coordinator as coordinator_views
from views import volunteer as views
from views.callbacks import Claim, InspectReason, LanguageChoice, NotesPage, QueuePageCb
from views.errors import usage
from views.language import language_changed, language_view


async def operator_help(message: Message, volunteer: VolunteerRecord) -> None:
    await message.answer(**views.volunteer_help(volunteer).as_kwargs())


async def operator_language(message: Message, i18n: I18n) -> None:
    await message.answer(**language_view(i18n.current_locale, switch=True).kwargs())


async def operator_language_chosen(
    callback: CallbackQuery,
    callback_data: LanguageChoice,
    services: Services,
    volunteer: VolunteerRecord,
    i18n: I18n,
) -> None:
    if callback_data.code not in i18n.available_locales:
        await callback.answer()
        return
    await services.volunteers.set_language(volunteer.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        if isinstance(callback.message, Message):
            await callback.message.edit_text(text=language_changed())
        await callback.answer()


# -- the queue ---------------------------------------------------------------------------------------


async def show_queue(message: Message, services: Services) -> None:
    text, markup = views.queue_view(await services.queue.page(0))
    await message.answer(**text.as_kwargs(), reply_markup=markup)


async def turn_queue_page(callback: CallbackQuery, callback_data: QueuePageCb, services: Services) -> None:
    text, markup = views.queue_view(await services.queue.page(callback_data.page))
    if isinstance(callback.message, Message):
        await edit_in_place(callback.message, **text.as_kwargs(), reply_markup=markup)
    await callback.answer()


async def show_mine(message: Message, services: Services, volunteer: VolunteerRecord, bot: Bot) -> None:
    """What they hold, the person waiting longest first: a row with its buttons for each (up to ten), each
    remembered with its case so it leaves the chat with it."""
    held = await services.queue.mine(volunteer)
    await message.answer(**case_views.mine_heading(len(held)).as_kwargs())
    for record in held[: case_views.MINE_ROWS]:
        row = case_views.mine_row(record)
        await send_tracked(bot, services, volunteer, record, row.text, "mine", markup=row.markup)
    if len(held) > case_views.MINE_ROWS:
        others = [record.code for record in held[case_views.MINE_ROWS :]]
        await message.answer(**case_views.mine_more(others).as_kwargs())


async def claim_command(message: Message, code: str, services: Services, volunteer: VolunteerRecord, bot: Bot) -> None:
    await send_full_card(bot, services, volunteer, await services.queue.claim(volunteer, code))


async def claim_button(
    callback: CallbackQuery, callback_data: Claim, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    await send_full_card(bot, services, volunteer, await services.queue.claim(volunteer, callback_data.code))
    await callback.answer(views.claimed())


async def show_request(message: Message, code: str, services: Services, volunteer: VolunteerRecord, bot: Bot) -> None:
    await send_full_card(bot, services, volunteer, await services.queue.show(volunteer, code))


async def inspect(message: Message, code: str, services: Services, volunteer: VolunteerRecord, bot: Bot) -> None:
    """A coordinator asks to open a request they do not hold: first the reason, then the request."""
    found = await services.queue.before_inspection(volunteer, code)
    if isinstance(found, RequestDetails):  # their own case: nothing to justify
        await send_full_card(bot, services, volunteer, found)
        return
    prompt = coordinator_views.inspect_prompt(found.code)
    await message.answer(**prompt.as_kwargs(), reply_markup=coordinator_views.inspect_markup(found.code))


async def inspect_chosen(
    callback: CallbackQuery, callback_data: InspectReason, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    inspection = await services.queue.inspect(volunteer, callback_data.code, callback_data.reason)
    record = inspection.details.record
    if isinstance(callback.message, Message):
        opened = coordinator_views.inspected_text(record.code, callback_data.reason)
        await callback.message.edit_text(**opened.as_kwargs())
    try:
        await send_full_card(bot, services, volunteer, inspection.details, holder=False)
        # Every page at once: a page button would be a way back in without a reason.
        for page in range(len(views.notes_pages(inspection.notes))):
            await send_notes(bot, services, volunteer, record, inspection.notes, page, buttons=False)
    except TelegramRetryAfter:
        raise  # flood control: the update is tried again whole (bot/middlewares/retry.py)
    except TelegramAPIError:
        # Telegram refused part of it. What did reach the chat is recorded, and the inspection commits with
        # it (the audit row, the holder's notice): nothing is ever shown without them.
        await callback.answer(coordinator_views.partly_refused(), show_alert=True)
        return
    await callback.answer()


async def release(message: Message, code: str, services: Services, volunteer: VolunteerRecord, bot: Bot) -> None:
    """Back to the queue, once a note for the next volunteer is written or skipped."""
    record, _ = await services.handover.prepare(volunteer, code)
    await ask_handover(bot, services, volunteer, record, None, None)


async def transfer(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    await offer_transfer(message, code, services, volunteer)


async def close(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    await offer_outcomes(message, code, services, volunteer)


async def reopen(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    record = await services.queue.reopen(volunteer, code)
    await message.answer(coordinator_views.reopened(record.code))


async def flag(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    record = await services.queue.flag(volunteer, code)
    await message.answer(views.flagged(record.code))


# -- notes and audit ---------------------------------------------------------------------------------


async def add_note(message: Message, code: str, text: str, services: Services, volunteer: VolunteerRecord) -> None:
    await save_note(message, services, volunteer, code, text)


async def show_notes(message: Message, code: str, services: Services, volunteer: VolunteerRecord, bot: Bot) -> None:
    record, notes = await services.notes.read(volunteer, code)
    await send_notes(bot, services, volunteer, record, notes, 0)


async def turn_notes_page(
    callback: CallbackQuery, callback_data: NotesPage, services: Services, volunteer: VolunteerRecord
) -> None:
    """Another page of notes: only for whoever holds the request now (the button is not the permission)."""
    record, notes = await services.notes.read(volunteer, callback_data.code)
    if isinstance(callback.message, Message):
        text, markup = views.notes_view(record.code, notes, callback_data.page)
        await edit_in_place(callback.message, **text.as_kwargs(), reply_markup=markup)
    await callback.answer()


async def show_audit(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    record, entries = await services.audit_trail.read(volunteer, code)
    await message.answer(protect_content=True, **coordinator_views.audit_view(record.code, entries).as_kwargs())


async def block(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    record = await services.blocks.block(volunteer, code)
    await message.answer(coordinator_views.blocked(record.code))


async def unblock(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    record = await services.blocks.unblock(volunteer, code)
    await message.answer(coordinator_views.unblocked(record.code))


# -- canned replies ------------------------------------------------------------------------------------


class CannedEntry(StatesGroup):
    text = State()


CANNED_LANGUAGES: tuple[str, ...] = tuple(Language)


async def canned(
    message: Message, command: CommandObject, services: Services, volunteer: VolunteerRecord, state: FSMContext
) -> None:
    parts = (command.args or "").split()
    if not parts:
        text, markup = views.canned_view(await services.canned.texts(volunteer.language))
        await message.answer(**text.as_kwargs(), reply_markup=markup)
        return
    if not volunteer.is_coordinator or parts[0] not in ("add", "del") or len(parts) != 2:
        await message.answer(usage("/canned, /canned add KEY, /canned del KEY"))
        return
    key = parts[1].lower()
    if parts[0] == "del":
        deleted = await services.canned.delete(volunteer, key)
        await message.answer(views.canned_deleted(key, deleted))
        return
    key = services.canned.key(key)
    await state.set_state(CannedEntry.text)
    await state.set_data({"canned_key": key, "canned_left": list(CANNED_LANGUAGES)})
    await _ask_canned(message, key, CANNED_LANGUAGES[0])


async def _ask_canned(message: Message, key: str, language: str) -> None:
    await message.answer(views.canned_ask(key, language))


async def canned_text(message: Message, services: Services, volunteer: VolunteerRecord, state: FSMContext) -> None:
    data = await state.get_data()
    key, left = str(data["canned_key"]), list(data["canned_left"])
    if message.text and not message.text.startswith("/skip"):
        await services.canned.save(volunteer, key, left[0], message.text)
    left = left[1:]
    if left:
        await state.update_data(canned_left=left)
        await _ask_canned(message, key, left[0])
        return
    await state.clear()
    languages = (await services.canned.listing()).get(key, [])
    await message.answer(views.canned_ready(key, languages))


async def canned_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(views.canned_stopped())


def build_router() -> Router:
    router = answer_refusals(Router(name="operator"))
    router.message.filter(F.chat.type == ChatType.PRIVATE, HasRole(Role.VOLUNTEER))
    router.callback_query.filter(HasRole(Role.VOLUNTEER))
    router.message.register(operator_help, CommandStart())
    router.message.register(operator_help, Command("help"))
    router.message.register(operator_language, Command("language"))
    router.callback_query.register(operator_language_chosen, LanguageChoice.filter(F.switch.is_(True)))
    router.message.register(show_queue, Command("queue"))
    router.callback_query.register(turn_queue_page, QueuePageCb.filter())
    router.message.register(show_mine, Command("mine"))
    router.message.register(claim_command, Command("claim"), CaseCode())
    router.callback_query.register(claim_button, Claim.filter())
    router.message.register(show_request, Command("show"), CaseCode())
    router.message.register(release, Command("release"), CaseCode())
    router.message.register(transfer, Command("transfer"), CaseCode())
    router.message.register(close, Command("close"), CaseCode())
    router.message.register(inspect, Command("inspect"), HasRole(Role.COORDINATOR), CaseCode())
    router.callback_query.register(inspect_chosen, InspectReason.filter(), HasRole(Role.COORDINATOR))
    router.message.register(reopen, Command("reopen"), HasRole(Role.COORDINATOR), CaseCode())
    router.message.register(flag, Command("flag"), CaseCode())
    router.message.register(add_note, Command("note"), CaseCode(text=True))
    router.message.register(show_notes, Command("notes"), CaseCode())
    router.callback_query.register(turn_notes_page, NotesPage.filter())
    router.message.register(show_audit, Command("audit"), HasRole(Role.COORDINATOR), CaseCode())
    router.message.register(block, Command("block"), HasRole(Role.COORDINATOR), CaseCode())
    router.message.register(unblock, Command("unblock"), HasRole(Role.COORDINATOR), CaseCode())
    router.message.register(canned_cancel, StateFilter(CannedEntry), Command("cancel"))
    router.message.register(canned_text, StateFilter(CannedEntry), F.text)
    router.message.register(canned, Command("canned"))
    return router
