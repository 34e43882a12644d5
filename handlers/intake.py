"""The requester's intake: /start, the questions, review, submit. Private chats only.

Where a step leads is the questionnaire's to say (services/questionnaire.py); these handlers only carry a
press to it and show the screen it names.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n

from handlers.filters import BlockedRequester, EarlierIntake, LivePrompt, ScreenBehind
from handlers.intake_chat import STATE_OF, Intake, IntakeChat, message_of
from handlers.intake_input import build_input_router
from handlers.reconnect import build_reconnect_router
from handlers.refusals import StaleButton, answer_refusals
from services.context import Services
from services.intake import DuplicateOpenRequest, RequesterBlocked
from services.questionnaire import (
    ANSWER_STEPS,
    BEFORE_QUESTIONS,
    MULTI_SELECT,
    AnswerError,
    Step,
    after_answer,
    choose,
    describe,
    finish_multi_select,
    first_missing,
    previous_step,
)
from views.callbacks import EditAnswer, LanguageChoice, Nav, OptionChoice
from views.intake import answer_error, cancelled, declined, erase_view, screen_behind, submitted
from views.language import pick_language
from views.requester import blocked_reply, request_status_text


def _chat(bot: Bot, state: FSMContext, chat_id: int, services: Services) -> IntakeChat:
    return IntakeChat(bot, state, chat_id, services.policy)


# -- starting ----------------------------------------------------------------------------------------


async def start(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    assert message.from_user is not None
    if await services.intake.is_blocked(message.from_user.id):
        # Someone a coordinator judged a provocateur: a polite answer, and nothing opens.
        await message.answer(blocked_reply())
        return
    request = await services.intake.open_request(message.from_user.id)
    if request is not None:
        await message.answer(**request_status_text(request).as_kwargs())
        return
    chat = _chat(bot, state, message.chat.id, services)
    chosen = (await chat.data()).locale  # a language chosen before, kept after a finished intake
    locale = chosen or pick_language(message.from_user.language_code, services.policy.default_language)
    await chat.begin(message.message_id, locale)
    await chat.show(Step.LANGUAGE)


async def end_blocked_intake(event: Message | CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    """Blocked while their intake was open: at their next step it ends quietly, the chat is cleaned, nothing
    is stored, and they get what a blocked person always gets."""
    user_id = event.from_user.id if event.from_user else 0
    chat = _chat(bot, state, user_id, services)
    await chat.erase(*([event.message_id] if isinstance(event, Message) else []))
    await services.intake.unfinished_erased()
    await bot.send_message(chat_id=user_id, text=blocked_reply())
    if isinstance(event, CallbackQuery):
        await event.answer()


async def resume(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(bot, state, message.chat.id, services)
    await chat.track(message.message_id)
    step = await chat.current_step()
    assert step is not None
    await chat.show(step)


async def continue_earlier_intake(
    event: Message | CallbackQuery, state: FSMContext, services: Services, bot: Bot
) -> None:
    """An intake begun under an earlier release: its answers are read in today's layout, and it goes on at the
    first question today's questionnaire still has to ask (the screens before the questions stay where they
    were). Whatever the person did is not taken as an answer: the question it was meant for may be gone."""
    chat = _chat(bot, state, event.from_user.id if event.from_user else 0, services)
    data = await chat.data()
    step = await chat.current_step()
    if step not in BEFORE_QUESTIONS:
        step = first_missing(data.answers) or Step.REVIEW
    if isinstance(event, Message):
        await chat.track(event.message_id)
    await chat.go(step, answers=data.answers, editing=False)
    if isinstance(event, CallbackQuery):
        await event.answer()


# -- language, safety, consent -----------------------------------------------------------------------


async def choose_language(
    callback: CallbackQuery,
    callback_data: LanguageChoice,
    state: FSMContext,
    services: Services,
    bot: Bot,
    i18n: I18n,
) -> None:
    if callback_data.code not in i18n.available_locales:
        raise StaleButton
    chat = _chat(bot, state, callback.from_user.id, services)
    with i18n.use_locale(callback_data.code):
        await chat.go(Step.SAFETY, edit=message_of(callback), locale=callback_data.code)
        await callback.answer()


async def go_on(callback: CallbackQuery, callback_data: Nav, state: FSMContext, services: Services, bot: Bot) -> None:
    """A button that leads to one fixed screen: on from the safety screen (or to the reconnect key), agreeing."""
    target = {"next": Step.CONSENT, "reconnect": Step.RECONNECT, "agree": Step.WHO}[callback_data.go]
    await _chat(bot, state, callback.from_user.id, services).go(target, edit=message_of(callback))
    await callback.answer()


async def end_intake(
    callback: CallbackQuery, callback_data: Nav, state: FSMContext, services: Services, bot: Bot
) -> None:
    """Not agreeing, or erasing the answers once asked: everything of the intake goes."""
    chat = _chat(bot, state, callback.from_user.id, services)
    await chat.erase()
    if callback_data.go == "erase":
        await services.intake.unfinished_erased()
    text = declined() if callback_data.go == "decline" else cancelled()
    await bot.send_message(chat_id=callback.from_user.id, text=text)
    await callback.answer()


async def ask_to_erase(callback: CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    """Cancel on the review asks first."""
    message = message_of(callback)
    if message is not None:
        await message.edit_text(**erase_view().kwargs())
    await callback.answer()


async def keep_answers(callback: CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    await _chat(bot, state, callback.from_user.id, services).show(Step.REVIEW)
    await callback.answer()


# -- questions ---------------------------------------------------------------------------------------


async def option_chosen(
    callback: CallbackQuery, callback_data: OptionChoice, step: Step, state: FSMContext, services: Services, bot: Bot
) -> None:
    chat = _chat(bot, state, callback.from_user.id, services)
    data = await chat.data()
    message = message_of(callback)
    try:
        answers = choose(step, callback_data.value, data.answers)
    except AnswerError as error:
        await chat.show(step, edit=message)  # an option of before: today's buttons instead
        await callback.answer(answer_error(error.reason), show_alert=True)
        return
    if step in MULTI_SELECT and message is not None:
        data.answers = answers
        await chat.save(data)
        await chat.refresh_keyboard(step, message)
        await callback.answer()
        return
    await _answered(chat, step, callback, answers)


async def multi_select_done(
    callback: CallbackQuery, step: Step, state: FSMContext, services: Services, bot: Bot
) -> None:
    chat = _chat(bot, state, callback.from_user.id, services)
    try:
        answers = finish_multi_select(step, (await chat.data()).answers)
    except AnswerError as error:
        await callback.answer(answer_error(error.reason), show_alert=True)
        return
    await _answered(chat, step, callback, answers)


async def description_skipped(callback: CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(bot, state, callback.from_user.id, services)
    answers = {**(await chat.data()).answers, Step.DESCRIPTION: None}
    await _answered(chat, Step.DESCRIPTION, callback, answers)


async def description_written(message: Message, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(bot, state, message.chat.id, services)
    await chat.track(message.message_id)
    try:
        description = describe(message.text)
    except AnswerError as error:
        length = len((message.text or "").strip())
        await chat.track((await message.answer(answer_error(error.reason, length=length))).message_id)
        await chat.show(Step.DESCRIPTION)
        return
    data = await chat.data()
    answers = {**data.answers, Step.DESCRIPTION: description}
    target = after_answer(Step.DESCRIPTION, answers, editing=data.editing)
    await chat.go(target, answers=answers, editing=data.editing and target != Step.REVIEW)


async def _answered(chat: IntakeChat, step: Step, callback: CallbackQuery, answers: dict[str, Any]) -> None:
    editing = (await chat.data()).editing
    target = after_answer(step, answers, editing=editing)
    await chat.go(target, edit=message_of(callback), answers=answers, editing=editing and target != Step.REVIEW)
    await callback.answer()


# -- back, edit, submit ------------------------------------------------------------------------------


async def back(callback: CallbackQuery, step: Step, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(bot, state, callback.from_user.id, services)
    data = await chat.data()
    target = Step.REVIEW if data.editing and step in ANSWER_STEPS else previous_step(step, data.answers)
    await chat.go(target, edit=message_of(callback), editing=False)
    await callback.answer()


async def edit_answer(
    callback: CallbackQuery, callback_data: EditAnswer, state: FSMContext, services: Services, bot: Bot
) -> None:
    if callback_data.step not in {s.value for s in ANSWER_STEPS}:
        raise StaleButton
    chat = _chat(bot, state, callback.from_user.id, services)
    await chat.go(Step(callback_data.step), edit=message_of(callback), editing=True)
    await callback.answer()


async def add_details(callback: CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    """From the fast path's review: the questions it skipped, then back to the review."""
    await _chat(bot, state, callback.from_user.id, services).go(Step.SITUATION, edit=message_of(callback), editing=True)
    await callback.answer()


