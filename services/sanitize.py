"""Invisible characters taken out of what one side types before the other side sees it.

Bidirectional controls can make a text display differently from what it says (an override turns
"R-7KQ3XM" or "Volunteer Birch:" around, or hides the end of a sentence at its start); zero-width and
other format characters hide text, split words past a reader's eye, or make a message that looks empty.
None of them is needed in a help request, a note or a reply. Two are kept: the zero-width joiner and
non-joiner, which emoji sequences (👨‍👩‍👧) and some scripts need, and which change nothing else.
"""

from __future__ import annotations

import unicodedata

KEPT_FORMAT = frozenset({"\u200c", "\u200d"})  # zero-width non-joiner, zero-width joiner
KEPT_CONTROLS = frozenset({"\n", "\t"})
# Letters that render as nothing at all (Hangul fillers, the blank Braille pattern): category Lo/So,
# so the category test alone would let them through.
BLANKS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"})


def is_hidden(char: str) -> bool:
    """A character a reader cannot see that changes how the text around it reads."""
    if char in KEPT_FORMAT or char in KEPT_CONTROLS:
        return False
    if char in BLANKS:
        return True
    # Cf: format (bidi controls, zero-width space, word joiner, BOM, tags); Cc: C0/C1 controls; Cs: a
    # lone surrogate (JSON can carry one). Unassigned code points stay: newer emoji are unassigned to
    # this Python's Unicode tables.
    return unicodedata.category(char) in ("Cf", "Cc", "Cs")


def neutralize_controls(text: str) -> str:
    """``text`` without hidden characters; carriage returns and Unicode line separators become line breaks."""
    for separator in ("\r\n", "\r", "\u2028", "\u2029"):
        text = text.replace(separator, "\n")
    return "".join(char for char in text if not is_hidden(char))
