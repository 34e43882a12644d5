"""What nobody else handled: unknown commands, wrong kinds of input, edits, old buttons.

Registered last. An operator command from someone without the role lands here too, and gets exactly
the reply any unknown command gets, so nothing hints that a request or a role exists.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from handlers.intake_chat import IntakeChat
from handlers.requester import reply_in_intake
from services.context import Services
from views import errors
from views import requester as views


async def unknown_command(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    await reply_in_intake(
        message, IntakeChat(bot, state, message.chat.id, services.policy), services, errors.unknown_command()
    )


async def unexpected_input(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    """Outside an intake and without a request (the intake's own steps answer what comes during one)."""
    chat = IntakeChat(bot, state, message.chat.id, services.policy)
    await reply_in_intake(message, chat, services, views.how_to_start())


async def edited(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = IntakeChat(bot, state, message.chat.id, services.policy)
    text = views.edits_not_read(in_intake=await chat.current_step() is not None)
    await reply_in_intake(message, chat, services, text)


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(errors.stale_button())


def build_router() -> Router:
    router = Router(name="fallback")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(unexpected_input)
    router.edited_message.register(edited)
    router.callback_query.register(stale_button)
    return router
