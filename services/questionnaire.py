"""The intake questionnaire as data: steps, their options, the branches, and what counts as complete.

Modelled on what the helplines Tropa follows ask first (../shared/HELPLINES.md): who is writing, how urgent it
is, then the situation, which may be several at once (not serving yet, serving, away from the unit, wounded,
abroad), with a detail question for each of the first three. Someone in danger within 48 hours skips to a short
description: the volunteer asks the rest. Every question can be answered "don't know".

Option values are short codes: they go into callback data (64 bytes at most), statistics buckets and the sealed
answers; labels live in the translation catalogs (views/questions.py), never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.sanitize import neutralize_controls


class Step(StrEnum):
    """Every screen of the intake, in the order they can come (each is also an FSM state)."""

    LANGUAGE = "language"
    SAFETY = "safety"
    RECONNECT = "reconnect"  # "I already have a request": the key from another phone (services/reconnect.py)
    CONSENT = "consent"
    WHO = "who"
    URGENCY = "urgency"
    SITUATION = "situation"
    NOT_SERVING = "not_serving"
    SERVING = "serving"
    LEFT_UNIT = "left_unit"
    LOCATION = "location"
    HEALTH = "health"
    DOCUMENTS = "documents"
    HELP = "help"
    DESCRIPTION = "description"
    REVIEW = "review"


ORDER: tuple[Step, ...] = tuple(Step)
UNKNOWN = "unknown"  # "Don't know / prefer not to say": an answer to every question
DANGER = "48h"  # danger within the next 48 hours: the fast path
SELF = "self"

# The questions answered with buttons, in the order they are asked, and the options of each.
# fmt: off
OPTIONS: dict[Step, tuple[str, ...]] = {
    Step.WHO: (SELF, "relative", UNKNOWN),
    Step.URGENCY: (DANGER, "week", "planning", UNKNOWN),
    Step.SITUATION: ("not_serving", "serving", "left_unit", "wounded", "abroad", UNKNOWN),
    Step.NOT_SERVING: ("paper_summons", "e_summons", "medical_board", "deferment", "alt_service", UNKNOWN),
    Step.SERVING: ("conscript", "forced_contract", "contract", "mobilised", "refused", UNKNOWN),
    Step.LEFT_UNIT: ("awol", "not_returned", "wanted", "sentenced", UNKNOWN),
    Step.LOCATION: ("ru_home", "ru_unit", "front", "controlled", "abroad", UNKNOWN),
    Step.HEALTH: ("wound", "illness", "none", UNKNOWN),
    Step.DOCUMENTS: ("passport", "foreign_passport", "no_foreign_passport", "passport_held", "military_id_held",
                     UNKNOWN),
    Step.HELP: ("leave", "legal", "criminal_case", "medical", "documents_back", "deferment", "partner_exit", "shelter",
                "money", "psych", "asylum", "family", UNKNOWN),
}
# fmt: on
MULTI_SELECT: frozenset[Step] = frozenset(
    {Step.SITUATION, Step.NOT_SERVING, Step.SERVING, Step.LEFT_UNIT, Step.HEALTH, Step.DOCUMENTS, Step.HELP}
)
# Options that stand alone in a multi-select: choosing one clears the others, choosing another clears it.
EXCLUSIVE: dict[Step, frozenset[str]] = {
    step: frozenset({UNKNOWN, "none"} if step == Step.HEALTH else {UNKNOWN}) for step in MULTI_SELECT
}
# Values no longer offered that answers from earlier releases hold (services/upgrade.py): shown and counted.
RETIRED: dict[Step, tuple[str, ...]] = {Step.HEALTH: ("unspecified",)}
# A situation that has a question of its own, asked right after the situation, in this order.
DETAILS: dict[str, Step] = {"not_serving": Step.NOT_SERVING, "serving": Step.SERVING, "left_unit": Step.LEFT_UNIT}
DESCRIPTION_MAX = 2000

# Steps whose answers go into the request, in review order: the questions, then the free description.
ANSWER_STEPS: tuple[Step, ...] = (*OPTIONS, Step.DESCRIPTION)
# Coarse dimensions counted for statistics: every question, never the description.
STAT_DIMENSIONS: tuple[Step, ...] = tuple(OPTIONS)
BEFORE_QUESTIONS: tuple[Step, ...] = (Step.LANGUAGE, Step.SAFETY, Step.CONSENT)
assert [step for step in ORDER if step in ANSWER_STEPS] == list(ANSWER_STEPS), "asked in step order"
assert set(OPTIONS) >= MULTI_SELECT and set(DETAILS) <= set(OPTIONS[Step.SITUATION])
assert all(UNKNOWN in options for options in OPTIONS.values()), "nothing forces a guess"


class AnswerError(ValueError):
    """An answer that the step does not accept; ``reason`` is a stable code for the translated text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def known_values(step: Step) -> tuple[str, ...]:
    """What an answer to ``step`` may hold: today's options, and those of earlier releases."""
    return (*OPTIONS[step], *RETIRED.get(step, ()))


def in_first_person(answers: Mapping[str, Any]) -> bool:
    """Questions speak to the person ("you") when they write about themselves, else about "the person"."""
    return answers.get(Step.WHO) == SELF


def is_fast(answers: Mapping[str, Any]) -> bool:
    """Danger within 48 hours and no situation given: a short description, then Submit."""
    return answers.get(Step.URGENCY) == DANGER and Step.SITUATION not in answers


