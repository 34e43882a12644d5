"""Coordinator statistics: /stats as people use it, the chart, `tropa stats`, and the suppression rule."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from matplotlib.image import imread
from sqlalchemy import delete

from bot.cli import main
from bot.i18n import create_i18n
from bot.runtime import open_runtime
from services import metrics
from services.context import Services
from services.stats import (
    Cell,
    Period,
    Shown,
    StatsSummary,
    compute_summary,
    percentile_bucket,
    period_weeks,
    summarize,
    suppress,
)
from storage import clock
from storage.clock import iso_week
from storage.counters import CounterRow, Counters
from storage.db import Database
from storage.models import Request
from testkit.settings import make_settings
from testkit.telegram import Person
from tests.support.harness import Harness
from tests.support.inspect import count_rows, counter_values
from tests.support.intake import DANGER, MYSELF, RELATIVE, THIS_WEEK, IntakeAnswers, submit
from tests.support.team import accept, close_case, invite, join
from views.callbacks import StatsPeriod
from views.chart import render_chart
from views.stats import chart_spec, summary_messages

ADMIN = 9100
UNKNOWN = "I don't know that command. /help lists what I can do."
STALE = "That button belongs to an earlier message."
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- people ----------------------------------------------------------------------------------------


async def _admin(h: Harness) -> Person:
    """The admin named in settings (made as `tropa run` makes them), then everything else through the bot."""
    async with h.runtime.db.transaction() as session:
        await Services(session, h.runtime.vault, h.app.policy, h.app.events).team.ensure_admins((ADMIN,), "en")
    return h.person(ADMIN, first_name="Admin")


async def _join(h: Harness, admin: Person, user_id: int, role: str) -> tuple[Person, str]:
    """Invite and join through the bot; returns the person and the pseudonym their welcome names."""
    person = await join(h, admin, user_id, role)
    name = re.search(r"Requesters will see you as (.+?)\.", person.last())
    assert name, person.texts()
    return person, name.group(1)


async def _stats(h: Harness, user: Person, button: str) -> tuple[str, tuple[bytes, bytes]]:
    """/stats, press a period; returns the summary (every message after the charts) and the PNGs of the two
    charts: the weeks, and the arrivals by hour."""
    photos_before = len(h.world.calls_of("sendPhoto"))
    await user.send("/stats")
    assert user.last() == "Statistics: choose a period."
    await user.press(button)
    photos = h.world.calls_of("sendPhoto")[photos_before:]
    assert len(photos) == 2 and all(photo.ok for photo in photos), photos
    weeks, hours = (photo.result for photo in photos)
    assert hours["caption"].startswith("When requests arrive (Moscow time)")
    after = [m for m in user.visible() if m.message_id > hours["message_id"]]
    assert after and all(m.from_bot and m.kind == "text" for m in after)
    pngs = tuple(h.world.file(sent["photo"][-1]["file_id"]).data for sent in (weeks, hours))
    return "\n\n".join(m.text for m in after), (pngs[0], pngs[1])


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _next_monday_morning() -> timedelta:
    """How far to move the clock so a scripted day stays inside one ISO week."""
    now = clock.now()
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    return monday - now


# -- the scripted helpline -------------------------------------------------------------------------

# What the scripted helpline below must show (threshold 5). Received 13, one of them then erased by its
# requester, which takes back everything it was counted in (docs/decisions/0011): 12 left, 3 for a relative,
# 3 at home in Russia, 7 "this week" and 5 "there is time", 10 in English and 2 in Russian, all serving and
# mobilised, and healthy; the erasure itself is counted only as an all-time number. A breakdown that adds up
# to a shown total and has one small cell (or one small non-zero cell among zeros) hides its next smallest
# cell too ("*"); multi-select questions do not add up, so they need not. (The place, which the fast path does
# not ask, is treated as adding up all the same: that can only hide more.)
# Numbers about the team's work and nobody's answers are exact however small (issue 19): the totals, the open
# backlog by urgency and language, the waiting times, the arrivals (all on Monday, 12:00 in Moscow).
EXPECTED_BODY = """Requests
Received: 12
Claimed: 10
Closed: 7
• Helped to leave: 5
• Legal consultation: <5
• Psychological support: <5
• Referred to a partner organisation: <5
• Advised; decided to stay: <5
• No response: <5
• Duplicate: <5
• Suspicious: <5
Erased by their requesters (all time): <5
Reopened: 0
Flagged as suspicious: <5
Urgent and not taken in time (escalated): 0

