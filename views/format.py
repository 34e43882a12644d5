"""Translated sentences with values in them, without giving up the translator's word order; a screen as text
plus buttons."""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Bold, Code, Text


def fill(template: str, **values: Any) -> Text:
    """``fill(_("Your request {code} is closed."), code="R-7KQ3XM")``: each placeholder becomes an entity
    (bold, unless the value already is a formatting node); the value is never parsed as markup."""
    parts: list[Any] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            parts.append(literal)
        if field is not None:
            value = values[field]
            parts.append(value if isinstance(value, Text) else Bold(str(value)))
    return Text(*parts)


@dataclass(frozen=True)
class View:
    """One screen: its text (entities, never markup) and its buttons."""

    text: Text
    markup: InlineKeyboardMarkup | None = None

    def kwargs(self) -> dict[str, Any]:
        return {**self.text.as_kwargs(), "reply_markup": self.markup}


Row = Sequence[InlineKeyboardButton]


def keyboard(*rows: Row) -> InlineKeyboardMarkup:
    """Buttons, row by row, in aiogram's own markup type. Not ``InlineKeyboardBuilder``: its ``as_markup`` deep-copies
    every button of the screen, a quarter of a millisecond of each intake step (bench/intake_profile.py)."""
    return InlineKeyboardMarkup(inline_keyboard=[list(row) for row in rows if row])


def rows_of(width: int, buttons: Sequence[InlineKeyboardButton]) -> list[Row]:
    """``buttons`` laid out ``width`` to a row (the last row may be shorter)."""
    return [buttons[start : start + width] for start in range(0, len(buttons), width)]


def code_of(code: str) -> Code:
    """A request's code as volunteers see it: monospace, copied with one tap."""
    return Code(code)
