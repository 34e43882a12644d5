"""What each intake step looks like: its text (built with aiogram.utils.formatting) and its buttons, and the
answers to what a person does on the way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.types import InlineKeyboardButton
from aiogram.utils.formatting import Bold, Italic, Text, as_line, as_list
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from services.intake_state import IntakeState
from services.policy import Policy
from services.questionnaire import ANSWER_STEPS, DESCRIPTION_MAX, MULTI_SELECT, OPTIONS, Step
from views.access import requester_access
from views.callbacks import EditAnswer, Nav, OptionChoice
from views.errors import stale_button
from views.format import View
from views.language import language_view

SELECTED = "✅ "


OPTION_LABELS: dict[str, dict[str, Any]] = {
    Step.WHO: {"self": __("I am asking for myself"), "relative": __("For a relative or friend")},
    Step.STATUS: {
        "summons": __("Received a summons (not serving yet)"),
        "conscript": __("Conscript"),
        "mobilised": __("Mobilised"),
        "contract": __("Contract soldier"),
        "left_unit": __("Already left the unit"),
        "wounded": __("Wounded or in hospital"),
        "other": __("Other"),
    },
    Step.LOCATION: {
        "ru_home": __("Russia, at home"),
        "ru_unit": __("Russia, in a unit or hospital"),
        "front": __("Front line or occupied territory"),
        "belarus": __("Belarus"),
        "kz_kg_am": __("Kazakhstan, Kyrgyzstan or Armenia"),
        "abroad": __("Another country"),
    },
    Step.DOCUMENTS: {
        "passport": __("Internal passport"),
        "foreign_passport": __("Valid foreign passport"),
        "no_foreign_passport": __("Foreign passport taken away, or none"),
        "military_id_held": __("Military ID is held by the unit"),
    },
    Step.HEALTH: {"matters": __("Yes, a wound or illness that matters"), "none": __("No")},
    Step.URGENCY: {
        "48h": __("Danger within 48 hours"),
        "week": __("This week"),
        "planning": __("Planning ahead"),
    },
    Step.HELP: {
        "leave": __("Leaving the country"),
        "legal": __("Legal advice"),
        "shelter": __("Hiding or a safe place"),
        "money": __("Money for travel"),
        "psych": __("Psychological support"),
        "asylum": __("Asylum abroad"),
    },
}

STEP_TITLES: dict[str, Any] = {
    Step.WHO: __("Who is asking"),
    Step.STATUS: __("Situation"),
    Step.LOCATION: __("Where now"),
    Step.DOCUMENTS: __("Documents"),
    Step.HEALTH: __("Health"),
    Step.URGENCY: __("Urgency"),
    Step.HELP: __("Help needed"),
    Step.DESCRIPTION: __("Description"),
}


assert {step: set(labels) for step, labels in OPTION_LABELS.items()} == {
    step: set(options) for step, options in OPTIONS.items()
}, "every option of every question has a label"
assert set(STEP_TITLES) == set(ANSWER_STEPS)


def option_label(step: Step | str, value: str) -> str:
    return str(OPTION_LABELS[Step(step)][value])


def answer_text(step: Step, answers: Mapping[str, Any]) -> str:
    value = answers.get(step)
    if step in MULTI_SELECT:
        return ", ".join(option_label(step, v) for v in value or [])
    return option_label(step, value) if value else ""


def _back(builder: InlineKeyboardBuilder, step: Step) -> None:
    builder.row(InlineKeyboardButton(text=_("« Back"), callback_data=Nav(step=step, go="back").pack()))


def safety_view() -> View:
    text = as_list(
        Bold(_("Before we start: your safety")),
        "",
        Text("• ", _("This chat is not end-to-end encrypted: Telegram itself can see it.")),
        Text(
            "• ",
            _(
                "If someone may check this phone (a commander, the police, at a checkpoint), "
                "stop now and write from another phone or number."
            ),
        ),
        Text("• ", _("After you submit, the bot deletes this conversation from the chat.")),
        Text("• ", _("Send /wipe at any moment to delete it right away.")),
        Text("• ", _("Never write names, unit numbers, exact places or phone numbers.")),
    )
    builder = InlineKeyboardBuilder()
    builder.row(
        InlineKeyboardButton(text=_("I understand, continue"), callback_data=Nav(step=Step.SAFETY, go="next").pack())
    )
    _back(builder, Step.SAFETY)
    return View(text, builder.as_markup())


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
    builder = InlineKeyboardBuilder()
    builder.row(
        InlineKeyboardButton(text=_("I agree"), callback_data=Nav(step=Step.CONSENT, go="agree").pack()),
        InlineKeyboardButton(text=_("I do not agree"), callback_data=Nav(step=Step.CONSENT, go="decline").pack()),
    )
    _back(builder, Step.CONSENT)
    return View(text, builder.as_markup())


QUESTIONS: dict[str, Any] = {
    Step.WHO: __("Who is asking for help?"),
    Step.STATUS: __("What is the situation of the person who needs help?"),
    Step.LOCATION: __("Where is the person now? Only roughly, never an exact place."),
    Step.DOCUMENTS: __("What about the person's documents? Choose all that apply, then press Done."),
    Step.HEALTH: __("Is there a wound or illness that matters for planning?"),
    Step.URGENCY: __("How urgent is it?"),
    Step.HELP: __("What help is needed? Choose all that apply, then press Done."),
}


assert set(QUESTIONS) == set(OPTIONS)


def choice_view(step: Step, answers: Mapping[str, Any]) -> View:
    selected = answers.get(step) or []
    builder = InlineKeyboardBuilder()
    for value in OPTIONS[step]:
        label = option_label(step, value)
        if step in MULTI_SELECT and value in selected:
            label = SELECTED + label
        builder.row(InlineKeyboardButton(text=label, callback_data=OptionChoice(step=step, value=value).pack()))
    if step in MULTI_SELECT:
        builder.row(InlineKeyboardButton(text=_("Done"), callback_data=Nav(step=step, go="done").pack()))
    _back(builder, step)
    return View(Text(str(QUESTIONS[step])), builder.as_markup())


def description_view() -> View:
    text = as_list(
        _("In a few words, what is happening? This is optional, up to {limit} characters.").format(
            limit=DESCRIPTION_MAX
        ),
        "",
        Bold(_("Do not write names, unit numbers, exact places or phone numbers.")),
        "",
        _("Send it as one text message, or press Skip."),
    )
    builder = InlineKeyboardBuilder()
    builder.row(InlineKeyboardButton(text=_("Skip"), callback_data=Nav(step=Step.DESCRIPTION, go="skip").pack()))
    _back(builder, Step.DESCRIPTION)
    return View(text, builder.as_markup())


def answers_summary(answers: Mapping[str, Any]) -> list[Text]:
    lines = []
    for step in ANSWER_STEPS:
        if step == Step.DESCRIPTION:
            description = answers.get(step)
            value: Text | str = Text(description) if description else Italic(_("not given"))
        else:
            value = answer_text(step, answers)
        lines.append(as_line(Bold(str(STEP_TITLES[step]), ": "), value, end=""))
    return lines


def review_view(answers: Mapping[str, Any]) -> View:
    text = as_list(
        Bold(_("Please check your answers")),
        "",
        *answers_summary(answers),
        "",
        _("Press Submit to send your request, or ✏️ to change an answer."),
    )
    builder = InlineKeyboardBuilder()
    for step in ANSWER_STEPS:
        builder.button(text=f"✏️ {STEP_TITLES[step]}", callback_data=EditAnswer(step=step).pack())
    builder.adjust(2)
    builder.row(
        InlineKeyboardButton(text=_("Submit"), callback_data=Nav(step=Step.REVIEW, go="submit").pack()),
        InlineKeyboardButton(text=_("Cancel"), callback_data=Nav(step=Step.REVIEW, go="cancel").pack()),
    )
    _back(builder, Step.REVIEW)
    return View(text, builder.as_markup())


def step_view(step: Step, intake: IntakeState, *, policy: Policy) -> View:
    answers = intake.answers
    if step == Step.LANGUAGE:
        return language_view(intake.locale or "")
    if step == Step.SAFETY:
        return safety_view()
    if step == Step.CONSENT:
        return consent_view(policy)
    if step == Step.DESCRIPTION:
        return description_view()
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
        return _("Choose at least one option, then press Done.")
    if reason == "incomplete":
        return _("Some answers are missing. Please answer this question first.")
    return stale_button()


def declined() -> str:
    return _("Understood. Nothing was stored. Send /start if you change your mind.")


def cancelled() -> str:
    return _("Cancelled. Your answers were erased. Send /start whenever you are ready.")


def submitted() -> str:
    return _("Sent.")
