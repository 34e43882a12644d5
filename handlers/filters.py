"""Filters: roles, blocked requesters, a command's case code, the intake's live question, a reply bound to a case.

A failed role filter lets the event fall through to the fallback router, so someone without the role gets
the same reply as for any unknown command. Put ``CaseCode`` after the role filters for the same reason: only
someone who may use a command learns how it is written.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import CommandObject, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject, User

from handlers.intake_chat import RETIRED_STATES, step_of
from handlers.refusals import MissingArgument, StaleButton
from services.context import Services
from services.intake_state import IntakeState
from services.prompts import Ask
from services.questionnaire import Step
from storage.ids import normalize_request_code
from storage.kinds import Role
from storage.volunteers import VolunteerRecord


class HasRole(Filter):
    def __init__(self, minimum: Role = Role.VOLUNTEER) -> None:
        self.minimum = minimum

    async def __call__(self, event: TelegramObject, volunteer: VolunteerRecord | None = None) -> bool:
        return volunteer is not None and volunteer.active and volunteer.role.at_least(self.minimum)


class BlockedRequester(Filter):
    """Someone a coordinator blocked (never a team member). Asks the database: use it after cheaper filters."""

    async def __call__(
        self,
        event: TelegramObject,
        services: Services,
        volunteer: VolunteerRecord | None = None,
        event_from_user: User | None = None,
    ) -> bool:
        if volunteer is not None or event_from_user is None:
            return False
        return await services.intake.is_blocked(event_from_user.id)


class CaseCode(Filter):
    """The request code a command names first (``/close r-7kq3xm``) as ``code``, in its canonical form when it
    can be one (the use case says whether such a request exists); with ``text``, the rest of the command as
    ``text`` too (``/note CODE text``). Without them, the command is answered with how it is written
    (handlers/refusals.py). Comes after ``Command``, which gives it the command."""

    def __init__(self, *, text: bool = False) -> None:
        self.text = text

    async def __call__(self, event: TelegramObject, command: CommandObject) -> dict[str, Any]:
        parts = (command.args or "").split(maxsplit=1)
        if not parts or (self.text and len(parts) < 2):
            raise MissingArgument(f"/{command.command} CODE" + (" text" if self.text else ""))
        found: dict[str, Any] = {"code": normalize_request_code(parts[0]) or parts[0]}
        if self.text:
            found["text"] = parts[1]
        return found


class LivePrompt(Filter):
    """A press on the live question of the intake: the message it is on is the current step's prompt, and a
    button that names its step (``Nav``, ``OptionChoice``) names this one. Gives the handler ``step``. A press
    on any other message is stale (handlers/refusals.py answers it); one on the live message that names another
    step is left to ``ScreenBehind``. ``names_step=False`` for a button whose step is something else
    (``EditAnswer`` names the answer to change)."""

    def __init__(self, *, names_step: bool = True) -> None:
        self.names_step = names_step

    async def __call__(
        self, callback: CallbackQuery, state: FSMContext, callback_data: CallbackData | None = None
    ) -> dict[str, Any] | bool:
        step = await _step_on_its_prompt(callback, state)
        if step is None:
            raise StaleButton
        named = getattr(callback_data, "step", None) if self.names_step else None
        if named is not None and named != step:
            return False  # the live message shows another step: ScreenBehind brings this one back
        return {"step": step}


class ScreenBehind(Filter):
    """A press on the intake's live message that no handler of the current step took: the message shows another
    step's screen. An edit sent again puts one there (a process died between sending it and removing its
    outbox row, decision 0006), and its buttons must not be refused for ever: the press shows the current step
    again, and changes no answer (a forged press ends here too). Gives the handler ``step``."""

    async def __call__(self, callback: CallbackQuery, state: FSMContext) -> dict[str, Any] | bool:
        step = await _step_on_its_prompt(callback, state)
        return {"step": step} if step is not None else False


async def _step_on_its_prompt(callback: CallbackQuery, state: FSMContext) -> Step | None:
    """The intake's current step, when the press is on the message that shows its question (the live one)."""
    step = step_of(await state.get_state())
    pressed = callback.message.message_id if isinstance(callback.message, Message) else None
    if step is None or pressed is None or IntakeState.from_dict(await state.get_data()).prompt != pressed:
        return None
    return step


class EarlierIntake(Filter):
    """An intake begun under an earlier release: in a state today's questionnaire no longer has, or with
    answers in the earlier layout (services/upgrade.py)."""

    async def __call__(self, event: TelegramObject, state: FSMContext, raw_state: str | None = None) -> bool:
        if raw_state in RETIRED_STATES:
            return True
        if raw_state is None or not raw_state.startswith("Intake:"):
            return False
        return IntakeState.from_dict(await state.get_data()).upgraded


class BoundReply(Filter):
    """A volunteer's reply to a message about a case: a prompt asking one of ``asks`` (a relayed message of the
    person counts as asking a REPLY). Gives the handler ``bound`` (services/prompts.py)."""

    def __init__(self, *asks: Ask) -> None:
        self.asks = frozenset(asks)

    async def __call__(
        self, message: Message, services: Services, volunteer: VolunteerRecord | None = None
    ) -> dict[str, Any] | bool:
        if message.reply_to_message is None or volunteer is None:
            return False
        bound = await services.prompts.bound(volunteer, message.reply_to_message.message_id)
        if bound is None or bound.ask not in self.asks:
            return False
        return {"bound": bound}
