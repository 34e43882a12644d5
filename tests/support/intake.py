"""A requester walking the intake, in any language, by the labels a person sees."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.support.harness import Harness
from tests.support.telegram import FakeUser

LANGUAGE_BUTTONS = {"ru": "Русский", "uk": "Українська", "en": "English"}


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


class Requester:
    def __init__(self, harness: Harness, user: FakeUser, language: str = "en") -> None:
        self.h = harness
        self.user = user
        self.language = language

    def t(self, text: str) -> str:
        """The label a person sees in their language."""
        return self.h.app.i18n.gettext(text, locale=self.language)

    async def press(self, label: str, *, translate: bool = True) -> None:
        self.user.press(self.t(label) if translate else label)
        await self.h.settle()

    async def send(self, text: str) -> None:
        self.user.send(text)
        await self.h.settle()

    async def start(self) -> None:
        await self.send("/start")

    async def choose_language(self) -> None:
        self.user.press(LANGUAGE_BUTTONS[self.language])
        await self.h.settle()

    async def through_consent(self) -> None:
        await self.start()
        await self.choose_language()
        await self.press("I understand, continue")
        await self.press("I agree")

    async def answer_questions(self, answers: IntakeAnswers) -> None:
        await self.press(answers.who)
        await self.press(answers.status)
        await self.press(answers.location)
        for document in answers.documents:
            await self.press(document)
        await self.press("Done")
        await self.press(answers.health)
        await self.press(answers.urgency)
        for need in answers.help:
            await self.press(need)
        await self.press("Done")
        if answers.description is None:
            await self.press("Skip")
        else:
            await self.send(answers.description)

    async def reach_review(self, answers: IntakeAnswers | None = None) -> IntakeAnswers:
        answers = answers or IntakeAnswers()
        await self.through_consent()
        await self.answer_questions(answers)
        return answers

    async def submit(self, answers: IntakeAnswers | None = None) -> str:
        """Walk the whole intake and submit; returns the request code from the confirmation."""
        await self.reach_review(answers)
        await self.press("Submit")
        return self.request_code()

    def request_code(self) -> str:
        for message in reversed(self.user.chat.visible()):
            if message.from_bot and (match := re.search(r"R-[0-9A-Z]{6}", message.text or "")):
                return match.group(0)
        raise AssertionError(f"no request code visible: {self.user.chat.texts()}")

    def last(self) -> str:
        message = self.user.chat.last_from_bot()
        assert message is not None
        return message.text or ""

    def buttons(self) -> list[str]:
        message = self.user.chat.last_from_bot()
        return [label for row in (message.buttons if message else []) for label in row]
