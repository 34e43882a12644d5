"""Out of hours (issue 18, point 9): the confirmation says when volunteers are on shift, in words ("Moscow time"),
and offers short notes for the wait; /selfhelp offers them at any hour. Everything shown is removed by /wipe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import create_i18n
from storage import clock
from tests.support.harness import Harness, harness_with
from tests.support.intake import confirmations, submit, through_consent
from views.language import zone_words

TOPICS = ["I got a summons", "I am wounded or ill", "I am already away from the unit", "Partner organisations"]


def hours_not_now(zone: str) -> tuple[str, int, int]:
    """TROPA_WORKING_HOURS for an hour that has not begun yet, in ``zone``: volunteers are off shift now."""
    hour = clock.now().astimezone(ZoneInfo(zone)).hour
    start, end = (hour + 2) % 24, (hour + 3) % 24
    return f"{start}-{end} {zone}", start, end


@pytest.fixture
async def off_shift(tmp_path: Path) -> AsyncIterator[tuple[Harness, int, int]]:
    hours, start, end = hours_not_now("Europe/Moscow")
    async with harness_with(tmp_path / "data", working_hours=hours) as harness:
        yield harness, start, end


async def test_off_shift_the_confirmation_says_when_and_offers_notes(off_shift: tuple[Harness, int, int]) -> None:
    h, start, end = off_shift
    person = h.person(1001, language_code="ru")
    await submit(person)
    (confirmation,) = confirmations(person)
    said = person.t(
        "Volunteers are not on shift now: they answer from {start} to {end} {zone}. Your request waits for them."
    ).format(start=f"{start:02d}:00", end=f"{end:02d}:00", zone="по московскому времени")
    assert said in confirmation.text
    assert person.t("Until a volunteer answers, do nothing you cannot undo.") in confirmation.text
    assert "Europe/Moscow" not in confirmation.text
    assert confirmation.buttons == [[person.t(topic)] for topic in TOPICS]

    await person.press("I got a summons")
    note = person.last()
    assert note.startswith(person.t("I got a summons"))
    assert person.t("Until a volunteer answers, do nothing you cannot undo.") not in note  # said once, above
    await person.press("Partner organisations")
    assert "«Идите лесом»" in person.last() and "«Призыв к совести»" in person.last()
    # Tracked with the request: /wipe takes the notes away with everything else.
    await person.send("/wipe")
    assert person.visible() == []


async def test_selfhelp_at_any_hour_and_during_the_questions(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.send("/selfhelp")
    menu = person.visible()[-2]
    assert menu.text.startswith("Short notes while you wait") and len(menu.buttons) == 4
    assert person.last() == "Who are you writing about?"  # the question stays last
    await person.press("I am wounded or ill")
    assert any(t.startswith("I am wounded or ill\n") and "medical discharge" in t for t in person.texts())
    await person.send("/cancel")
    assert [m.text for m in person.visible()][-1].startswith("Cancelled.")
    assert not any(t.startswith("I am wounded or ill\n") for t in person.texts())  # erased with the intake


async def test_on_shift_the_confirmation_names_the_hours(tmp_path: Path) -> None:
    hour = clock.now().astimezone(ZoneInfo("Europe/Kyiv")).hour
    async with harness_with(tmp_path / "data", working_hours=f"{hour}-{(hour + 2) % 24} Europe/Kyiv") as h:
        person = h.person(1001)
        await submit(person)
        (confirmation,) = confirmations(person)
        assert f"Volunteers usually answer from {hour:02d}:00 to {(hour + 2) % 24:02d}:00 Kyiv time;" in (
            confirmation.text
        )
        assert confirmation.buttons == []


@pytest.mark.parametrize(
    ("zone", "language", "words"),
    [
        ("Europe/Moscow", "en", "Moscow time"),
        ("Europe/Moscow", "ru", "по московскому времени"),
        ("Europe/Kyiv", "uk", "за київським часом"),
        ("Asia/Tokyo", "en", "UTC+9 time"),
        ("Asia/Kolkata", "ru", "по времени UTC+5:30"),
        ("America/New_York", "uk", "за часом UTC−5"),
        ("UTC", "en", "UTC time"),
    ],
)
def test_zones_in_words(zone: str, language: str, words: str) -> None:
    i18n = create_i18n()
    winter = datetime(2027, 1, 15, 12, tzinfo=ZoneInfo("UTC"))
    with i18n.context(), i18n.use_locale(language):
        assert zone_words(zone, winter.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)) == words
