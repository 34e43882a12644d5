"""Characters nobody can see never reach the other side (issue 16, point 6): bidirectional controls that
turn a text around, zero-width characters that hide or split it. Emoji sequences keep their joiners."""

from __future__ import annotations

from services.sanitize import is_hidden, neutralize_controls
from tests.support.harness import Harness
from tests.support.intake import IntakeAnswers
from tests.support.team import claimed_case, team

RLO, LRI, PDI, ZWSP, WJ, BOM, LRM = "\u202e", "\u2066", "\u2069", "\u200b", "\u2060", "\ufeff", "\u200e"
HIDDEN = (RLO, LRI, PDI, ZWSP, WJ, BOM, LRM, "\u202a", "\u202c", "\u2067", "\u2068", "\u200f", "\u061c", "\x07")
FAMILY = "👨\u200d👩\u200d👧"  # joined by zero-width joiners: one emoji, and it has to stay one


def _hidden_in(texts: list[str]) -> list[str]:
    return [text for text in texts if any(char in text for char in HIDDEN)]


def test_what_counts_as_hidden() -> None:
    assert all(is_hidden(char) for char in HIDDEN)
    assert not any(is_hidden(char) for char in "aя1 \n\t-🙂\u200d\u200c")
    assert neutralize_controls(f"a{RLO}b\r\nc{ZWSP}d {FAMILY}\u2028e") == f"ab\ncd {FAMILY}\ne"


async def test_neither_side_sees_hidden_characters(harness: Harness) -> None:
    h = harness
    boss, vera = await team(h, 2001)
    person = h.person(1001)
    code = await claimed_case(
        vera, person, IntakeAnswers(description=f"{RLO}we are near the {ZWSP}station{BOM} {FAMILY}")
    )
    full = [t for t in vera.texts() if t.startswith(f"Request {code}\n")]
    assert full and f"Description: we are near the station {FAMILY}" in full[0]

    await person.send(f"I am {LRI}in Rostov{PDI}{WJ}, call me {LRM}later")
    assert vera.texts()[-1] == f"{code}:\nI am in Rostov, call me later"
    await vera.send(f"/reply {code} {RLO}Stay{ZWSP} where you are {FAMILY}")
    assert person.last().endswith(f":\nStay where you are {FAMILY}")
    await vera.send(f"/note {code} re{ZWSP}member {RLO}the door")
    await vera.send(f"/notes {code}")
    assert "remember the door" in vera.last()

    before = len(vera.texts())
    await person.send(f"{ZWSP}{WJ}{BOM}")  # looks empty, and is
    assert person.last() == (
        "This kind of message cannot be passed on. Please send text, a photo or a voice message.\n"
        "Send photos as photos, not as files: Telegram removes hidden data (such as location) from photos, "
        "not from files."
    )
    assert len(vera.texts()) == before

    await boss.send("/canned add safety")
    for text in (f"Удалите {RLO}чат", f"Видаліть {ZWSP}чат", f"Delete {BOM}the chat"):
        await boss.send(text)
    await vera.send(f"/reply {code} #safety")
    assert person.last().endswith(":\nDelete the chat")
    assert _hidden_in([*vera.texts(), *person.texts()]) == []
