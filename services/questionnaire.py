"""The intake questionnaire as data: steps, their options, the order, and what counts as complete.

Modelled on the request form of the helpline "Idite Lesom". Option values are short codes: they go into
callback data (64 bytes at most), statistics buckets and the sealed answers; labels live in the
translation catalogs, never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.sanitize import neutralize_controls


class Step(StrEnum):
    LANGUAGE = "language"
    SAFETY = "safety"
    CONSENT = "consent"
    WHO = "who"
    STATUS = "status"
    LOCATION = "location"
    DOCUMENTS = "documents"
    HEALTH = "health"
    URGENCY = "urgency"
    HELP = "help"
    DESCRIPTION = "description"
    REVIEW = "review"


ORDER: tuple[Step, ...] = tuple(Step)

# The questions answered with buttons, in the order they are asked, and the options of each.
OPTIONS: dict[Step, tuple[str, ...]] = {
    Step.WHO: ("self", "relative"),
    Step.STATUS: ("summons", "conscript", "mobilised", "contract", "left_unit", "wounded", "other"),
    Step.LOCATION: ("ru_home", "ru_unit", "front", "belarus", "kz_kg_am", "abroad"),
    Step.DOCUMENTS: ("passport", "foreign_passport", "no_foreign_passport", "military_id_held"),
    Step.HEALTH: ("matters", "none"),
    Step.URGENCY: ("48h", "week", "planning"),
    Step.HELP: ("leave", "legal", "shelter", "money", "psych", "asylum"),
}
MULTI_SELECT: frozenset[Step] = frozenset({Step.DOCUMENTS, Step.HELP})
DESCRIPTION_MAX = 2000

# Steps whose answers go into the request, in review order: the questions, then the free description.
ANSWER_STEPS: tuple[Step, ...] = (*OPTIONS, Step.DESCRIPTION)
# Coarse dimensions counted for statistics and shown on triage cards: every question, never the description.
STAT_DIMENSIONS: tuple[Step, ...] = tuple(OPTIONS)
assert ORDER[ORDER.index(Step.WHO) : ORDER.index(Step.DESCRIPTION) + 1] == ANSWER_STEPS, "asked in step order"
assert set(OPTIONS) >= MULTI_SELECT


class AnswerError(ValueError):
    """An answer that the step does not accept; ``reason`` is a stable code for the translated text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def next_step(step: Step) -> Step:
    return ORDER[min(ORDER.index(step) + 1, len(ORDER) - 1)]


def previous_step(step: Step) -> Step:
    return ORDER[max(ORDER.index(step) - 1, 0)]


def choose(step: Step, value: str, answers: dict[str, Any]) -> dict[str, Any]:
    """Apply a button press to the answers; returns the new answers (the input is not changed)."""
    if value not in OPTIONS.get(step, ()):
        raise AnswerError("unknown_option")
    updated = dict(answers)
    if step in MULTI_SELECT:
        selected = list(updated.get(step, []))
        if value in selected:
            selected.remove(value)
        else:
            selected.append(value)
        updated[step] = [option for option in OPTIONS[step] if option in selected]
    else:
        updated[step] = value
    return updated


def finish_multi_select(step: Step, answers: dict[str, Any]) -> None:
    if step in MULTI_SELECT and not answers.get(step):
        raise AnswerError("choose_at_least_one")


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


def after_answer(step: Step, editing: bool) -> Step:
    """Where an answered step leads: on to the next question, or straight back to review."""
    return Step.REVIEW if editing else next_step(step)


def first_missing(answers: dict[str, Any]) -> Step | None:
    for step in ANSWER_STEPS:
        if step == Step.DESCRIPTION:
            continue  # optional
        if not answers.get(step):
            return step
    return None


@dataclass(frozen=True)
class CompletedAnswers:
    """Answers checked to be complete and made only of known options."""

    values: dict[str, Any]

    @property
    def urgency(self) -> str:
        return str(self.values[Step.URGENCY])

    def coarse(self) -> dict[str, Any]:
        """Everything except free text: what triage cards and statistics may see."""
        return {step.value: self.values[step] for step in STAT_DIMENSIONS}


def complete(answers: dict[str, Any]) -> CompletedAnswers:
    if first_missing(answers) is not None:
        raise AnswerError("incomplete")
    values: dict[str, Any] = {}
    for step in ANSWER_STEPS:
        value = answers.get(step)
        if step == Step.DESCRIPTION:
            values[step] = describe(value)
        elif step in MULTI_SELECT:
            if not isinstance(value, list) or not value or any(v not in OPTIONS[step] for v in value):
                raise AnswerError("incomplete")
            values[step] = list(value)
        else:
            if value not in OPTIONS[step]:
                raise AnswerError("incomplete")
            values[step] = value
    return CompletedAnswers(values)
