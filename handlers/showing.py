"""What the bot sends a volunteer about a case right away, remembered with the case (storage/shown.py) so replies
find it and it leaves their chat when the case does: the card with its buttons (after the handover note left for
them), pages of notes, /mine's rows, the prompts bound to the case."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, ForceReply, InlineKeyboardMarkup, Message
from aiogram.utils.formatting import Text

from handlers.intake_chat import is_not_modified
from handlers.refusals import StaleButton
from services.context import Services
from services.notes import NoteView
from services.notices import FullCard
from services.prompts import Ask
from storage.requests import RequestDetails, RequestRecord
from storage.volunteers import VolunteerRecord
from views import case as case_views
from views import volunteer as views


async def send_tracked(
    bot: Bot,
    services: Services,
    volunteer: VolunteerRecord,
    record: RequestRecord,
    text: Text,
    kind: str,
    *,
    markup: InlineKeyboardMarkup | ForceReply | None = None,
    protect: bool = False,
) -> int:
    """Send ``text`` to the volunteer's private chat and remember it as a ``kind`` message of ``record``."""
    chat_id = await services.volunteers.chat_id(volunteer.id)
    sent = await bot.send_message(chat_id=chat_id, reply_markup=markup, protect_content=protect, **text.as_kwargs())
    await services.shown.record(
        request_id=record.id, audience="volunteer", kind=kind, message_id=sent.message_id, volunteer_id=volunteer.id
    )
    return sent.message_id


async def send_full_card(
    bot: Bot, services: Services, volunteer: VolunteerRecord, details: RequestDetails, *, holder: bool = True
) -> None:
    """The whole request, privately and protected, with its buttons; ahead of it, the handover note someone left
    for whoever holds it now. A coordinator inspecting a case they do not hold (``holder`` False) gets the
    request alone: its buttons are the holder's, its notes come with the inspection."""
    record = details.record
    note = await services.notes.handover_for(volunteer, record) if holder else None
    if note is not None:
        content = case_views.handover_note(record.code, note.author, note.at, note.text)
        await send_tracked(bot, services, volunteer, record, content, "handover", protect=True)
    card = FullCard.of(details, reason="shown")
    markup = case_views.case_markup(record.code) if holder else None
    await send_tracked(
        bot, services, volunteer, record, views.full_card_text(card), FullCard.track, markup=markup, protect=True
    )


async def send_notes(
    bot: Bot,
    services: Services,
    volunteer: VolunteerRecord,
    record: RequestRecord,
    notes: list[NoteView],
    page: int,
    *,
    buttons: bool = True,
) -> None:
    text, markup = views.notes_view(record.code, notes, page)
    await send_tracked(
        bot, services, volunteer, record, text, "notes", markup=markup if buttons else None, protect=True
    )


async def send_prompt(
    bot: Bot,
    services: Services,
    volunteer: VolunteerRecord,
    record: RequestRecord,
    ask: Ask,
    text: Text,
    **details: str | None,
) -> None:
    """A message the volunteer answers by replying to it (Telegram opens the reply at once); the reply is bound
    to ``record`` and to what ``ask`` asks for (services/prompts.py)."""
    chat_id = await services.volunteers.chat_id(volunteer.id)
    sent = await bot.send_message(chat_id=chat_id, reply_markup=case_views.force_reply(record.code), **text.as_kwargs())
    await services.prompts.remember(volunteer, record, sent.message_id, ask, **details)


def pressed_on(callback: CallbackQuery) -> Message:
    """The message a button was on; one Telegram no longer hands the bot (too old) makes the button stale."""
    if not isinstance(callback.message, Message):
        raise StaleButton
    return callback.message


async def edit_in_place(message: Message, **content: Any) -> None:
    """Show a message's new page or state; the same again (a second press) is no change, not an error."""
    try:
        await message.edit_text(**content)
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            raise