def flow(answers: Mapping[str, Any]) -> tuple[Step, ...]:
    """The questions these answers lead through, in order."""
    if is_fast(answers):
        return (Step.WHO, Step.URGENCY, Step.DESCRIPTION)
    chosen = answers.get(Step.SITUATION) or ()
    details = tuple(step for group, step in DETAILS.items() if group in chosen)
    return (Step.WHO, Step.URGENCY, Step.SITUATION, *details, Step.LOCATION, Step.HEALTH, Step.DOCUMENTS, Step.HELP,
            Step.DESCRIPTION)  # fmt: skip


def _screens(answers: Mapping[str, Any]) -> tuple[Step, ...]:
    return (*BEFORE_QUESTIONS, *flow(answers), Step.REVIEW)


def next_step(step: Step, answers: Mapping[str, Any]) -> Step:
    """The screen after ``step`` on the way these answers lead; a description already given (kept from a
    message typed at a button step) is not asked again."""
    screens = _screens(answers)
    for candidate in ORDER[ORDER.index(step) + 1 :]:
        if candidate in screens and not (candidate == Step.DESCRIPTION and answers.get(Step.DESCRIPTION)):
            return candidate
    return Step.REVIEW


def previous_step(step: Step, answers: Mapping[str, Any]) -> Step:
    """The screen shown before ``step``: skipped questions (the fast path, detail questions of situations not
    chosen) are skipped going back too."""
    if step == Step.RECONNECT:
        return Step.SAFETY
    screens = _screens(answers)
    for candidate in reversed(ORDER[: ORDER.index(step)]):
        if candidate in screens:
            return candidate
    return Step.LANGUAGE


def choose(step: Step, value: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a button press to the answers; returns the new answers (the input is not changed)."""
    if value not in OPTIONS.get(step, ()):
        raise AnswerError("unknown_option")
    updated = dict(answers)
    if step not in MULTI_SELECT:
        updated[step] = value
        return updated
    selected = [option for option in updated.get(step) or [] if option in OPTIONS[step]]
    if value in selected:
        selected.remove(value)
    elif value in EXCLUSIVE[step]:
        selected = [value]
    else:
        selected = [option for option in selected if option not in EXCLUSIVE[step]] + [value]
    updated[step] = [option for option in OPTIONS[step] if option in selected]
    return updated


def prune(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers without those to detail questions of situations no longer chosen."""
    chosen = answers.get(Step.SITUATION)
    if chosen is None:
        return dict(answers)
    dropped = {step for group, step in DETAILS.items() if group not in chosen}
    return {key: value for key, value in answers.items() if key not in dropped}


def finish_multi_select(step: Step, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Done on a multi-select: at least one option ("don't know" counts), and a changed situation drops the
    answers of situations no longer chosen."""
    if step in MULTI_SELECT and not answers.get(step):
        raise AnswerError("choose_at_least_one")
    return prune(answers)


def describe(text: str | None) -> str | None:
    """Validate the free-text description; None means skipped."""
    if text is None:
        return None
    stripped = neutralize_controls(text).strip()  # a volunteer reads it: nothing hidden in it
    if not stripped:
        return None
    if len(stripped) > DESCRIPTION_MAX:
        raise AnswerError("too_long")
    return stripped


def keeps_typed_text(step: Step) -> bool:
    """Whether text typed at ``step``, where buttons answer, may be kept as the description: at a question or
    the review, not before the person agreed to what is kept."""
    return step in OPTIONS or step == Step.REVIEW


def first_missing(answers: Mapping[str, Any]) -> Step | None:
    """The first question on the way these answers lead that has no answer yet (the description is optional)."""
    for step in flow(answers):
        if step != Step.DESCRIPTION and not answers.get(step):
            return step
    return None


def after_answer(step: Step, answers: Mapping[str, Any], *, editing: bool) -> Step:
    """Where an answered step leads: on to the next screen or, when changing an answer from the review (or
    adding details to it), to the first question still unanswered, else back to the review."""
    if editing:
        return first_missing(answers) or Step.REVIEW
    return next_step(step, answers)


@dataclass(frozen=True)
class CompletedAnswers:
    """Answers checked to be complete and made only of known options; questions not asked are absent."""

    values: dict[str, Any]

    @property
    def urgency(self) -> str:
        return str(self.values[Step.URGENCY])

    def coarse(self) -> dict[str, Any]:
        """Everything except free text: what triage cards and statistics may see."""
        return {step.value: self.values[step] for step in STAT_DIMENSIONS if step in self.values}


def _valid(step: Step, value: Any) -> bool:
    if step not in MULTI_SELECT:
        return value in OPTIONS[step]
    return isinstance(value, list) and bool(value) and all(v in known_values(step) for v in value)


def complete(answers: Mapping[str, Any]) -> CompletedAnswers:
    answers = prune(answers)
    if first_missing(answers) is not None:
        raise AnswerError("incomplete")
    values: dict[str, Any] = {}
    for step in flow(answers):
        value = answers.get(step)
        if step == Step.DESCRIPTION:
            values[step] = describe(value)
        elif _valid(step, value):
            values[step] = list(value) if isinstance(value, list) else value
        else:
            raise AnswerError("incomplete")
    return CompletedAnswers(values)
