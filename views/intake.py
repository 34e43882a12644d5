"""What each intake screen looks like: its text (built with aiogram.utils.formatting) and its buttons, and the
answers to what a person does on the way. The questions' words are in views/questions.py."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aiogram.types import InlineKeyboardButton
from aiogram.utils.formatting import Bold, Text, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from services.intake_state import IntakeState
from services.policy import Policy
from services.questionnaire import ANSWER_STEPS, DESCRIPTION_MAX, MULTI_SELECT, OPTIONS, Step, flow, is_fast
from views.access import requester_access
from views.callbacks import EditAnswer, KeepText, Nav, OptionChoice
from views.errors import stale_button
from views.format import Row, View, keyboard, rows_of
from views.language import language_view
from views.questions import STEP_TITLES, WHY, option_label, question, summary_lines
from views.reconnect import reconnect_view
from views.requester import check_the_bot, never_asked, photo_advice, previews_off, wipe_limits

SELECTED = "✅ "


# The intake's callback data: a few dozen fixed values (steps, options, moves), packed once each instead of a
# model built and packed for every button of every screen.
@functools.cache
def _nav(step: Step, go: str) -> str:
    return Nav(step=step, go=go).pack()


@functools.cache
def _option(step: Step, value: str) -> str:
    return OptionChoice(step=step, value=value).pack()


def _button(text: str, step: Step, go: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=_nav(step, go))


def _back(step: Step) -> Row:
    return [_button(_("« Back"), step, "back")]


def bullet(text: str | Text) -> Text:
    return Text("• ", text)


def safety_view(username: str) -> View:
    """The first screen after the language: what this chat is, and what the person can and cannot do about it."""
    text = as_list(
        Bold(_("Before we start: your safety")),
        "",
        bullet(_("This chat is not end-to-end encrypted: Telegram itself can see it.")),
        bullet(
            _(
                "If someone may check this phone (a commander, the police, at a checkpoint), "
                "stop now and write from another phone or number."
            )
        ),
        bullet(previews_off()),
        bullet(check_the_bot(username)),
        bullet(never_asked()),
        bullet(_("After you submit, the bot deletes this conversation from the chat.")),
        bullet(wipe_limits()),
        bullet(_("Never write names, unit numbers, exact places or phone numbers.")),
    )
    markup = keyboard(
        [_button(_("I understand, continue"), Step.SAFETY, "next")],
        [_button(_("I already have a request"), Step.SAFETY, "reconnect")],
        _back(Step.SAFETY),
    )
    return View(text, markup)


def consent_view(policy: Policy) -> View:
    retention_days, inactive_days = policy.retention.days, policy.inactive_after.days
    abandoned_hours = int(policy.abandoned_after.total_seconds() // 3600)
    bound_hours = int(policy.shred_bound.total_seconds() // 3600)
    text = as_list(
        Bold(_("What we keep, who can see it, and for how long")),
        "",
        *requester_access(),
        "",
        ngettext(
            "We erase your request {days} day after it is closed.",
            "We erase your request {days} days after it is closed.",
            retention_days,
        ).format(days=retention_days),
        ngettext(
            "A request with no activity for {days} day is erased even if it is not closed.",
            "A request with no activity for {days} days is erased even if it is not closed.",
            inactive_days,
        ).format(days=inactive_days),
        ngettext(
            "Unfinished answers are erased {hours} hour after your last answer.",
            "Unfinished answers are erased {hours} hours after your last answer.",
            abandoned_hours,
        ).format(hours=abandoned_hours),
        _("Send /forget at any time to erase everything at once."),
        _(
            "Erased means gone: the keys that could still read copies left on our server's disk are destroyed "
            "within minutes."
        )
        if bound_hours == 0
        else ngettext(
            "Erased means gone: within {hours} hour, the keys that could still read copies left on our "
            "server's disk are destroyed.",
            "Erased means gone: within {hours} hours, the keys that could still read copies left on our "
            "server's disk are destroyed.",
            bound_hours,
        ).format(hours=bound_hours),
        "",
        _("Do you agree?"),
    )
    markup = keyboard(
        [_button(_("I agree"), Step.CONSENT, "agree"), _button(_("I do not agree"), Step.CONSENT, "decline")],
        _back(Step.CONSENT),
    )
    return View(text, markup)


def choice_view(step: Step, answers: Mapping[str, Any]) -> View:
    selected = answers.get(step) or []
    rows: list[Row] = []
    for value in OPTIONS[step]:
        label = option_label(step, value)
        if step in MULTI_SELECT and value in selected:
            label = SELECTED + label
        rows.append([InlineKeyboardButton(text=label, callback_data=_option(step, value))])
    lines: list[Any] = [question(step, answers)]
    if step in WHY:
        lines += ["", str(WHY[step])]
    if step in MULTI_SELECT:
        rows.append([_button(_("Done"), step, "done")])
        lines += ["", _("Choose all that apply, then press Done.")]
    return View(as_list(*lines), keyboard(*rows, _back(step)))


def description_view(answers: Mapping[str, Any]) -> View:
    if is_fast(answers):
        ask = _(
            "Danger within 48 hours: write in a few words what is happening, or press Skip to send your request "
            "now. The volunteer will ask the rest. Up to {limit} characters."
        )
    else:
        ask = _("In a few words, what is happening? This is optional, up to {limit} characters.")
    text = as_list(
        ask.format(limit=DESCRIPTION_MAX),
        "",
        Bold(_("Do not write names, unit numbers, exact places or phone numbers.")),
        "",
        _("Send it as one text message, or press Skip."),
    )
    return View(text, keyboard([_button(_("Skip"), Step.DESCRIPTION, "skip")], _back(Step.DESCRIPTION)))


def review_view(answers: Mapping[str, Any]) -> View:
    fast = is_fast(answers)
    text = as_list(
        Bold(_("Please check your answers")),
        "",
        *summary_lines(answers),
        "",
        _("Press Submit to send it now: the volunteer will ask the rest. Or add more details first.")
        if fast
        else _("Press Submit to send your request, or ✏️ to change an answer."),
    )
    asked = flow(answers)
    edits = [
        InlineKeyboardButton(text=f"✏️ {STEP_TITLES[step]}", callback_data=EditAnswer(step=step).pack())
        for step in ANSWER_STEPS
        if step in asked
    ]
    markup = keyboard(
        *rows_of(2, edits),
        [_button(_("➕ Add more details"), Step.REVIEW, "details")] if fast else [],
        [_button(_("Submit"), Step.REVIEW, "submit"), _button(_("Cancel"), Step.REVIEW, "cancel")],
        _back(Step.REVIEW),
    )
    return View(text, markup)


def erase_view() -> View:
    """Cancel on the review asks first: one slip must not cost every answer."""
    markup = keyboard([_button(_("Yes, erase"), Step.REVIEW, "erase"), _button(_("No, back"), Step.REVIEW, "keep")])
    return View(Text(_("Erase all your answers? Nothing will be sent.")), markup)


def step_view(step: Step, intake: IntakeState, *, policy: Policy, username: str) -> View:
    answers = intake.answers
    if step == Step.LANGUAGE:
        return language_view(intake.locale or "")
    if step == Step.SAFETY:
        return safety_view(username)
    if step == Step.RECONNECT:
        return reconnect_view()
    if step == Step.CONSENT:
        return consent_view(policy)
    if step == Step.DESCRIPTION:
        return description_view(answers)
    if step == Step.REVIEW:
        return review_view(answers)
    return choice_view(step, answers)


# -- answers to what a person does during the intake -----------------------------------------------


def answer_error(reason: str, *, length: int = 0) -> str:
    if reason == "too_long":
        return _("That is {length} characters; please keep it to {limit} at most. Shorter is safer, too.").format(
            length=length, limit=DESCRIPTION_MAX
        )
    if reason == "choose_at_least_one":
        return _('Choose at least one option ("Don\'t know" is one), then press Done.')
    if reason == "incomplete":
        return _("Some answers are missing. Please answer this question first.")
    return stale_button()


def screen_behind() -> str:
    return _("That screen was out of date. Here is your question now.")


def stray_hint(kind: str, *, at_description: bool, can_keep: bool) -> View:
    """What the bot says after deleting something sent where it takes buttons (or only text): short and kind.
    Typed text can be kept as the description with one tap. ``kind``: text, voice, photo or other."""
    if at_description:
        lines = [_("I deleted what you sent: here I take only a text message.")]
        if kind == "photo":
            lines += [_("The volunteer may ask for photos later."), photo_advice()]
        return View(as_list(*lines))
    said = {
        "text": _("I deleted your message, so it does not stay in this chat."),
        "voice": _("I deleted your voice message, so it does not stay in this chat."),
    }.get(kind, _("I deleted what you sent, so it does not stay in this chat."))
    lines = [said, _("Please answer with the buttons under the question.")]
    if not can_keep:
        return View(as_list(*lines))
    lines.append(_("If you were telling what is happening, you can keep it as your description."))
    keep = InlineKeyboardButton(text=_("Keep it as my description"), callback_data=KeepText().pack())
    return View(as_list(*lines), keyboard([keep]))


def kept_as_description() -> str:
    return _("Kept as your description. You will see it on the review.")


def declined() -> str:
    return _("Understood. Nothing was stored. Send /start if you change your mind.")


def cancelled() -> str:
    return _("Cancelled. Your answers were erased. Send /start whenever you are ready.")


def submitted() -> str:
    return _("Sent.")
