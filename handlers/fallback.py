"""What nobody else handled: unknown commands, wrong kinds of input, edits, old buttons.

Registered last. An operator command from someone without the role lands here too, and gets exactly
the reply any unknown command gets, so nothing hints that a request or a role exists.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.intake_chat import IntakeChat
from handlers.requester import reply_in_intake
from services.context import Services
from services.questionnaire import Step


def unknown_command_text() -> str:
    return _("I don't know that command. /help lists what I can do.")


async def unknown_command(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    await reply_in_intake(
        message, IntakeChat(bot, state, message.chat.id, services.policy), services, unknown_command_text()
    )


async def unexpected_input(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = IntakeChat(bot, state, message.chat.id, services.policy)
    step = await chat.current_step()
    if step is None:
        text = _("To ask for help, send /start.")
    elif step == Step.DESCRIPTION:
        text = _(
            "Please describe it in a text message. Photos, voice messages and files can carry hidden data about you."
        )
    else:
        text = _("Please answer with the buttons under the question.")
    await reply_in_intake(message, chat, services, text)


async def edited(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = IntakeChat(bot, state, message.chat.id, services.policy)
    if await chat.current_step() is not None:
        text = _("I don't read edited messages. Before you send, you can change every answer with ✏️.")
    else:
        text = _("I don't read edited messages. Please send a new message instead.")
    await reply_in_intake(message, chat, services, text)


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(_("That button belongs to an earlier message."))


def build_router() -> Router:
    router = Router(name="fallback")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(unexpected_input)
    router.edited_message.register(edited)
    router.callback_query.register(stale_button)
    return router
