"""The requester's chat during an intake: the one live question, and every message to delete later.

What is kept between updates is an ``IntakeState`` (services/intake_state.py), sealed by the FSM storage.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from services.hygiene import deletion_batches
from services.intake_state import IntakeState
from services.policy import Policy
from services.questionnaire import Step
from views.format import View
from views.intake import step_view

log = structlog.get_logger()


class Intake(StatesGroup):
    language = State()
    safety = State()
    reconnect = State()
    consent = State()
    who = State()
    urgency = State()
    situation = State()
    not_serving = State()
    serving = State()
    left_unit = State()
    location = State()
    health = State()
    documents = State()
    help = State()
    description = State()
    review = State()


# A state of an earlier release that today's questionnaire no longer has (handlers/intake.py moves it on).
RETIRED_STATES = ("Intake:status",)


# One state per step, named after it (aiogram's StatesGroup wants them as attributes; they are checked here).
assert [state.state for state in Intake.__all_states__] == [f"Intake:{step}" for step in Step]
STATE_OF: dict[Step, State] = {step: getattr(Intake, step.value) for step in Step}
STEP_OF: dict[str, Step] = {state.state: step for step, state in STATE_OF.items() if state.state}


def step_of(raw_state: str | None) -> Step | None:
    return STEP_OF.get(raw_state or "")


def message_of(callback: CallbackQuery) -> Message | None:
    """The message a button was on. Inaccessible (very old) messages count as stale presses."""
    return callback.message if isinstance(callback.message, Message) else None


def is_not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


async def delete_messages(bot: Bot, chat_id: int, message_ids: list[int]) -> None:
    """Delete what Telegram still lets us delete; the rest (over 48 h, already gone) is skipped."""
    for batch in deletion_batches(message_ids):
        try:
            await bot.delete_messages(chat_id=chat_id, message_ids=batch)
        except TelegramBadRequest as error:
            log.info("chat.delete_skipped", error=type(error).__name__)


class IntakeChat:
    def __init__(self, bot: Bot, state: FSMContext, chat_id: int, policy: Policy) -> None:
        self.bot = bot
        self.state = state
        self.chat_id = chat_id
        self.policy = policy

    async def data(self) -> IntakeState:
        return IntakeState.from_dict(await self.state.get_data())

    async def save(self, data: IntakeState) -> None:
        await self.state.set_data(data.to_dict())

    async def begin(self, first_message_id: int, locale: str) -> None:
        await self.state.set_state(Intake.language)
        await self.save(IntakeState(locale=locale, tracked=[first_message_id], chat=self.chat_id))

    async def track(self, *message_ids: int) -> None:
        data = await self.data()
        data.tracked = [*data.tracked, *message_ids]
        await self.save(data)

    async def set_locale(self, locale: str) -> None:
        data = await self.data()
        data.locale = locale
        await self.save(data)

    async def current_step(self) -> Step | None:
        return step_of(await self.state.get_state())

    async def go(
        self,
        step: Step,
        *,
        edit: Message | None = None,
        answers: dict[str, Any] | None = None,
        editing: bool | None = None,
        locale: str | None = None,
    ) -> None:
        """Move to ``step`` and show it, editing the live question in place when possible; ``answers``,
        ``editing`` and ``locale`` change on the way when given."""
        await self.state.set_state(STATE_OF[step])
        data = await self.data()
        if answers is not None:
            data.answers = answers
        if editing is not None:
            data.editing = editing
        if locale is not None:
            data.locale = locale
        await self.save(data)
        await self.show(step, edit=edit)

    async def view(self, step: Step, data: IntakeState) -> View:
        # The safety screen names the bot's own @username, as Telegram says it (getMe, asked once).
        username = ((await self.bot.me()).username or "") if step == Step.SAFETY else ""
        return step_view(step, data, policy=self.policy, username=username)

    async def show(self, step: Step, *, edit: Message | None = None) -> None:
        data = await self.data()
        view = await self.view(step, data)
        # The review carries everything the person said: it goes out protected, so it has to be a new
        # message (protect_content cannot be added by an edit).
        if edit is not None and step != Step.REVIEW:
            try:
                await edit.edit_text(**view.kwargs())
            except TelegramBadRequest as error:
                if not is_not_modified(error):
                    edit = None
            if edit is not None:
                if data.prompt != edit.message_id:
                    await self._replace_prompt(edit.message_id, data)
                return
        sent = await self.bot.send_message(chat_id=self.chat_id, protect_content=step == Step.REVIEW, **view.kwargs())
        await self._replace_prompt(sent.message_id, data)

    async def _replace_prompt(self, message_id: int, data: IntakeState) -> None:
        old = data.prompt
        data.prompt = message_id
        if message_id not in data.tracked:
            data.tracked = [*data.tracked, message_id]
        await self.save(data)
        if old and old != message_id:
            await delete_messages(self.bot, self.chat_id, [old])

    async def refresh_keyboard(self, step: Step, message: Message) -> None:
        data = await self.data()
        view = await self.view(step, data)
        try:
            await message.edit_reply_markup(reply_markup=view.markup)
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                raise

    async def erase(self, *extra_message_ids: int) -> None:
        """Delete every tracked message and forget the intake entirely."""
        data = await self.data()
        await delete_messages(self.bot, self.chat_id, [*data.tracked, *extra_message_ids])
        await self.state.clear()

    async def wipe(self, *extra_message_ids: int) -> None:
        """Delete the conversation but keep the answers: /start continues where the person stopped."""
        data = await self.data()
        await delete_messages(self.bot, self.chat_id, [*data.tracked, *extra_message_ids])
        data.tracked = []
        data.prompt = None
        await self.save(data)
