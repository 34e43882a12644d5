"""Pseudonyms: what requesters see instead of a volunteer's account, and how the team tells its members apart.

A pseudonym is normalised (NFKC: full-width "Ｂｉｒｃｈ" is "Birch"; runs of spaces are one space) and
then must be 2 to 32 letters, ASCII digits, spaces or dashes, with at least one letter. It may not hide
anything (fillers, zero-width or bidirectional characters, combining marks) and may not mix alphabets:
"Birсh" with a Cyrillic "с" would pass for "Birch". Within the team no two pseudonyms may look the
same (``skeleton``): an admin revoking "Birch" must revoke the one they mean.
"""

from __future__ import annotations

import unicodedata

from services.sanitize import BLANKS, is_hidden

MIN_LENGTH = 2
MAX_LENGTH = 32
LETTER_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lo"})
# Letters of other alphabets that look like Latin ones (Unicode's confusables, the part that matters for
# names), and Latin letters and digits that pass for each other in most fonts: mapped, after case folding,
# before two pseudonyms are compared. Folding "i" and "l" together also catches "I" (capital i) and "l".
LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic (capitals fold to these)
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
        "у": "y", "х": "x", "ѕ": "s", "і": "l", "ј": "j", "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ү": "y",
        "ӏ": "l",
        # Greek
        "α": "a", "β": "b", "ε": "e", "ζ": "z", "η": "n", "ι": "l", "κ": "k", "μ": "u", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
        # Latin letters and digits
        "i": "l", "0": "o", "1": "l",
    }
)  # fmt: skip


class PseudonymError(ValueError):
    """``reason``: "bad_pseudonym" or "mixed_script", a stable code for the translated text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def script_of(char: str) -> str | None:
    """The alphabet a letter belongs to, from its Unicode name ("CYRILLIC SMALL LETTER ES": Cyrillic)."""
    if unicodedata.category(char) not in LETTER_CATEGORIES:
        return None
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def normalize(raw: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", raw).split())


def checked(raw: str) -> str:
    """The pseudonym as it will be shown, or PseudonymError."""
    name = normalize(raw)
    if not MIN_LENGTH <= len(name) <= MAX_LENGTH:
        raise PseudonymError("bad_pseudonym")
    scripts: set[str] = set()
    for char in name:
        if char in BLANKS or is_hidden(char):
            raise PseudonymError("bad_pseudonym")
        if char in " -" or (char.isascii() and char.isdigit()):
            continue
        script = script_of(char)
        if script is None:  # a symbol, a combining mark, a modifier letter, another alphabet's digit
            raise PseudonymError("bad_pseudonym")
        scripts.add(script)
    if not scripts:
        raise PseudonymError("bad_pseudonym")  # digits and dashes only: not a name
    if len(scripts) > 1:
        raise PseudonymError("mixed_script")
    return name


def skeleton(name: str) -> str:
    """What a pseudonym looks like, for telling two apart: look-alike letters folded, case ignored."""
    return normalize(name).casefold().translate(LOOK_ALIKES).replace("-", " ")
