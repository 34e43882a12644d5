"""The questionnaire in words: each question (to "you", or about "the person you are writing about"), its
options, its short title, and a set of answers as lines.

Option labels are impersonal, so one label serves both forms. Requester screens never use words that are risky
on an inspected phone («дезертир», «плен», «СОЧ», «СЗЧ», «оккупированная»); the team's screens may name things
plainly (``TEAM_LABELS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.utils.formatting import Bold, Italic, Text, as_line
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from services.questionnaire import ANSWER_STEPS, MULTI_SELECT, OPTIONS, RETIRED, UNKNOWN, Step, in_first_person

DONT_KNOW = __("Don't know / prefer not to say")

OPTION_LABELS: dict[Step, dict[str, Any]] = {
    Step.WHO: {
        "self": __("I am writing about myself"),
        "relative": __("About a relative or friend"),
        UNKNOWN: __("Prefer not to say"),
    },
    Step.URGENCY: {
        "48h": __("Danger within the next 48 hours"),
        "week": __("It has to be solved this week"),
        "planning": __("There is time to prepare"),
        UNKNOWN: DONT_KNOW,
    },
    Step.SITUATION: {
        "not_serving": __("Not in the army yet: summons, medical board, deferment"),
        "serving": __("Serving now"),
        "left_unit": __("Already away from the unit"),
        "wounded": __("Wounded or ill"),
        "abroad": __("Already abroad"),
        UNKNOWN: DONT_KNOW,
    },
    Step.NOT_SERVING: {
        "paper_summons": __("A summons on paper"),
        "e_summons": __("An electronic summons or a ban on leaving Russia"),
        "medical_board": __("Called to a medical board"),
        "deferment": __("Has or needs a deferment"),
        "alt_service": __("Alternative civilian service"),
        UNKNOWN: DONT_KNOW,
    },
    Step.SERVING: {
        "conscript": __("Conscript service"),
        "forced_contract": __("Pressed to sign a contract, or already forced"),
        "contract": __("Contract"),
        "mobilised": __("Mobilised"),
        "refused": __("Refused to fight, in words or in writing"),
        UNKNOWN: DONT_KNOW,
    },
    Step.LEFT_UNIT: {
        "awol": __("Left the unit"),
        "not_returned": __("Did not come back from leave or hospital"),
        "wanted": __("Being searched for"),
        "sentenced": __("A criminal case or a suspended sentence"),
        UNKNOWN: DONT_KNOW,
    },
    Step.LOCATION: {
        "ru_home": __("In Russia, at home"),
        "ru_unit": __("In Russia: in a unit, at a training ground or in hospital"),
        "front": __("At the front"),
        "controlled": __("In Crimea, Donbas or another area Russia controls"),
        "abroad": __("Abroad"),
        UNKNOWN: DONT_KNOW,
    },
    Step.HEALTH: {
        "wound": __("A wound or injury"),
        "illness": __("A serious or long-term illness"),
        "none": __("No"),
        UNKNOWN: DONT_KNOW,
        "unspecified": __("A wound or illness (not specified)"),
    },
    Step.DOCUMENTS: {
        "passport": __("Internal passport at hand"),
        "foreign_passport": __("A valid foreign passport"),
        "no_foreign_passport": __("No foreign passport"),
        "passport_held": __("Passport taken by the unit"),
        "military_id_held": __("Military ID held by the unit"),
        UNKNOWN: DONT_KNOW,
    },
    Step.HELP: {
        "leave": __("Leaving Russia"),
        "legal": __("A lawyer's advice"),
        "criminal_case": __("Defence in a criminal case"),
        "medical": __("A discharge or exemption on health grounds"),
        "documents_back": __("Getting documents back"),
        "deferment": __("Deferment or alternative service"),
        "partner_exit": __("Leaving the combat zone safely with partners' help"),
        "shelter": __("A safe place to stay"),
        "money": __("Money for the journey"),
        "psych": __("Psychological support"),
        "asylum": __("Asylum abroad"),
        "family": __("Support for the family"),
        UNKNOWN: __("Not sure, I need advice"),
    },
}
# What the team reads instead, where the requester's words are kept neutral on purpose.
TEAM_LABELS: dict[Step, dict[str, Any]] = {
    Step.HELP: {"partner_exit": __("Surrender through the partner project «I want to live»")},
}

STEP_TITLES: dict[Step, Any] = {
    Step.WHO: __("Writing about"),
    Step.URGENCY: __("Urgency"),
    Step.SITUATION: __("Situation"),
    Step.NOT_SERVING: __("Not in the army yet"),
    Step.SERVING: __("Service"),
    Step.LEFT_UNIT: __("Away from the unit"),
    Step.LOCATION: __("Where now"),
    Step.HEALTH: __("Health"),
    Step.DOCUMENTS: __("Documents"),
    Step.HELP: __("Help needed"),
    Step.DESCRIPTION: __("Description"),
}

# Each question to the person writing about themselves, and about someone else (the same text when one serves).
QUESTIONS: dict[Step, tuple[Any, Any]] = {
    Step.WHO: (__("Who are you writing about?"),) * 2,
    Step.URGENCY: (__("How urgent is it?"),) * 2,
    Step.SITUATION: (
        __("What is your situation now?"),
        __("What is the situation of the person you are writing about?"),
    ),
    Step.NOT_SERVING: (
        __("You are not in the army yet. What is happening?"),
        __("The person you are writing about is not in the army yet. What is happening?"),
    ),
    Step.SERVING: (
        __("You are serving now. What kind of service?"),
        __("The person you are writing about is serving now. What kind of service?"),
    ),
    Step.LEFT_UNIT: (
        __("You are already away from the unit. What is the situation?"),
        __("The person you are writing about is already away from the unit. What is the situation?"),
    ),
    Step.LOCATION: (
        __("Where are you now? Only roughly: never a city, an address or a unit."),
        __("Where is the person you are writing about now? Only roughly: never a city, an address or a unit."),
    ),
    Step.HEALTH: (
        __("Do you have a wound, an injury or an illness?"),
        __("Does the person you are writing about have a wound, an injury or an illness?"),
    ),
    Step.DOCUMENTS: (
        __("What about your documents?"),
        __("What about the documents of the person you are writing about?"),
    ),
    Step.HELP: (__("What help is needed?"),) * 2,
}
# Said under a question: why it is asked.
WHY: dict[Step, Any] = {
    Step.HEALTH: __("A wound, an injury or an illness can be grounds for a medical discharge: the legal way out."),
}

assert {step: set(labels) for step, labels in OPTION_LABELS.items()} == {
    step: {*OPTIONS[step], *RETIRED.get(step, ())} for step in OPTIONS
}, "every option of every question has a label"
assert set(STEP_TITLES) == set(ANSWER_STEPS) and set(QUESTIONS) == set(OPTIONS)


def option_label(step: Step | str, value: str, *, for_team: bool = False) -> str:
    """An option as people read it; a code no questionnaire knows shows as itself."""
    step = Step(step)
    label = (TEAM_LABELS.get(step, {}) if for_team else {}).get(value) or OPTION_LABELS[step].get(value)
    return str(label) if label is not None else value


def question(step: Step, answers: Mapping[str, Any]) -> str:
    to_you, about_them = QUESTIONS[step]
    return str(to_you if in_first_person(answers) else about_them)


def answer_text(step: Step, answers: Mapping[str, Any], *, for_team: bool = False) -> str:
    value = answers.get(step)
    if step in MULTI_SELECT:  # labels hold commas of their own ("Not in the army yet: summons, medical board")
        return "; ".join(option_label(step, v, for_team=for_team) for v in value or [])
    return option_label(step, value, for_team=for_team) if value else ""


def summary_lines(answers: Mapping[str, Any], *, for_team: bool = False) -> list[Text]:
    """One line per question answered (a question not asked has none), then the description."""
    lines = []
    for step in ANSWER_STEPS:
        if step == Step.DESCRIPTION:
            description = answers.get(step)
            value: Text | str = Text(description) if description else Italic(_("not given"))
        elif step in answers:
            value = answer_text(step, answers, for_team=for_team)
        else:
            continue
        lines.append(as_line(Bold(str(STEP_TITLES[step]), ": "), value, end=""))
    return lines
