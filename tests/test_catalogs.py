"""The translation catalogs: complete, in step with the code, and safe to send as plain text."""

from __future__ import annotations

import gettext
import re
import string
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES_DIR, create_i18n

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("ru", "uk", "en")
TRANSLATED = ("ru", "uk")
SOURCE_DIRS = ("bot", "handlers", "services")
KEYWORDS = {**DEFAULT_KEYWORDS, "__": None}  # the same as `pybabel extract -k __`
MAX_LENGTH = 1000

HOW_TO_UPDATE = (
    "Run the extract and update commands (README, 'Translations'), from the repository root:\n"
    "  .venv/bin/pybabel extract -F babel.cfg -k __ --no-location --sort-output --omit-header "
    "-o bot/locales/tropa.pot .\n"
    "  .venv/bin/pybabel update -i bot/locales/tropa.pot -d bot/locales -D tropa "
    "--no-fuzzy-matching --ignore-obsolete\n"
    "then translate the new entries in every bot/locales/*/LC_MESSAGES/tropa.po."
)

# ru/uk strings that may legitimately equal their English msgid (a bare code, a symbol, a command).
IDENTICAL_ALLOWED: frozenset[str] = frozenset()

# ASCII words of four or more letters that may stay in a ru/uk text.
ASCII_ALLOWED = frozenset({"Telegram", "CODE", "NAME", "ROLE"})
# The words /invite takes: a person has to type them in English, so they stay where the msgid lists them.
ROLE_ARGUMENTS = frozenset({"volunteer", "coordinator", "admin"})

COMMAND = re.compile(r"/[a-z_]+")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
USAGE_TEXT = re.compile(r"(?:CODE|\{code\}) text\b")  # "/reply CODE text", "/note CODE text"
ASCII_WORD = re.compile(r"[A-Za-z]{4,}")
# "<b>", "</i>", "<a href=...>", or a "<" that opens one: texts are plain, so these would show as typed.
# A bare comparison sign ("> 7 d", "<5") is fine.
HTML_TAG = re.compile(r"</?[A-Za-z!]|&[a-z]+;")


@cache
def catalog(language: str) -> Catalog:
    with (LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=language)


# A plain entry is keyed by its msgid; a plural one (ngettext) by (msgid, msgid_plural).
Key = str | tuple[str, ...]


def key_of(msgid: str | tuple[str, ...] | list[str]) -> Key:
    return tuple(str(part) for part in msgid) if isinstance(msgid, (tuple, list)) else str(msgid)


def english_forms(key: Key) -> tuple[str, ...]:
    """The English texts of an entry: the msgid, or the msgid and msgid_plural."""
    return key if isinstance(key, tuple) else (key,)


def entries(language: str) -> dict[Key, tuple[str, ...]]:
    """msgid -> msgstr forms of one catalog, without the header: one form for a plain entry, msgstr[0..n-1]
    (as many as the catalog's Plural-Forms says) for a plural one."""
    return {
        key_of(message.id): tuple(str(form) for form in message.string)
        if isinstance(message.string, (tuple, list))
        else (str(message.string),)
        for message in catalog(language)
        if message.id
    }


def expected_placeholders(language: str, key: Key, index: int) -> Counter[str]:
    """English keeps msgstr[i] = the i-th msgid; every ru/uk form (msgstr[0] also serves 21, 31...) takes
    the placeholders of the msgid_plural."""
    texts = english_forms(key)
    if language == "en":
        return placeholders(texts[min(index, len(texts) - 1)])
    return placeholders(texts[-1])