async def submit(callback: CallbackQuery, state: FSMContext, services: Services, bot: Bot) -> None:
    chat = _chat(bot, state, callback.from_user.id, services)
    data = await chat.data()
    try:
        await services.intake.submit(
            user_id=callback.from_user.id,
            chat_id=callback.from_user.id,
            answers=data.answers,
            language=data.locale or services.policy.default_language,
            tracked_message_ids=data.tracked,
        )
    except AnswerError:
        missing = first_missing(data.answers) or Step.WHO
        await chat.go(missing, edit=message_of(callback), editing=True)
        await callback.answer(answer_error("incomplete"), show_alert=True)
        return
    except RequesterBlocked:
        await end_blocked_intake(callback, state, services, bot)
        return
    except DuplicateOpenRequest:
        await chat.erase()
        request = await services.intake.open_request(callback.from_user.id)
        if request is not None:
            await bot.send_message(chat_id=callback.from_user.id, **request_status_text(request).as_kwargs())
        await callback.answer()
        return
    message = message_of(callback)
    if not services.policy.chat_hygiene and message is not None:
        await message.edit_reply_markup(reply_markup=None)
    await state.clear()
    await callback.answer(submitted())


async def show_current_step(
    callback: CallbackQuery, step: Step, state: FSMContext, services: Services, bot: Bot
) -> None:
    await _chat(bot, state, callback.from_user.id, services).show(step, edit=message_of(callback))
    await callback.answer(screen_behind())


