"""/notes in pages that Telegram accepts, and page buttons that check who presses them (issue 16, point 6)."""

from __future__ import annotations

from testkit.telegram import utf16_len
from tests.support.harness import Harness
from tests.support.team import claimed_case, revoke, team

STALE = "That button belongs to an earlier message."


async def test_long_notes_come_in_pages_under_telegrams_limit(harness: Harness) -> None:
    h = harness
    boss, vera, ivan = await team(h, 2001, 2002)
    code = await claimed_case(vera, h.person(1001))
    first, second, third = "а" * 2990 + " first", "б" * 2990 + " second", "🙂" * 1500 + " third"
    for note in (first, second, third):
        await vera.send(f"/note {code} {note}")
        assert vera.last() == "Note saved (encrypted)."

    await vera.send(f"/notes {code}")
    page = vera.last_from_bot()
    assert page is not None and page.protected
    assert page.text.startswith(f"Notes on {code}, page 1 of 3") and first in page.text
    assert utf16_len(page.text) <= 4096 and page.buttons == [["»"]]
    await vera.press("»")
    page = vera.message(page.message_id)
    assert page.text.startswith(f"Notes on {code}, page 2 of 3") and second in page.text
    await vera.press("»")
    page = vera.message(page.message_id)
    assert third in page.text and utf16_len(page.text) <= 4096 and page.buttons == [["«"]]

    # Another volunteer forging the button, and the holder's own button after they let the case go.
    anchor = ivan.last_from_bot()
    assert anchor is not None
    pressed = await ivan.press_data(anchor.message_id, f"np:{code}:0")
    assert pressed.answer.text == "This request is not in your hands."
    await revoke(h, boss, vera)
    assert page.message_id in vera.deleted_ids()  # the notes left with the access
    old = vera.last_from_bot()  # a client replaying the press on what is left
    assert old is not None
    pressed = await vera.press_data(old.message_id, f"np:{code}:1")
    assert pressed.answer.text == STALE
    assert not [m for m in vera.visible() if m.from_bot and second in (m.text or "")]


async def test_a_few_short_notes_are_one_page_without_buttons(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    code = await claimed_case(vera, h.person(1001))
    await vera.send(f"/note {code} called, no answer")
    await vera.send(f"/notes {code}")
    page = vera.last_from_bot()
    assert page is not None and page.text.startswith(f"Notes on {code}\n") and page.buttons == []
