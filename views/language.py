"""Languages as people see them: their names, the language screen, and the answer once one is chosen."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton
from aiogram.utils.formatting import Text
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from storage.kinds import Language
from views.callbacks import LanguageChoice
from views.format import View

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
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        label = f"• {name}" if code == preselected else name
        builder.row(InlineKeyboardButton(text=label, callback_data=LanguageChoice(code=code, switch=switch).pack()))
    return View(Text("Выберите язык · Оберіть мову · Choose your language"), builder.as_markup())


def language_changed() -> str:
    return _("Language changed.")
