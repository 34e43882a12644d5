"""A volunteer working a case by buttons: Reply, Canned, Note, Notes, Transfer, Release, Close on every case, the
prompts they answer by replying, the handover note, the goodbye, the kept conversation's pages.

Each button names its case; the use case behind it checks again that the presser holds it (services/access.py),
so a button of a case that left them, or one forged, changes nothing and says only "not in your hands". The typed
commands (handlers/operator.py, relay.py) reach the same use cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message
from aiogram.utils.formatting import Text

from handlers.filters import BoundReply, HasRole
from handlers.refusals import answer_refusals
from handlers.showing import edit_in_place, pressed_on, send_notes, send_prompt, send_tracked
from services.context import Services
from services.prompts import Ask, Bound
from storage.requests import RequestRecord
from storage.volunteers import VolunteerRecord
from views import case as views
from views import volunteer as volunteer_views
from views.callbacks import (
    CannedPage,
    CannedSend,
    CaseAction,
    CaseDo,
    CloseOutcome,
    ConversationPageCb,
    Farewell,
    GoodbyeChoice,
    Handover,
    TransferTo,
)

# -- the buttons on a case -------------------------------------------------------------------------------


PROMPTED: dict[CaseDo, tuple[Ask, Callable[[str], Text]]] = {
    CaseDo.REPLY: (Ask.REPLY, views.reply_prompt),
    CaseDo.NOTE: (Ask.NOTE, views.note_prompt),
}


async def prompt_pressed(
    callback: CallbackQuery, callback_data: CaseAction, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    """Reply or Note: a prompt bound to the case; what the volunteer writes in reply to it goes there."""
    ask, prompt = PROMPTED[callback_data.do]
    record = await services.queue.held(volunteer, callback_data.code)
    await send_prompt(bot, services, volunteer, record, ask, prompt(record.code))
    await callback.answer()


async def notes_pressed(
    callback: CallbackQuery, callback_data: CaseAction, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    record, notes = await services.notes.read(volunteer, callback_data.code)
    await send_notes(bot, services, volunteer, record, notes, 0)
    await callback.answer()


async def canned_pressed(
    callback: CallbackQuery, callback_data: CaseAction, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    record, texts = await services.canned.for_case(volunteer, callback_data.code)
    view = views.canned_for_case(record.code, record.language, texts)
    await send_tracked(bot, services, volunteer, record, view.text, "canned", markup=view.markup)
    await callback.answer()


async def canned_chosen(
    callback: CallbackQuery, callback_data: CannedSend, services: Services, volunteer: VolunteerRecord
) -> None:
    """Sent at once; the volunteer sees "→ R-… ✓" and its language under the list when it went out."""
    listing = pressed_on(callback)
    await services.canned.send(volunteer, callback_data.code, callback_data.key, listing.message_id)
    await callback.answer()


async def release_pressed(
    callback: CallbackQuery, callback_data: CaseAction, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    record, _ = await services.handover.prepare(volunteer, callback_data.code)
    await ask_handover(bot, services, volunteer, record, None, None)
    await callback.answer()


async def ask_handover(
    bot: Bot,
    services: Services,
    volunteer: VolunteerRecord,
    record: RequestRecord,
    to: str | None,
    name: str | None,
    *,
    picker: Message | None = None,
) -> None:
    """What happens next, with the way to skip the note (on the transfer's ``picker``, which it replaces), and
    the prompt for the note itself."""
    choice = views.handover_choice(record.code, to, name)
    if picker is None:
        await send_tracked(bot, services, volunteer, record, choice.text, "choice", markup=choice.markup)
    else:
        await edit_in_place(picker, **choice.kwargs())
        await services.shown.record(
            request_id=record.id,
            audience="volunteer",
            kind="choice",
            message_id=picker.message_id,
            volunteer_id=volunteer.id,
        )
    prompt = views.handover_prompt(record.code, name)
    await send_prompt(bot, services, volunteer, record, Ask.HANDOVER, prompt, to=to)


async def offer_transfer(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    """Whom to hand the case to: every other active volunteer (/transfer CODE, or the Transfer button)."""
    record = await services.queue.held(volunteer, code, handing_on=True)
    candidates = [v for v in await services.volunteers.list_all() if v.id != volunteer.id]
    if not candidates:
        await message.answer(volunteer_views.nobody_to_hand_to())
        return
    await message.answer(
        volunteer_views.transfer_prompt(record.code),
        reply_markup=volunteer_views.transfer_markup(record.code, candidates),
    )


async def transfer_chosen(
    callback: CallbackQuery, callback_data: TransferTo, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    """The volunteer chose whom: now the handover note (or not); the case moves when it is written or skipped."""
    record, target = await services.handover.prepare(volunteer, callback_data.code, callback_data.to)
    assert target is not None
    await ask_handover(bot, services, volunteer, record, target.id, target.pseudonym, picker=pressed_on(callback))
    await callback.answer()


async def handover_skipped(
    callback: CallbackQuery, callback_data: Handover, services: Services, volunteer: VolunteerRecord
) -> None:
    await hand_over(pressed_on(callback), services, volunteer, callback_data.code, callback_data.to or None, None)
    await callback.answer()


async def hand_over(
    message: Message, services: Services, volunteer: VolunteerRecord, code: str, to: str | None, note: str | None
) -> None:
    if to is None:
        record = await services.handover.release(volunteer, code, note)
        await message.answer(volunteer_views.released(record.code))
        return
    target = await services.handover.transfer(volunteer, code, to, note)
    await message.answer(**volunteer_views.transferred(code, target.pseudonym).as_kwargs())


async def offer_outcomes(message: Message, code: str, services: Services, volunteer: VolunteerRecord) -> None:
    """How did it end? (/close CODE, or the Close button.)"""
    record = await services.queue.held(volunteer, code)
    await message.answer(
        volunteer_views.close_prompt(record.code), reply_markup=volunteer_views.outcome_markup(record.code)
    )


async def outcome_chosen(
    callback: CallbackQuery, callback_data: CloseOutcome, services: Services, volunteer: VolunteerRecord
) -> None:
    """The goodbye the person would get, in their language, to send, rewrite or leave out. A blocked person gets
    nothing, so their case closes at once."""
    farewell = await services.goodbye.offer(volunteer, callback_data.code, callback_data.outcome)
    message = pressed_on(callback)
    if farewell.silent:
        await services.goodbye.close(
            volunteer, callback_data.code, callback_data.outcome, None, message.message_id, typed=False
        )
        await message.edit_text(text=volunteer_views.closed(farewell.record.code))
    else:
        view = views.goodbye_preview(farewell.record.code, farewell.outcome, farewell.record.language)
        await message.edit_text(**view.kwargs())
    await callback.answer()


async def goodbye_chosen(
    callback: CallbackQuery, callback_data: GoodbyeChoice, services: Services, volunteer: VolunteerRecord, bot: Bot
) -> None:
    message = pressed_on(callback)
    code, outcome = callback_data.code, callback_data.outcome
    farewell = await services.goodbye.offer(volunteer, code, outcome)
    record = farewell.record
    if callback_data.how is Farewell.OWN:
        await send_prompt(
            bot, services, volunteer, record, Ask.GOODBYE, views.goodbye_prompt(record.code), outcome=outcome
        )
        await callback.answer()
        return
    goodbye = views.goodbye_text(outcome, record.language) if callback_data.how is Farewell.SEND else None
    await services.goodbye.close(volunteer, code, outcome, goodbye, message.message_id, typed=False)
    said = volunteer_views.closed(record.code)
    if goodbye is not None and not farewell.silent:
        said = views.closed_after_goodbye(record.code, record.language)
    await edit_in_place(message, text=said)
    await callback.answer()


async def offer_pressed(
    callback: CallbackQuery, callback_data: CaseAction, services: Services, volunteer: VolunteerRecord
) -> None:
    """Transfer or Close: whom to, or how it ended, asked under the case (the same as /transfer, /close)."""
    offer = offer_transfer if callback_data.do is CaseDo.TRANSFER else offer_outcomes
    await offer(pressed_on(callback), callback_data.code, services, volunteer)
    await callback.answer()


async def conversation_page(
    callback: CallbackQuery, callback_data: ConversationPageCb, services: Services, volunteer: VolunteerRecord
) -> None:
    record, messages = await services.conversation.read(volunteer, callback_data.code)
    if isinstance(callback.message, Message) and messages:
        text, markup = views.conversation_view(record.code, messages, callback_data.page)
        await edit_in_place(callback.message, reply_markup=markup, **text.as_kwargs())
    await callback.answer()


async def canned_page(
    callback: CallbackQuery, callback_data: CannedPage, services: Services, volunteer: VolunteerRecord
) -> None:
    if isinstance(callback.message, Message):
        text, markup = volunteer_views.canned_view(await services.canned.texts(volunteer.language), callback_data.page)
        await edit_in_place(callback.message, reply_markup=markup, **text.as_kwargs())
    await callback.answer()


# -- replies to the prompts --------------------------------------------------------------------------------


async def note_written(message: Message, bound: Bound, services: Services, volunteer: VolunteerRecord) -> None:
    assert message.text is not None
    await save_note(message, services, volunteer, bound.code, message.text)


async def save_note(message: Message, services: Services, volunteer: VolunteerRecord, code: str, text: str) -> None:
    """A note (/note CODE text, or a reply to the Note prompt); the message holding it leaves this chat with the
    rest of the case."""
    record = await services.notes.add(volunteer, code, text)
    await services.shown.record(
        request_id=record.id, audience="volunteer", kind="own", message_id=message.message_id, volunteer_id=volunteer.id
    )
    await message.answer(volunteer_views.note_saved())


async def handover_written(message: Message, bound: Bound, services: Services, volunteer: VolunteerRecord) -> None:
    assert message.text is not None
    record = await services.queue.held(volunteer, bound.code)
    # What they wrote leaves this chat with the case, like every note.
    await services.shown.record(
        request_id=record.id, audience="volunteer", kind="own", message_id=message.message_id, volunteer_id=volunteer.id
    )
    await hand_over(message, services, volunteer, bound.code, bound.to, message.text)


async def goodbye_written(message: Message, bound: Bound, services: Services, volunteer: VolunteerRecord) -> None:
    assert message.text is not None and bound.outcome is not None
    record = await services.goodbye.close(
        volunteer, bound.code, bound.outcome, message.text, message.message_id, typed=True
    )
    await message.answer(views.closed_after_goodbye(record.code, record.language))


async def text_wanted(message: Message) -> None:
    await message.answer(volunteer_views.text_only())


def build_router() -> Router:
    router = answer_refusals(Router(name="case"))
    router.message.filter(F.chat.type == ChatType.PRIVATE, HasRole())
    router.callback_query.filter(HasRole())
    buttons: dict[CaseDo, Callable[..., Awaitable[None]]] = {
        CaseDo.REPLY: prompt_pressed,
        CaseDo.CANNED: canned_pressed,
        CaseDo.NOTE: prompt_pressed,
        CaseDo.NOTES: notes_pressed,
        CaseDo.TRANSFER: offer_pressed,
        CaseDo.RELEASE: release_pressed,
        CaseDo.CLOSE: offer_pressed,
    }
    for do, handler in buttons.items():
        router.callback_query.register(handler, CaseAction.filter(F.do == do))
    router.callback_query.register(canned_chosen, CannedSend.filter())
    router.callback_query.register(canned_page, CannedPage.filter())
    router.callback_query.register(transfer_chosen, TransferTo.filter())
    router.callback_query.register(handover_skipped, Handover.filter())
    router.callback_query.register(outcome_chosen, CloseOutcome.filter())
    router.callback_query.register(goodbye_chosen, GoodbyeChoice.filter())
    router.callback_query.register(conversation_page, ConversationPageCb.filter())
    replying = (F.reply_to_message, ~F.text.startswith("/"))
    router.message.register(note_written, *replying, F.text, BoundReply(Ask.NOTE))
    router.message.register(handover_written, *replying, F.text, BoundReply(Ask.HANDOVER))
    router.message.register(goodbye_written, *replying, F.text, BoundReply(Ask.GOODBYE))
    router.message.register(text_wanted, *replying, BoundReply(Ask.NOTE, Ask.HANDOVER, Ask.GOODBYE))
    return router
