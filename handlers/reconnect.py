"""Attaching a request to this account with its key (services/reconnect.py), and the key's message once the
person has written it down."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.formatting import Text

from handlers.intake_chat import Intake, IntakeChat, delete_messages, message_of
from services.context import Services
from services.questionnaire import Step
from services.reconnect import Outcome
from views.callbacks import KeyNoted
from views.reconnect import attached, too_many_keys, wrong_key
from views.requester import blocked_reply, request_status_text


async def key_sent(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    assert message.from_user is not None
    chat = IntakeChat(bot, state, message.chat.id, services.policy)
    await delete_messages(bot, message.chat.id, [message.message_id])  # the key leaves the chat at once
    locale = (await chat.data()).locale or services.policy.default_language
    attempt = await services.reconnect.attach(
        user_id=message.from_user.id, chat_id=message.chat.id, text=message.text or "", language=locale
    )
    if attempt.outcome in (Outcome.WRONG, Outcome.TOO_MANY):
        refused = wrong_key() if attempt.outcome is Outcome.WRONG else too_many_keys()
        await chat.track((await message.answer(refused)).message_id)
        await chat.show(Step.RECONNECT)
        return
    await chat.erase()
    request = attempt.request
    if attempt.outcome is Outcome.HAS_REQUEST:
        request = await services.intake.open_request(message.from_user.id)
    content: Text | str = blocked_reply()
    if attempt.outcome is Outcome.ATTACHED and request is not None:
        content = attached(request.code)
    elif attempt.outcome is not Outcome.BLOCKED and request is not None:
        content = request_status_text(request)
    sent = await message.answer(**(content.as_kwargs() if isinstance(content, Text) else {"text": content}))
    await services.intake.remember_in_chat(message.from_user.id, [sent.message_id])


async def key_noted(callback: CallbackQuery, services: Services, bot: Bot) -> None:
    message = message_of(callback)
    if message is not None:
        await delete_messages(bot, message.chat.id, [message.message_id])
        await services.reconnect.key_noted(callback.from_user.id, message.message_id)
    await callback.answer()


def build_reconnect_router() -> Router:
    router = Router(name="reconnect")
    router.message.register(key_sent, Intake.reconnect, ~F.text.startswith("/"))
    router.callback_query.register(key_noted, KeyNoted.filter())
    return router
