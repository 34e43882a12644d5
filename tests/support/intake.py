"""A requester walking the intake, in any language, by the labels a person sees: in-process and end to end.

Each step waits for the screen it leads to, so the same walk serves a bot that settles in this process and
a bot process that answers when it answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from testkit.telegram import Person, ViewMessage

LANGUAGE_BUTTONS = {"ru": "Русский", "uk": "Українська", "en": "English"}
CODE = re.compile(r"R-[0-9A-Z]{6}")
KEY = re.compile(r"R-[0-9A-Z]{6}(?:-[0-9A-Z]{4}){4}")


# The labels of the options that branch, as a person reads them (in English; ``Person.press`` translates).
MYSELF = "I am writing about myself"
RELATIVE = "About a relative or friend"
DANGER = "Danger within the next 48 hours"
THIS_WEEK = "It has to be solved this week"
NOT_SERVING = "Not in the army yet: summons, medical board, deferment"
SERVING = "Serving now"
AWAY = "Already away from the unit"
DONT_KNOW = "Don't know / prefer not to say"
# The question each branch adds, by the situation that asks it, in the order they come.
DETAIL_QUESTIONS = {NOT_SERVING: "not_serving", SERVING: "serving", AWAY: "left_unit"}


@dataclass
class IntakeAnswers:
    """The labels a person presses, question by question; a multi-select presses each, then Done. The detail
    questions are answered only when their situation is chosen, none after danger within 48 hours."""

    who: str = MYSELF
    urgency: str = THIS_WEEK
    situation: list[str] = field(default_factory=lambda: [SERVING])
    not_serving: list[str] = field(default_factory=lambda: ["A summons on paper"])
    serving: list[str] = field(default_factory=lambda: ["Mobilised"])
    left_unit: list[str] = field(default_factory=lambda: ["Left the unit"])
    location: str = "Abroad"
    health: list[str] = field(default_factory=lambda: ["No"])
    documents: list[str] = field(default_factory=lambda: ["Internal passport at hand", "Military ID held by the unit"])
    help: list[str] = field(default_factory=lambda: ["Leaving Russia", "A lawyer's advice"])
    description: str | None = "I was told we leave for the front next week."

    @property
    def fast(self) -> bool:
        return self.urgency == DANGER


def relative_not_serving_yet(**changes: Any) -> IntakeAnswers:
    """A relative writes about someone not in the army yet (most of those who write): an electronic summons,
    a medical board, at home in Russia."""
    answers = IntakeAnswers(
        who=RELATIVE,
        situation=[NOT_SERVING],
        not_serving=["An electronic summons or a ban on leaving Russia", "Called to a medical board"],
        location="In Russia, at home",
        health=[DONT_KNOW],
        documents=["Internal passport at hand", "No foreign passport"],
        help=["Deferment or alternative service", "A lawyer's advice"],
    )
    return replace(answers, **changes)


async def choose_language(person: Person) -> None:
    """/start, then the person's language: the safety screen is next."""
    await person.send("/start", until=lambda: "Choose your language" in person.last())
    await person.press(
        LANGUAGE_BUTTONS[person.language],
        translate=False,
        until=lambda: person.t("Before we start: your safety") in person.last(),
    )


async def through_consent(person: Person) -> None:
    """Up to the first question."""
    await choose_language(person)
    await person.press("I understand, continue")
    await person.press("I agree")
    assert person.last() == person.t("Who are you writing about?"), person.last()


async def choose_all(person: Person, labels: list[str]) -> None:
    """A multi-select: each label, then Done."""
    for label in labels:
        await person.press(label)
    await person.press("Done")


async def answer_situation(person: Person, answers: IntakeAnswers) -> None:
    """The situation and the detail question of each chosen situation that has one: up to the place."""
    await choose_all(person, answers.situation)
    for situation, field_name in DETAIL_QUESTIONS.items():
        if situation in answers.situation:
            await choose_all(person, getattr(answers, field_name))


async def answer_questions(person: Person, answers: IntakeAnswers, *, who_answered: bool = False) -> None:
    """From the first question (or, ``who_answered``, the second) to the review."""
    if not who_answered:
        await person.press(answers.who)
    await person.press(answers.urgency)
    if not answers.fast:
        await answer_situation(person, answers)
        await person.press(answers.location)
        await choose_all(person, answers.health)
        await choose_all(person, answers.documents)
        await choose_all(person, answers.help)
    assert person.t("Skip") in person.buttons(), person.buttons()  # the description question
    review = person.t("Please check your answers")
    if answers.description is None:
        await person.press("Skip", until=lambda: review in person.last())
    else:
        await person.send(answers.description, until=lambda: review in person.last())


async def reach_review(person: Person, answers: IntakeAnswers | None = None) -> IntakeAnswers:
    answers = answers or IntakeAnswers()
    await through_consent(person)
    await answer_questions(person, answers)
    return answers


async def walk_to_documents(person: Person) -> None:
    """Up to the documents question (a multi-select), for myself, serving and mobilised, abroad, healthy."""
    await choose_language(person)
    for label in ("I understand, continue", "I agree", MYSELF, THIS_WEEK, SERVING, "Done", "Mobilised", "Done"):
        await person.press(label)
    for label in ("Abroad", "No", "Done"):
        await person.press(label)


def confirmations(person: Person) -> list[ViewMessage]:
    """Every confirmation of a submitted request the person received, deleted ones included."""
    return person.ever_received(person.t("Your request is sent."))


async def confirm(person: Person) -> str:
    """Press Submit on the review; returns the request code from the one confirmation it brings."""
    before = max((m.message_id for m in person.all_messages()), default=0)

    def sent() -> list[ViewMessage]:
        return [m for m in confirmations(person) if m.message_id > before]

    pressed = await person.press("Submit", until=sent)
    assert pressed.answer.text == person.t("Sent."), pressed.answer
    (confirmation,) = sent()
    match = CODE.search(confirmation.text)
    assert match, confirmation.text
    return match.group(0)


async def submit(person: Person, answers: IntakeAnswers | None = None) -> str:
    """Walk the whole intake and submit; returns the request code from the confirmation."""
    await reach_review(person, answers)
    return await confirm(person)


def request_code(person: Person) -> str:
    """The newest request code the bot shows this person."""
    for message in reversed(person.visible()):
        if message.from_bot and (match := CODE.search(message.text)):
            return match.group(0)
    raise AssertionError(f"no request code visible: {person.texts()}")


def key_messages(person: Person) -> list[ViewMessage]:
    """Every reconnect key the bot showed the person, deleted ones included."""
    return person.ever_received(person.t("Write it down somewhere safe, not in this phone's notes."))


def reconnect_key(person: Person) -> str:
    """The newest reconnect key visible in the chat, as the person would copy it."""
    for message in reversed(person.visible()):
        if message.from_bot and (match := KEY.search(message.text)):
            return match.group(0)
    raise AssertionError(f"no reconnect key visible: {person.texts()}")


async def hygiene_done(person: Person) -> None:
    """After submitting, the chat is cleaned through the outbox: wait until only the confirmation and the
    reconnect key shown after it are left."""

    def cleaned() -> bool:
        kept = sorted([*confirmations(person), *key_messages(person)], key=lambda m: m.message_id)
        return bool(key_messages(person)) and [m.text for m in person.visible()] == [m.text for m in kept]

    await person.wait(cleaned)
