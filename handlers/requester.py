"""Requester commands that work at any moment: /help, /safety, /selfhelp, /status, /language, /cancel, /wipe,
/forget."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.formatting import Text
from aiogram.utils.i18n import I18n

from handlers.intake_chat import IntakeChat, delete_messages
from handlers.refusals import StaleButton, answer_refusals
from services.context import Services
from views import requester as views
from views.callbacks import ForgetConfirm, LanguageChoice, SelfHelp
from views.format import View
from views.intake import cancelled
from views.language import language_changed, language_view
from views.selfhelp import selfhelp_menu, topic_text


def _chat(message_or_user_id: int, state: FSMContext, services: Services, bot: Bot) -> IntakeChat:
    return IntakeChat(bot, state, message_or_user_id, services.policy)


async def keep_in_chat(
    chat: IntakeChat, services: Services, user_id: int, message_ids: list[int], *, question_last: bool = True
) -> None:
    """In an intake, track the messages (and put its question last); after a submission, remember them with the
    request, so /wipe and /forget can delete them."""
    step = await chat.current_step()
    if step is not None:
        await chat.track(*message_ids)
        if question_last:
            await chat.show(step)
    else:
        await services.intake.remember_in_chat(user_id, message_ids)


async def reply_in_intake(message: Message, chat: IntakeChat, services: Services, content: Text | str | View) -> None:
    """Answer, and keep both messages where /wipe and /forget find them."""
    if isinstance(content, View):
        kwargs = content.kwargs()
    else:
        kwargs = content.as_kwargs() if isinstance(content, Text) else {"text": content}
    sent = await message.answer(**kwargs)
    if message.from_user is not None:
        await keep_in_chat(chat, services, message.from_user.id, [message.message_id, sent.message_id])


async def show_help(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    await reply_in_intake(message, _chat(message.chat.id, state, services, bot), services, views.help_text())


async def show_safety(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    username = (await bot.me()).username or ""
    await reply_in_intake(message, _chat(message.chat.id, state, services, bot), services, views.safety_text(username))


async def show_selfhelp(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    await reply_in_intake(message, _chat(message.chat.id, state, services, bot), services, selfhelp_menu())


async def selfhelp_topic(
    callback: CallbackQuery, callback_data: SelfHelp, state: FSMContext, services: Services, bot: Bot
) -> None:
    """A note of the self-help menu, as a message of its own: the menu (in the confirmation, say) stays."""
    text = topic_text(callback_data.topic)
    if text is None:
        raise StaleButton
    sent = await bot.send_message(chat_id=callback.from_user.id, **text.as_kwargs())
    chat = _chat(callback.from_user.id, state, services, bot)
    await keep_in_chat(chat, services, callback.from_user.id, [sent.message_id], question_last=False)
    await callback.answer()


async def show_status(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    assert message.from_user is not None
    request = await services.intake.latest_request(message.from_user.id)
    content: Text | str = views.request_status_text(request) if request is not None else views.no_request()
    await reply_in_intake(message, _chat(message.chat.id, state, services, bot), services, content)


async def ask_language(message: Message, state: FSMContext, services: Services, bot: Bot, i18n: I18n) -> None:
    chat = _chat(message.chat.id, state, services, bot)
    view = language_view(i18n.current_locale, switch=True)
    sent = await message.answer(**view.kwargs())
    if await chat.current_step() is not None:
        await chat.track(message.message_id, sent.message_id)


async def switch_language(
    callback: CallbackQuery,
    callback_data: LanguageChoice,
    state: FSMContext,
    services: Services,
    bot: Bot,
    i18n: I18n,
) -> None:
    if callback_data.code not in i18n.available_locales or not isinstance(callback.message, Message):
        raise StaleButton
    chat = _chat(callback.from_user.id, state, services, bot)
    step = await chat.current_step()
    with i18n.use_locale(callback_data.code):
        if step is not None:
            await chat.set_locale(callback_data.code)
            await chat.show(step, edit=callback.message)
        else:
            if await services.intake.open_request(callback.from_user.id) is not None:
                await services.intake.set_language(callback.from_user.id, callback_data.code)
            else:
                await chat.set_locale(callback_data.code)
            await callback.message.edit_text(text=language_changed())
        await callback.answer()


async def cancel(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(message.chat.id, state, services, bot)
    if await chat.current_step() is None:
        await message.answer(views.nothing_to_cancel())
        return
    await chat.erase(message.message_id)
    await services.intake.unfinished_erased()
    await message.answer(cancelled())


async def wipe(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    """Delete the conversation from the chat now. Answers and requests are kept: /forget erases those."""
    assert message.from_user is not None
    chat = _chat(message.chat.id, state, services, bot)
    if await chat.current_step() is not None:
        await chat.wipe(message.message_id)
        return
    shown = await services.intake.requester_message_ids(message.from_user.id)
    await delete_messages(bot, message.chat.id, [*shown, message.message_id])
    await services.intake.forget_messages(message.from_user.id)


async def ask_forget(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(message.chat.id, state, services, bot)
    sent = await message.answer(**views.forget_view(message.message_id).kwargs())
    if await chat.current_step() is not None:
        await chat.track(message.message_id, sent.message_id)


async def forget(
    callback: CallbackQuery, callback_data: ForgetConfirm, state: FSMContext, services: Services, bot: Bot
) -> None:
    if not isinstance(callback.message, Message):
        await callback.answer()
        return
    if not callback_data.sure:
        await callback.message.edit_text(text=views.nothing_erased())
        await callback.answer()
        return
    result = await services.intake.forget(callback.from_user.id)
    tracked = (await _chat(callback.message.chat.id, state, services, bot).data()).tracked
    own = [callback.message.message_id, *([callback_data.command] if callback_data.command else [])]
    await delete_messages(bot, callback.message.chat.id, [*tracked, *result.requester_message_ids, *own])
    await state.clear()
    await bot.send_message(chat_id=callback.message.chat.id, text=views.everything_erased())
    await callback.answer()


def build_router() -> Router:
    router = answer_refusals(Router(name="requester"))
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    router.message.register(show_help, Command("help"))
    router.message.register(show_safety, Command("safety"))
    router.message.register(show_status, Command("status"))
    router.message.register(show_selfhelp, Command("selfhelp"))
    router.callback_query.register(selfhelp_topic, SelfHelp.filter())
    router.message.register(ask_language, Command("language"))
    router.callback_query.register(switch_language, LanguageChoice.filter(F.switch.is_(True)))
    router.message.register(cancel, Command("cancel"))
    router.message.register(wipe, Command("wipe"))
    router.message.register(ask_forget, Command("forget"))
    router.callback_query.register(forget, ForgetConfirm.filter())
    return router
