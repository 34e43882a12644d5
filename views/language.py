"""Languages as people see them: their names, the language screen, the answer once one is chosen, and time
zones in words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram.types import InlineKeyboardButton
from aiogram.utils.formatting import Text
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from storage.kinds import Language
from views.callbacks import LanguageChoice
from views.format import View, keyboard

LANGUAGE_NAMES: dict[str, str] = {Language.RU: "Русский", Language.UK: "Українська", Language.EN: "English"}
assert list(LANGUAGE_NAMES) == list(Language)
# Neighbours who usually read Russian better than English.
READS_RUSSIAN = frozenset({"be", "kk", "ky", "hy", "uz", "tg", "az", "ka"})


def pick_language(candidate: str | None, fallback: str) -> str:
    """Map a Telegram language_code (``uk``, ``ru-RU``, ``be``) onto a supported language."""
    if candidate:
        base = candidate.split("-")[0].lower()
        if base in set(Language):
            return base
        if base in READS_RUSSIAN:
            return Language.RU.value
    return fallback


def language_name(code: str) -> str:
    """A language's own name; a code no longer offered shows as itself."""
    return LANGUAGE_NAMES.get(code, code)


def language_view(preselected: str, *, switch: bool = False) -> View:
    rows = []
    for code, name in LANGUAGE_NAMES.items():
        label = f"• {name}" if code == preselected else name
        rows.append([InlineKeyboardButton(text=label, callback_data=LanguageChoice(code=code, switch=switch).pack())])
    return View(Text("Выберите язык · Оберіть мову · Choose your language"), keyboard(*rows))


def language_changed() -> str:
    return _("Language changed.")


ZONE_NAMES: dict[str, Any] = {
    "Europe/Moscow": __("Moscow time"),
    "Europe/Kyiv": __("Kyiv time"),
    "Europe/Kiev": __("Kyiv time"),
}


def zone_words(zone: str, offset: timedelta | None) -> str:
    """A time zone as people say it after a time ("10:00 Moscow time"), never as a key like Europe/Moscow; a zone
    without a name of its own as its offset from UTC."""
    if zone in ZONE_NAMES:
        return str(ZONE_NAMES[zone])
    minutes = int(offset.total_seconds() // 60) if offset else 0
    hours, rest = divmod(abs(minutes), 60)
    sign = "+" if minutes >= 0 else "−"
    written = "" if minutes == 0 else f"{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return _("UTC{offset} time").format(offset=written)
