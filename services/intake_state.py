"""An intake in progress, as it is kept between updates: the FSM data of a requester's chat.

The FSM storage seals it (storage/fsm); the intake's chat (handlers/intake_chat.py) reads and writes it, the
sweep of abandoned intakes (services/maintenance.py) reads it to clean the chat. The dictionary keys are the
stored layout: intakes already under way when a new release starts read the same, their answers in today's
layout (services/upgrade.py; ``upgraded`` says so until they are saved again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.upgrade import is_legacy, upgrade_answers


@dataclass
class IntakeState:
    locale: str | None = None  # chosen on the first screen, or changed with /language
    answers: dict[str, Any] = field(default_factory=dict)  # by step (services/questionnaire.py)
    tracked: list[int] = field(default_factory=list)  # every message of the intake, deleted when it ends
    prompt: int | None = None  # the live question: a button on any other message is stale
    editing: bool = False  # came from ✏️ on the review: an answer leads back to the review
    chat: int | None = None  # the requester's chat, which the sweep cleans
    held: str | None = None  # text typed at a button step, kept here (sealed) until it becomes the description
    hint: int | None = None  # the hint about that message: one at a time
    upgraded: bool = field(default=False, compare=False)  # answers of an earlier release, read in today's layout

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntakeState:
        """What the FSM storage holds; fields it lacks (a person who only chose a language) keep their
        defaults, other keys (a volunteer's canned-reply entry) are not an intake's and are left out."""
        prompt, chat, hint = data.get("prompt"), data.get("chat"), data.get("hint")
        answers = dict(data.get("answers") or {})
        return cls(
            locale=data.get("locale"),
            answers=upgrade_answers(answers),
            tracked=[int(message_id) for message_id in data.get("tracked") or []],
            prompt=int(prompt) if prompt is not None else None,
            editing=bool(data.get("editing")),
            chat=int(chat) if chat is not None else None,
            held=data.get("held"),
            hint=int(hint) if hint is not None else None,
            upgraded=is_legacy(answers),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "locale": self.locale,
            "answers": self.answers,
            "tracked": self.tracked,
            "chat": self.chat,
            "editing": self.editing,
        }
        optional = {"prompt": self.prompt, "held": self.held, "hint": self.hint}
        data.update({key: value for key, value in optional.items() if value is not None})
        return data
