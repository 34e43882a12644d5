"""What a person sends where the intake takes buttons (or, at the description, only text): deleted at once,
answered with one short hint; typed text can become the description with one tap (views/intake.py)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from handlers.intake_chat import Intake, IntakeChat, delete_messages, message_of
from handlers.refusals import StaleButton
from services.context import Services
from services.questionnaire import AnswerError, Step, describe, keeps_typed_text
from views.callbacks import KeepText
from views.intake import kept_as_description, stray_hint


def kind_of(message: Message) -> str:
    """text, voice, photo (anything that may carry a picture or a file) or other (a sticker, a contact...)."""
    if message.text is not None:
        return "text"
    if message.voice or message.video_note or message.audio:
        return "voice"
    if message.photo or message.document or message.video or message.animation:
        return "photo"
    return "other"


async def stray_input(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = IntakeChat(bot, state, message.chat.id, services.policy)
    step = await chat.current_step()
    assert step is not None
    data = await chat.data()
    kind = kind_of(message)
    held: str | None = None
    if kind == "text" and keeps_typed_text(step):
        try:
            held = describe(message.text)
        except AnswerError:
            held = None  # too long to be kept: the hint just asks for the buttons
    # Out of the chat at once: it may say more than the person would want left on the phone.
    await delete_messages(bot, message.chat.id, [message.message_id, *([data.hint] if data.hint else [])])
    view = stray_hint(kind, at_description=step == Step.DESCRIPTION, can_keep=held is not None)
    sent = await message.answer(**view.kwargs())
    data.tracked = [*(m for m in data.tracked if m != data.hint), sent.message_id]
    data.held, data.hint = held, sent.message_id
    await chat.save(data)
    await chat.show(step)  # the question stays the last thing in the chat


async def keep_text(callback: CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = IntakeChat(bot, state, callback.from_user.id, services.policy)
    data = await chat.data()
    message = message_of(callback)
    if data.held is None or message is None or message.message_id != data.hint:
        raise StaleButton
    data.answers = {**data.answers, Step.DESCRIPTION: data.held}
    data.held, data.hint = None, None
    await chat.save(data)
    await delete_messages(bot, message.chat.id, [message.message_id])
    await callback.answer(kept_as_description())
    if await chat.current_step() == Step.REVIEW:
        await chat.show(Step.REVIEW)  # the review shows the description now


def build_input_router() -> Router:
    router = Router(name="intake-input")
    router.message.register(stray_input, StateFilter(Intake), ~F.text.startswith("/"))
    router.callback_query.register(keep_text, StateFilter(Intake), KeepText.filter())
    return router
