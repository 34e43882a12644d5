"""Long lists in pages that each fit one Telegram message, with « » buttons between them.

Telegram takes 4096 characters a message, counted in UTF-16 code units after entity parsing (as here); a page
holds ``PAGE_ROOM`` of them, the rest is for its heading. An item is never split: callers keep each under the
room (a note is at most 3000 characters, a kept message is cut there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.formatting import Text

T = TypeVar("T")
PAGE_ROOM = 3900
MESSAGE_LIMIT = 4096


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def rendered_length(text: Text) -> int:
    """What Telegram counts of a message built with aiogram.utils.formatting."""
    return utf16(text.as_kwargs()["text"])


def paginate(items: Sequence[T], block: Callable[[T], Text], room: int = PAGE_ROOM) -> list[list[T]]:
    """``items`` in pages, in order; each page's blocks (one line between them) take at most ``room``."""
    pages: list[list[T]] = [[]]
    used = 0
    for item in items:
        size = rendered_length(block(item)) + 1
        if pages[-1] and used + size > room:
            pages.append([])
            used = 0
        pages[-1].append(item)
        used += size
    return pages


def page_markup(page: int, pages: int, button: Callable[[int], str]) -> InlineKeyboardMarkup | None:
    """« and » to the pages before and after ``page``; ``button(n)`` is the callback data of page n."""
    navigation = []
    if page > 0:
        navigation.append(InlineKeyboardButton(text="«", callback_data=button(page - 1)))
    if page + 1 < pages:
        navigation.append(InlineKeyboardButton(text="»", callback_data=button(page + 1)))
    return InlineKeyboardMarkup(inline_keyboard=[navigation]) if navigation else None


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis where something was left out."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