Open right now
Open requests: 5
• Danger within the next 48 hours: 0
• It has to be solved this week: 0
• There is time to prepare: 5
• Don't know / prefer not to say: 0
By language: Русский 2 · Українська 0 · English 3
Messages from requesters waiting for an answer: 0

Waiting times
Time to claim: median ≤ 15 min, 90% within ≤ 4 h (of 10)
Time to the first answer: none yet
Time to close: median ≤ 4 h, 90% within ≤ 4 h (of 7)

When requests arrive (Moscow time)
00–05: 0 · 0 · 0 · 0 · 0 · 0
06–11: 0 · 0 · 0 · 0 · 0 · 0
12–17: 12 · 0 · 0 · 0 · 0 · 0
18–23: 0 · 0 · 0 · 0 · 0 · 0
By day: Mon 12 · Tue 0 · Wed 0 · Thu 0 · Fri 0 · Sat 0 · Sun 0

Writing about
• I am writing about myself: *
• About a relative or friend: <5
• Prefer not to say: <5

Urgency
• Danger within the next 48 hours: <5
• It has to be solved this week: 7
• There is time to prepare: 5
• Don't know / prefer not to say: <5

Situation (several answers per request)
• Not in the army yet: summons, medical board, deferment: <5
• Serving now: 12
• Already away from the unit: <5
• Wounded or ill: <5
• Already abroad: <5
• Don't know / prefer not to say: <5

Not in the army yet (several answers per request)
• A summons on paper: <5
• An electronic summons or a ban on leaving Russia: <5
• Called to a medical board: <5
• Has or needs a deferment: <5
• Alternative civilian service: <5
• Don't know / prefer not to say: <5

Service (several answers per request)
• Conscript service: <5
• Pressed to sign a contract, or already forced: <5
• Contract: <5
• Mobilised: 12
• Refused to fight, in words or in writing: <5
• Don't know / prefer not to say: <5

Away from the unit (several answers per request)
• Left the unit: <5
• Did not come back from leave or hospital: <5
• Being searched for: <5
• A criminal case or a suspended sentence: <5
• Don't know / prefer not to say: <5

Where now
• In Russia, at home: <5
• In Russia: in a unit, at a training ground or in hospital: <5
• At the front: <5
• In Crimea, Donbas or another area Russia controls: <5
• Abroad: *
• Don't know / prefer not to say: <5

Health (several answers per request)
• A wound or injury: <5
• A serious or long-term illness: <5
• No: 12
• Don't know / prefer not to say: <5

Documents (several answers per request)
• Internal passport at hand: 12
• A valid foreign passport: <5
• No foreign passport: <5
• Passport taken by the unit: <5
• Military ID held by the unit: 12
• Don't know / prefer not to say: <5

Help needed (several answers per request)
• Leaving Russia: 12
• A lawyer's advice: 12
• Defence in a criminal case: <5
• A discharge or exemption on health grounds: <5
• Getting documents back: <5
• Deferment or alternative service: <5
• Surrender through the partner project «I want to live»: <5
• A safe place to stay: <5
• Money for the journey: <5
• Psychological support: <5
• Asylum abroad: <5
• Support for the family: <5
• Not sure, I need advice: <5

Language
• Русский: <5
• Українська: <5
• English: *