def build_blocked_gate() -> Router:
    """Ahead of every requester router: an intake open when its person was blocked goes no further; one begun
    under an earlier release is moved on to today's questions."""
    router = Router(name="intake-blocked")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    blocked = (StateFilter(Intake), BlockedRequester())
    router.message.register(end_blocked_intake, *blocked)
    router.callback_query.register(end_blocked_intake, *blocked)
    router.message.register(continue_earlier_intake, EarlierIntake())
    router.callback_query.register(continue_earlier_intake, EarlierIntake())
    return router


def build_router() -> Router:
    router = answer_refusals(Router(name="intake"))
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    router.message.register(start, CommandStart(), StateFilter(None))
    router.message.register(resume, CommandStart(), StateFilter(Intake))
    live = LivePrompt()
    # The presses most updates are, first: no other handler here takes an option or "done", so their place
    # changes nothing but how many filters every other press is checked against before it is found.
    router.callback_query.register(option_chosen, StateFilter(Intake), OptionChoice.filter(), live)
    multi = StateFilter(*(STATE_OF[step] for step in MULTI_SELECT))
    router.callback_query.register(multi_select_done, multi, Nav.filter(F.go == "done"), live)
    router.callback_query.register(choose_language, Intake.language, LanguageChoice.filter(F.switch.is_(False)), live)
    router.callback_query.register(go_on, Intake.safety, Nav.filter(F.go.in_({"next", "reconnect"})), live)
    router.callback_query.register(go_on, Intake.consent, Nav.filter(F.go == "agree"), live)
    router.callback_query.register(end_intake, Intake.consent, Nav.filter(F.go == "decline"), live)
    router.callback_query.register(ask_to_erase, Intake.review, Nav.filter(F.go == "cancel"), live)
    router.callback_query.register(end_intake, Intake.review, Nav.filter(F.go == "erase"), live)
    router.callback_query.register(keep_answers, Intake.review, Nav.filter(F.go == "keep"), live)
    router.callback_query.register(description_skipped, Intake.description, Nav.filter(F.go == "skip"), live)
    router.message.register(description_written, Intake.description, F.text)
    router.callback_query.register(back, StateFilter(Intake), Nav.filter(F.go == "back"), live)
    router.callback_query.register(edit_answer, Intake.review, EditAnswer.filter(), LivePrompt(names_step=False))
    router.callback_query.register(add_details, Intake.review, Nav.filter(F.go == "details"), live)
    router.callback_query.register(submit, Intake.review, Nav.filter(F.go == "submit"), live)
    behind = Router(name="intake-screen-behind")  # after every other intake router: what none of them took
    behind.callback_query.register(show_current_step, StateFilter(Intake), ScreenBehind())
    router.include_routers(build_reconnect_router(), build_input_router(), behind)
    return router
