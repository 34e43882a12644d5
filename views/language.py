"""Languages as people see them: their names, the language screen, and the answer once one is chosen."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton
from aiogram.utils.formatting import Text
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from views.callbacks import LanguageChoice
from views.format import View

LANGUAGE_NAMES = {"ru": "Русский", "uk": "Українська", "en": "English"}


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