@cache
def used_msgids() -> frozenset[Key]:
    """What the code passes to ``_``, ``__`` and ``ngettext``, extracted and merged the way babel.cfg and
    pybabel do (a singular msgid and its msgid_plural make one plural entry)."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, filename="babel.cfg")
    extracted = Catalog()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        if message and (message[0] if isinstance(message, tuple) else message):
            extracted.add(message, context=context)
    return frozenset(key_of(message.id) for message in extracted if message.id)


def placeholders(text: str) -> Counter[str]:
    return Counter(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def leftover_ascii(msgid: str, msgstr: str) -> list[str]:
    """ASCII words in a translation that are neither a command, a placeholder nor an allowed word."""
    text = USAGE_TEXT.sub(" ", msgstr)
    text = COMMAND.sub(" ", PLACEHOLDER.sub(" ", text))
    allowed = ASCII_ALLOWED | (ROLE_ARGUMENTS if "volunteer, coordinator" in msgid else frozenset())
    return [word for word in ASCII_WORD.findall(text) if word not in allowed]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    untranslated = [msgid for msgid, forms in entries(language).items() if not all(form.strip() for form in forms)]
    fuzzy = [str(message.id) for message in catalog(language) if message.id and message.fuzzy]
    assert not untranslated, f"{language}: {len(untranslated)} messages without a translation: {untranslated}"
    assert not fuzzy, f"{language}: fuzzy entries are not compiled, review them and drop the flag: {fuzzy}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_forms_header(language: str) -> None:
    """ru and uk need one/few/many (1, 21 / 2-4, 22 / 5-20, 11). Compared by what the rule does, never by how
    it is spelled: babel releases write the same standard rule in different words."""
    standard = get_plural(language)
    assert catalog(language).num_plurals == standard.num_plurals, f"{language}: wrong nplurals in Plural-Forms"
    standard_form = gettext.c2py(standard.plural_expr)
    catalog_form = gettext.c2py(catalog(language).plural_expr)
    # What the bot compiled from the same header (GNUTranslations keeps it on the instance; typeshed omits it).
    bot_form: Callable[[int], int] = vars(create_i18n().locales[language])["plural"]
    wrong = [n for n in range(1001) if not standard_form(n) == catalog_form(n) == bot_form(n)]
    assert not wrong, f"{language}: Plural-Forms picks another form than the standard rule for n in {wrong[:10]}"


def test_english_catalog_repeats_the_msgids() -> None:
    different = [msgid for msgid, forms in entries("en").items() if forms != english_forms(msgid)]
    assert not different, f"en: msgstr should equal msgid: {different}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_holds_exactly_what_the_code_uses(language: str) -> None:
    used = used_msgids()
    assert len(used) > 100, "extraction found almost nothing: is babel.cfg still describing the sources?"
    present = set(entries(language))
    missing = sorted(used - present)
    stale = sorted(present - used)
    assert not missing, f"{language}: the code uses strings the catalog lacks: {missing}\n{HOW_TO_UPDATE}"
    assert not stale, f"{language}: the catalog has strings the code no longer uses: {stale}\n{HOW_TO_UPDATE}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match(language: str) -> None:
    wrong = {
        msgid: forms
        for msgid, forms in entries(language).items()
        if any(
            form and placeholders(form) != expected_placeholders(language, msgid, index)
            for index, form in enumerate(forms)
        )
    }
    assert not wrong, f"{language}: placeholders differ from the msgid: {wrong}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_nothing_is_left_in_english(language: str) -> None:
    identical = [
        msgid
        for msgid, forms in entries(language).items()
        if any(form in english_forms(msgid) for form in forms) and msgid not in IDENTICAL_ALLOWED
    ]
    assert not identical, f"{language}: not translated (msgstr equals msgid): {identical}"
    half = {
        msgid: words
        for msgid, forms in entries(language).items()
        if (words := [word for form in forms for word in leftover_ascii(" ".join(english_forms(msgid)), form)])
    }
    assert not half, f"{language}: English words left in translations: {half}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_are_plain_and_short(language: str) -> None:
    tags = {msgid: forms for msgid, forms in entries(language).items() if any(map(HTML_TAG.search, forms))}
    long = {
        msgid: max(map(len, forms)) for msgid, forms in entries(language).items() if max(map(len, forms)) > MAX_LENGTH
    }
    assert not tags, f"{language}: texts go out as plain text with entities, no HTML tags: {tags}"
    assert not long, f"{language}: texts over {MAX_LENGTH} characters: {long}"


def test_the_bot_loads_all_three_languages() -> None:
    i18n = create_i18n()
    assert set(i18n.available_locales) == set(LANGUAGES)
    assert i18n.gettext("I agree", locale="ru") != "I agree"
    assert i18n.gettext("I agree", locale="uk") != "I agree"
    assert i18n.gettext("I agree", locale="en") == "I agree"
