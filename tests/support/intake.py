"""A requester walking the intake, in any language, by the labels a person sees: in-process and end to end.

Each step waits for the screen it leads to, so the same walk serves a bot that settles in this process and
a bot process that answers when it answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from testkit.telegram import Person, ViewMessage

LANGUAGE_BUTTONS = {"ru": "Русский", "uk": "Українська", "en": "English"}
CODE = re.compile(r"R-[0-9A-Z]{6}")


@dataclass
class IntakeAnswers:
    who: str = "I am asking for myself"
    status: str = "Mobilised"
    location: str = "Belarus"
    documents: list[str] = field(default_factory=lambda: ["Internal passport", "Military ID is held by the unit"])
    health: str = "No"
    urgency: str = "This week"
    help: list[str] = field(default_factory=lambda: ["Leaving the country", "Legal advice"])
    description: str | None = "I was told we leave for the front next week."


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
    assert person.last() == person.t("Who is asking for help?"), person.last()


async def answer_questions(person: Person, answers: IntakeAnswers) -> None:
    """From the first question to the review."""
    await person.press(answers.who)
    await person.press(answers.status)
    await person.press(answers.location)
    for document in answers.documents:
        await person.press(document)
    await person.press("Done")
    await person.press(answers.health)
    await person.press(answers.urgency)
    for need in answers.help:
        await person.press(need)
    await person.press("Done")
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
    """Up to the documents question (the first multi-select)."""
    await choose_language(person)
    for label in ("I understand, continue", "I agree", "I am asking for myself", "Mobilised", "Belarus"):
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


async def hygiene_done(person: Person) -> None:
    """After submitting, the chat is cleaned through the outbox: wait until only the confirmation is left."""
    await person.wait(lambda: [m.text for m in person.visible()] == [m.text for m in confirmations(person)])