* also hidden, so that the small numbers cannot be worked out from the total."""


def _answers(user_id: int) -> IntakeAnswers:
    return IntakeAnswers(
        who=RELATIVE if user_id <= 1003 else MYSELF,
        location="In Russia, at home" if 1004 <= user_id <= 1006 else "Abroad",
        urgency=THIS_WEEK if user_id <= 1007 else "There is time to prepare",
    )


async def _scripted_helpline(h: Harness) -> tuple[Person, Person, Person]:
    """13 requests, 10 claimed (6 at once, 4 two hours later), 7 closed, 1 erased by its requester."""
    clock.travel(_next_monday_morning())
    admin = await _admin(h)
    vera, _ = await _join(h, admin, 2001, "volunteer")
    cora, _ = await _join(h, admin, 2002, "coordinator")

    codes: dict[int, str] = {}
    for user_id in range(1001, 1014):
        language = "ru" if user_id >= 1011 else "en"
        person = h.person(user_id, language_code=language)
        codes[user_id] = await submit(person, _answers(user_id))
        if user_id == 1013:
            await person.send("/forget")
            await person.press("Yes, erase everything")
            assert person.last() == person.t("Everything is erased. If you need help again, send /start.")

    for user_id in range(1001, 1007):
        await vera.send(f"/claim {codes[user_id]}")
    clock.travel(timedelta(hours=2))
    for user_id in range(1007, 1011):
        await vera.send(f"/claim {codes[user_id]}")
    outcomes = {1001: "Helped to leave", 1006: "Legal consultation", 1007: "No response"}
    for user_id in range(1001, 1008):
        await close_case(vera, codes[user_id], outcomes.get(user_id, "Helped to leave"))
        assert vera.last() == f"{codes[user_id]} is closed. Thank you."
    return admin, vera, cora


async def _purge(h: Harness) -> int:
    async with h.runtime.db.transaction() as session:
        return await Services(session, h.runtime.vault, h.app.policy, h.app.events).retention.purge_expired()


async def test_stats_show_the_expected_numbers_and_survive_purging(harness_any_db: Harness) -> None:
    h = harness_any_db
    admin, _, cora = await _scripted_helpline(h)
    week = iso_week(clock.now())

    text, (png, hours_png) = await _stats(h, cora, "Current week")
    assert text == (
        f"Statistics for the current week\nWeek {week}\nNumbers below 5 are shown as <5.\n\n{EXPECTED_BODY}"
    )
    assert "• In Russia, at home: <5" in text  # 3 requests
    assert _png_size(png)[0] <= 1200 and _png_size(hours_png) == (1100, 500)
    text, _ = await _stats(h, cora, "All time")
    assert text == f"Statistics for all time\nWeek {week}\nNumbers below 5 are shown as <5.\n\n{EXPECTED_BODY}"
    admin_text, _ = await _stats(h, admin, "Last 4 weeks")  # admins see statistics too
    assert EXPECTED_BODY in admin_text

    # Past retention every closed request is shredded; the counters, and so the statistics, stay.
    clock.travel(timedelta(days=h.app.policy.retention.days + 1))
    counters = await counter_values(h)
    before, chart_before = await _stats(h, cora, "All time")
    assert before.startswith(f"Statistics for all time\nWeeks {week} to {iso_week(clock.now())}\n")
    assert EXPECTED_BODY in before
    assert await _purge(h) == 7
    assert await count_rows(h, "requests") == 5
    after, chart_after = await _stats(h, cora, "All time")
    assert (after, chart_after) == (before, chart_before)
    assert await counter_values(h) == counters

    # Statistics never read the requests table: without any request the output is the same.
    async with h.runtime.db.transaction() as session:
        await session.execute(delete(Request))
    assert await count_rows(h, "requests") == 0
    assert await _stats(h, cora, "All time") == (before, chart_before)


async def test_only_coordinators_and_admins_get_statistics(harness_any_db: Harness) -> None:
    h = harness_any_db
    admin = await _admin(h)
    vera, _ = await _join(h, admin, 2001, "volunteer")
    cora, cora_name = await _join(h, admin, 2002, "coordinator")
    stranger = h.person(3001, first_name="Stranger")
    requester = h.person(1001)
    await submit(requester)

    for user in (vera, stranger, requester):
        await user.send("/stats")
        assert user.last() == UNKNOWN

    # A forged period button, on whatever bot message they have, gets no statistics either.
    for user in (vera, stranger, requester):
        last = user.last_from_bot()
        assert last is not None
        pressed = await user.press_data(last.message_id, StatsPeriod(period=Period.ALL).pack())
        assert pressed.answer.text == STALE
    # A coordinator's old buttons stop working when they are removed from the team.
    await cora.send("/stats")
    await admin.send("/revoke")
    await admin.press(f"✖ {cora_name}")
    pressed = await cora.press("All time")
    assert pressed.answer.text == STALE
    # A forged period that does not exist is nobody's statistics.
    await admin.send("/stats")
    last = admin.last_from_bot()
    assert last is not None
    pressed = await admin.press_data(last.message_id, "stats:forever")
    assert pressed.answer.text == STALE

    assert h.world.calls_of("sendPhoto") == []
    for user in (vera, stranger, requester, cora, admin):
        assert not any("Statistics for" in text for text in user.texts())


async def test_stats_in_the_coordinators_language(harness: Harness) -> None:
    h = harness
    admin = await _admin(h)
    olena = h.person(2003, language_code="uk", first_name="Olena")
    await accept(olena, await invite(admin, "coordinator"))
    i18n = h.app.i18n
    await olena.send("/stats")
    assert olena.last() == i18n.gettext("Statistics: choose a period.", locale="uk")
    await olena.press(i18n.gettext("Last 12 weeks", locale="uk"), translate=False)
    weeks, hours = [m.text for m in olena.visible() if m.kind == "photo"][-2:]
    assert weeks.startswith(i18n.gettext("Statistics for the last 12 weeks", locale="uk"))
    moscow = i18n.gettext("Moscow time", locale="uk")
    assert hours.startswith(i18n.gettext("When requests arrive ({zone})", locale="uk").format(zone=moscow))
    assert i18n.gettext("Open right now", locale="uk") in olena.last()


# -- the chart -------------------------------------------------------------------------------------


def _rows_for(week: str, urgency_counts: dict[str, int]) -> list[CounterRow]:
    rows = [CounterRow(week, "submitted", "all", sum(urgency_counts.values()))]
    rows += [CounterRow(week, "urgency", urgency, count) for urgency, count in urgency_counts.items()]
    return rows


def test_chart_is_a_png_of_sensible_size() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    rows: list[CounterRow] = []
    for back in range(12):
        week = iso_week(now - timedelta(weeks=back))
        rows += _rows_for(week, {"week": 20 + back, "48h": 3, "planning": 6 + back % 4, "unknown": back % 3})
        rows += [
            CounterRow(week, "claimed", "all", 25),
            CounterRow(week, "time_to_claim", "le60", 15),
            CounterRow(week, "time_to_claim", "le240", 10),
            CounterRow(week, "closed", "left", 20),
        ]
    summary = summarize(rows, Period.TWELVE_WEEKS, min_cell=5, now=now)
    i18n = create_i18n("ru")
    with i18n.context(), i18n.use_locale("ru"):
        spec = chart_spec(summary)
    png = render_chart(spec)

    width, height = _png_size(png)
    assert 600 <= width <= 1200 and 400 <= height <= 800
    assert 5_000 < len(png) < 200_000
    assert imread(io.BytesIO(png), format="png").shape[:2] == (height, width)
    # Labels are the coordinator's language.
    assert spec.title == i18n.gettext("Statistics for the last 12 weeks", locale="ru")
    # Bars are split by urgency: danger (3) is small; pooled with the next smallest non-zero part, never drawn
    # alone.
    latest = summary.chart[-1]
    assert latest.week == iso_week(now)
    by_urgency = {cell.key: cell for cell in latest.segments}
    assert by_urgency["48h"].shown is Shown.SMALL
    assert by_urgency["planning"].shown is Shown.COMPLEMENT
    assert latest.pooled == 3 + 6
    drawn = {stack.label: stack.values[-1] for stack in spec.stacks}
    assert sum(drawn.values()) == 20 and spec.small_groups.values[-1] == 9


def test_a_week_below_the_threshold_draws_its_bar_in_grey_only() -> None:
    """A week's arrivals describe nobody and are drawn however few; what they were (the situation) is an answer,
    and below the threshold it shows only as the grey "small groups" part."""
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    summary = summarize(_rows_for(iso_week(now), {"week": 3}), Period.THIS_WEEK, min_cell=5, now=now)
    bar = summary.chart[0]
    assert bar.total == Cell("submitted", 3, Shown.EXACT) and bar.pooled == 3
    assert all(not cell.exact for cell in bar.segments)
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        spec = chart_spec(summary)
    assert spec.hidden == (False,) and all(stack.values == (0,) for stack in spec.stacks)
    assert spec.small_groups.values == (3,)
    assert _png_size(render_chart(spec)) <= (1200, 800)


# -- the suppression rule --------------------------------------------------------------------------


def _shown(cells: tuple[Cell, ...]) -> list[int | str]:
    return [cell.count if cell.count is not None else ("<" if cell.shown is Shown.SMALL else "*") for cell in cells]


def test_small_cells_and_their_complement() -> None:
    def run(*counts: int, total: bool = True) -> list[int | str]:
        return _shown(suppress([(str(i), c) for i, c in enumerate(counts)], 5, sums_to_total=total))

    assert run(9, 3) == ["*", "<"]  # one small cell: the next smallest goes too
    assert run(12, 7, 3) == [12, "*", "<"]
    assert run(12, 7, 0) == [12, "*", "<"]  # even a zero, which could otherwise be subtracted
    assert run(10, 3, 0, 0) == ["*", "<", "<", "<"]  # one non-zero small cell among zeros
    assert run(10, 3, 2) == [10, "<", "<"]  # two small cells hide each other
    assert run(10, 3, total=False) == [10, "<"]  # options of a multi-select do not add up to a total
    assert run(3, 1) == ["<", "<"]
    assert run(5, 6) == [5, 6]
    assert run(7, 6, 3) == [7, "*", "<"]
    assert run(6, 6, 3) == ["*", 6, "<"]  # ties: the first in the questionnaire's order


def test_numbers_about_the_work_are_exact_and_answers_below_the_threshold_hidden() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    week = iso_week(now)
    rows = [
        CounterRow(week, "submitted", "all", 4),
        CounterRow(week, "who", "self", 4),
        CounterRow(week, "claimed", "all", 4),
        CounterRow(week, "time_to_claim", "le15", 4),
        CounterRow(week, "closed", "left", 6),
        CounterRow(week, "time_to_close", "le60", 3),
        CounterRow(week, "time_to_close", "over", 3),
        CounterRow(week, "flagged", "all", 2),
        CounterRow("total", "backlog", "48h", 2),
    ]
    summary = summarize(rows, Period.THIS_WEEK, min_cell=5, now=now)
    # What the team did and how long it took, however small: a small team plans with exactly these.
    assert summary.received == Cell("submitted", 4, Shown.EXACT) and summary.backlog.count == 2
    assert (summary.time_to_claim.median, summary.time_to_claim.sample.count) == ("le15", 4)
    assert (summary.time_to_close.median, summary.time_to_close.p90) == ("le60", "over")
    # What people said or became: below the threshold, hidden.
    assert summary.flagged.shown is Shown.SMALL and summary.outcomes.cells[0] == Cell("left", 6, Shown.EXACT)
    text = _english(summary)
    assert "Received: 4" in text and "Time to claim: median ≤ 15 min, 90% within ≤ 15 min (of 4)" in text
    assert "Time to close: median ≤ 1 h, 90% within > 7 d (of 6)" in text
    assert "• Danger within the next 48 hours: 2" in text and "• I am writing about myself: <5" in text
    # Another threshold is named as it is.
    assert "• I am writing about myself: <10" in _english(summarize(rows, Period.THIS_WEEK, min_cell=10, now=now))


def _english(summary: StatsSummary) -> str:
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        return "\n".join(part.render()[0] for part in summary_messages(summary))


def test_percentiles_report_the_bucket_of_the_nearest_rank() -> None:
    assert percentile_bucket({}, 0.5) is None
    assert percentile_bucket({"le15": 5, "le240": 5}, 0.5) == "le15"
    assert percentile_bucket({"le15": 5, "le240": 5}, 0.9) == "le240"
    assert percentile_bucket({"le15": 4, "le240": 6}, 0.5) == "le240"
    assert percentile_bucket({"over": 1, "le60": 9}, 0.9) == "le60"
    assert percentile_bucket({"over": 2, "le60": 8}, 0.9) == metrics.OVER


def test_periods_are_iso_weeks_across_the_new_year() -> None:
    now = datetime(2027, 1, 6, tzinfo=UTC)  # Wednesday of 2027-W01
    assert period_weeks(Period.THIS_WEEK, now) == ("2027-W01",)
    assert period_weeks(Period.FOUR_WEEKS, now) == ("2026-W51", "2026-W52", "2026-W53", "2027-W01")  # 2026 has 53
    assert len(period_weeks(Period.TWELVE_WEEKS, now)) == 12
    assert period_weeks(Period.ALL, now, ["total", "2026-W52"]) == ("2026-W52", "2026-W53", "2027-W01")
    assert period_weeks(Period.ALL, now) == ("2027-W01",)


def test_the_chart_backlog_is_cumulative_from_the_first_week() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    weeks = [iso_week(now - timedelta(weeks=back)) for back in (2, 1, 0)]
    rows = [
        CounterRow(weeks[0], "submitted", "all", 20),
        CounterRow(weeks[1], "submitted", "all", 10),
        CounterRow(weeks[1], "closed", "left", 8),
        CounterRow(weeks[1], "withdrawn", "all", 2),
        CounterRow(weeks[2], "reopened", "all", 1),
        CounterRow(weeks[2], "closed", "legal", 19),
    ]
    summary = summarize(rows, Period.FOUR_WEEKS, min_cell=5, now=now)
    assert [bar.backlog for bar in summary.chart] == [0, 20, 20, 2]  # describes nobody: shown however small
    assert [bar.week for bar in summary.chart] == [iso_week(now - timedelta(weeks=3)), *weeks]


# -- the command line ------------------------------------------------------------------------------


async def _seeded_database(data_dir: Path) -> dict[str, object]:
    settings = make_settings(data_dir)
    runtime = await open_runtime(settings, create_if_fresh=True, say=lambda _line: None)
    try:
        week = iso_week(clock.now())
        async with runtime.db.transaction() as session:
            counters = Counters(session)
            await counters.bump(week, "submitted", "all", 12)
            await counters.bump(week, "who", "self", 9)
            await counters.bump(week, "who", "relative", 3)
            await counters.bump(week, "language", "en", 12)
            await counters.bump(week, "claimed", "all", 6)
            await counters.bump(week, "time_to_claim", "le60", 6)
            await counters.bump("total", "backlog", "week", 6)
        async with runtime.db.transaction() as session:
            summary = await compute_summary(Counters(session), Period.ALL, min_cell=5, zone=settings.hours.zone.key)
        from bot.stats_cli import summary_json

        return summary_json(summary)
    finally:
        await runtime.close()


@pytest.fixture
def cli_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory without a .env, and only our own TROPA_ settings."""
    for name in list(os.environ):
        if name.startswith("TROPA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("TROPA_UNSAFE_UNLOCKED_KEYRING", "true")  # the test keyring has no passphrase
    monkeypatch.setenv("TROPA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TROPA_DEFAULT_LANGUAGE", "en")
    return data_dir


def test_cli_prints_the_same_numbers(cli_environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = asyncio.run(_seeded_database(cli_environment))
    capsys.readouterr()

    main(["stats", "--period", "all", "--format", "json"])  # returns: exit status 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == expected
    assert printed["received"] == 12 and printed["claimed"] == 6 and printed["open_now"] == 6
    assert printed["breakdowns"]["who"] == {"self": "*", "relative": "<5", "unknown": "<5"}
    assert printed["time_to_claim"]["median_bucket"] == "le60"

    main(["stats", "--period", "this_week", "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "section,key,value"
    assert {"totals,received,12", "who,self,*", "who,relative,<5", "open_now_by_urgency,week,6"} <= set(lines)

    main(["stats", "--period", "4_weeks"])
    text = capsys.readouterr().out
    assert "Statistics for the last 4 weeks" in text and "Received: 12" in text
    assert "• About a relative or friend: <5" in text and "• I am writing about myself: *" in text

    main(["stats", "--format", "text", "--language", "uk"])
    assert create_i18n().gettext("Statistics for the last 4 weeks", locale="uk") in capsys.readouterr().out


def test_cli_refuses_without_a_keyring(cli_environment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--format", "json"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no keyring" in captured.err


# -- shifts ----------------------------------------------------------------------------------------


async def test_stats_for_shifts_arrivals_first_answers_unanswered_escalations(harness: Harness) -> None:
    """Numbers a small team plans its shifts with, exact however small: when requests arrive (in the team's
    time zone, Moscow by default), how long the first answer takes, what waits for an answer now, escalations."""
    h = harness
    monday_nine = _next_monday_morning()
    clock.travel(monday_nine + timedelta(hours=10))  # Monday 19:00 UTC: 22:00 in Moscow
    admin = await _admin(h)
    vera, _ = await _join(h, admin, 2001, "volunteer")
    cora, _ = await _join(h, admin, 2002, "coordinator")
    evening = [h.person(1001), h.person(1002, language_code="uk")]
    codes = [await submit(person) for person in evening]
    await submit(h.person(1003), IntakeAnswers(urgency=DANGER))  # escalated below
    await evening[0].send("are you there?")
    await evening[1].send("одне")
    await evening[1].send("друге")
    clock.travel(timedelta(minutes=61))  # the urgent one is escalated
    await h.run_jobs()
    await vera.send(f"/claim {codes[0]}")
    await vera.send(f"/reply {codes[0]} Here.")  # answered 61 minutes after it came: "≤ 4 h"

    text, (_, hours_png) = await _stats(h, cora, "Current week")
    assert "Urgent and not taken in time (escalated): 1" in text
    assert (
        "Open requests: 3\n• Danger within the next 48 hours: 1\n• It has to be solved this week: 2\n"
        "• There is time to prepare: 0\n• Don't know / prefer not to say: 0"
    ) in text
    assert "By language: Русский 0 · Українська 1 · English 2" in text
    assert "Messages from requesters waiting for an answer: 2" in text  # the Ukrainian's two; the first answered
    assert "Time to the first answer: median ≤ 4 h, 90% within ≤ 4 h (of 1)" in text
    assert "18–23: 0 · 0 · 0 · 0 · 3 · 0" in text and "By day: Mon 3 ·" in text
    # The chart of arrivals by hour, as Telegram got it: a PNG that decodes, drawn at the size it says.
    assert imread(io.BytesIO(hours_png), format="png").shape[:2] == (500, 1100)

    # Erasing one takes everything it added back (docs/decisions/0011): its hour, its answer, its messages.
    before_forget = await counter_values(h)
    await evening[1].send("/forget")
    await evening[1].press("Yes, erase everything")
    after = await counter_values(h)
    unanswered = ("total", "unanswered", "all")
    assert before_forget[unanswered] == 2 and unanswered not in after  # a gauge back at zero leaves no row
    assert ("total", "backlog_language", "uk") not in after
    week = iso_week(clock.now())
    assert after[(week, "arrival_hour", "22")] == 2


async def test_counters_bumped_together_add_up_as_if_bumped_one_by_one(db: Database) -> None:
    """A submission's counters go in one statement run for each row: a counter named twice counts twice, and
    rows already there are added to, on SQLite and on PostgreSQL."""
    from storage.counters import Counters

    async with db.transaction() as session:
        counters = Counters(session)
        await counters.bump("2026-W49", "help", "lawyer")
        await counters.bump_many("2026-W49", [("help", "lawyer"), ("help", "leave"), ("help", "lawyer")])
        await counters.bump_many("2026-W49", [])
    async with db.transaction() as session:
        counted = {(row.metric, row.bucket): row.count for row in await Counters(session).rows(["2026-W49"])}
    assert counted == {("help", "lawyer"): 3, ("help", "leave"): 1}
