"""Translations: gettext catalogs for ru, uk and en, compiled from the .po files when the bot starts.

Compiling in memory means the repository holds only the human-readable .po files, and a stale .mo can
never disagree with them.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.settings import SUPPORTED_LANGUAGES

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "tropa"


class CatalogI18n(I18n):
    @contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram's gettext looks the instance up as ``I18n.get_current()``, and every subclass of a
        # ContextInstanceMixin gets a context variable of its own: register under I18n itself.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for language in SUPPORTED_LANGUAGES:
            po_path = self.path / language / "LC_MESSAGES" / f"{self.domain}.po"
            if not po_path.exists():
                continue
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
            compiled = io.BytesIO()
            write_mo(compiled, catalog, use_fuzzy=False)
            compiled.seek(0)
            translations[language] = gettext.GNUTranslations(compiled)
        return translations


def create_i18n(default_locale: str = "ru") -> CatalogI18n:
    return CatalogI18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)
