"""What was written before the questionnaire branched (issue 18) keeps working: sealed answers read in today's
layout, statistics counters moved by migration 0006, intakes under way carried on at today's questions."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import text

from bot.i18n import create_i18n
from services.notices import Card
from services.stats import Period, compute_summary
from services.upgrade import upgrade_answers
from storage import clock, migrate
from storage.audit import AuditLog
from storage.clock import iso_week
from storage.counters import Counters
from storage.db import Database
from storage.requests import RequestRepository
from testkit.telegram import Person
from tests.support.harness import Harness
from tests.support.inspect import counter_values, request_details
from tests.support.intake import THIS_WEEK, choose_all, request_code
from tests.support.team import admin, join
from views.stats import summary_plain_text
from views.volunteer import card_text

EARLIER: dict[str, Any] = {
    "who": "self",
    "status": "mobilised",
    "location": "belarus",
    "documents": ["passport", "military_id_held"],
    "health": "matters",
    "urgency": "week",
    "help": ["leave", "shelter"],
    "description": "written before",
}


def test_earlier_answers_in_todays_layout() -> None:
    assert upgrade_answers(EARLIER) == {
        "who": "self",
        "situation": ["serving"],
        "serving": ["mobilised"],
        "location": "abroad",
        "documents": ["passport", "military_id_held"],
        "health": ["unspecified"],  # a wound or an illness, not which: said so, not guessed
        "urgency": "week",
        "help": ["leave", "shelter"],  # "shelter" keeps its code: a safe place to stay
        "description": "written before",
    }
    for status, situation in (("summons", "not_serving"), ("left_unit", "left_unit"), ("other", "unknown")):
        upgraded = upgrade_answers({**EARLIER, "status": status, "location": "front", "health": "none"})
        assert upgraded["situation"] == [situation] and "serving" not in upgraded
        assert upgraded["location"] == "front" and upgraded["health"] == ["none"]
    today = upgrade_answers(EARLIER)
    assert upgrade_answers(today) == today  # answers in today's layout pass unchanged


def test_a_card_queued_before_reads_in_todays_words() -> None:
    card = Card(
        code="R-7KQ3XM",
        language="ru",
        location="kz_kg_am",
        urgency="48h",
        created_at=clock.now().isoformat(),
        status="contract",
    )
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("en"):
        lines = card_text(card).render()[0].split("\n")
    assert lines[1:4] == ["Urgency: Danger within the next 48 hours", "Situation: Serving now", "Where now: Abroad"]


# The counters an earlier release made for EARLIER, as migration 0006 leaves them.
MIGRATED = [
    ("submitted", "all"),
    ("language", "en"),
    ("who", "self"),
    ("situation", "serving"),
    ("serving", "mobilised"),
    ("location", "abroad"),
    ("documents", "passport"),
    ("documents", "military_id_held"),
    ("health", "unspecified"),
    ("urgency", "week"),
    ("help", "leave"),
    ("help", "shelter"),
]


async def test_a_request_sealed_before_is_shown_and_forgotten_in_todays_layout(harness: Harness) -> None:
    h = harness
    boss = await admin(h)
    vera = await join(h, boss, 2001)
    person = h.person(1001)
    await person.send("hello")  # the person has a chat with the bot
    async with h.runtime.db.transaction() as session:
        record = await RequestRepository(session, h.runtime.vault).create(
            user_id=person.id, chat_id=person.id, answers=EARLIER, urgency="week", language="en"
        )
        week = iso_week(record.created_at)
        await Counters(session).bump_many(week, MIGRATED)
        await Counters(session).bump("total", "backlog", "week")
        await AuditLog(session).record(
            "submitted", actor_id=None, request_id=record.id, detail="en", at=record.created_at
        )
    before = {key: count for key, count in (await counter_values(h)).items() if key[0] == week}

    await vera.send(f"/claim {record.code}")
    full = next(t for t in vera.texts() if t.startswith(f"Request {record.code}\n"))
    for line in (
        "Situation: Serving now",
        "Service: Mobilised",
        "Where now: Abroad",
        "Health: A wound or illness (not specified)",
        "Help needed: Leaving Russia; A safe place to stay",
        "Description: written before",
    ):
        assert line in full, full

    await person.send("/forget")
    await person.press("Yes, erase everything")
    after = await counter_values(h)
    assert before and all(after.get(key, 0) == 0 for key in before)  # every contribution taken back
    assert ("total", "backlog", "week") not in after  # a gauge back at zero leaves no row


# Counters an earlier release wrote in one week: 10 requests.
OLD_ROWS = [
    ("submitted", "all", 10),
    ("who", "self", 7),
    ("who", "relative", 3),
    ("status", "mobilised", 5),
    ("status", "contract", 1),
    ("status", "summons", 4),
    ("location", "belarus", 3),
    ("location", "kz_kg_am", 2),
    ("location", "abroad", 1),
    ("location", "ru_home", 4),
    ("health", "matters", 6),
    ("health", "none", 4),
    ("urgency", "week", 10),
    ("help", "shelter", 6),
    ("closed", "stays", 2),
]


async def _rows(db: Database) -> dict[tuple[str, str], int]:
    async with db.engine.connect() as connection:
        result = await connection.execute(text("SELECT metric, bucket, count FROM stat_counters"))
        return {(metric, bucket): count for metric, bucket, count in result}


async def test_migration_0006_moves_old_counters_into_the_new_questions(database_url: str) -> None:
    db = Database(database_url)
    week = iso_week(clock.now())
    try:
        await migrate.upgrade(db, "0005")
        async with db.engine.begin() as connection:
            for metric, bucket, count in OLD_ROWS:
                await connection.execute(
                    text("INSERT INTO stat_counters (week, metric, bucket, count) VALUES (:w, :m, :b, :c)"),
                    {"w": week, "m": metric, "b": bucket, "c": count},
                )
        await migrate.upgrade(db)
        rows = await _rows(db)
        assert rows == {
            ("submitted", "all"): 10,
            ("who", "self"): 7,
            ("who", "relative"): 3,
            ("situation", "serving"): 6,
            ("serving", "mobilised"): 5,
            ("serving", "contract"): 1,
            ("situation", "not_serving"): 4,
            ("location", "abroad"): 6,  # Belarus, Kazakhstan/Kyrgyzstan/Armenia and elsewhere: summed
            ("location", "ru_home"): 4,
            ("health", "unspecified"): 6,
            ("health", "none"): 4,
            ("urgency", "week"): 10,
            ("help", "shelter"): 6,
            ("closed", "stays"): 2,  # not a question: untouched
        }
        # /stats reads the old week in the new questions, with the same suppression as ever.
        async with db.transaction() as session:
            summary = await compute_summary(Counters(session), Period.THIS_WEEK, min_cell=5)
        i18n = create_i18n()
        with i18n.context(), i18n.use_locale("en"):
            shown = summary_plain_text(summary)
        for line in (
            "Received: 10",
            "• Serving now: 6",
            "• Not in the army yet: summons, medical board, deferment: <5",
            "• Mobilised: 5",
            "• Abroad: *",  # 6, hidden as ever: the 4 at home would otherwise be worked out from the total
            "• A wound or illness (not specified): 6",
            "• Advised; decided to stay: <5",
        ):
            assert line in shown, shown

        await migrate.downgrade(db, "0005")  # what maps back does; the merged places stay merged
        assert await _rows(db) == {
            ("submitted", "all"): 10,
            ("who", "self"): 7,
            ("who", "relative"): 3,
            ("status", "mobilised"): 5,
            ("status", "contract"): 1,
            ("status", "summons"): 4,
            ("location", "abroad"): 6,
            ("location", "ru_home"): 4,
            ("health", "matters"): 6,
            ("health", "none"): 4,
            ("urgency", "week"): 10,
            ("help", "shelter"): 6,
            ("closed", "stays"): 2,
        }
    finally:
        await db.dispose()


async def _intake_of_before(
    h: Harness, person: Person, state: str, answers: dict[str, Any], buttons: list[tuple[str, str]]
) -> int:
    """An intake as an earlier release left it: at ``state``, with ``answers``, its question's buttons on screen."""
    await person.send("/start")  # the chat exists; what the bot keeps of it is replaced below
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=label, callback_data=data)] for label, data in buttons]
    )
    prompt = await h.bot.send_message(chat_id=person.id, text="An earlier question", reply_markup=markup)
    key = StorageKey(bot_id=h.bot.id, chat_id=person.id, user_id=person.id)
    ids = [m.message_id for m in person.all_messages()]
    await h.app.storage.set_state(key, state)
    await h.app.storage.set_data(
        key,
        {
            "locale": "en",
            "answers": answers,
            "tracked": ids,
            "chat": person.id,
            "editing": False,
            "prompt": prompt.message_id,
        },
    )
    return prompt.message_id


@pytest.mark.parametrize("press", ["Mobilised", "/start"])
async def test_an_intake_at_a_question_that_is_gone_goes_on_at_the_first_one_unanswered(
    harness: Harness, press: str
) -> None:
    person = harness.person(1001)
    await _intake_of_before(
        harness, person, "Intake:status", {"who": "relative"}, [("Mobilised", "opt:status:mobilised")]
    )
    if press.startswith("/"):
        await person.send(press)
    else:
        await person.press(press)
    assert person.last() == "How urgent is it?"  # "who" was answered: it is kept


async def test_an_intake_with_answers_of_before_keeps_them(harness: Harness) -> None:
    person = harness.person(1001)
    answers = {"who": "relative", "status": "mobilised", "location": "belarus"}
    await _intake_of_before(
        harness, person, "Intake:documents", answers, [("Internal passport", "opt:documents:passport")]
    )
    await person.press("Internal passport")  # the old screen: today's first unanswered question instead
    assert person.last() == "How urgent is it?"
    await person.press(THIS_WEEK)
    assert "✅ Serving now" in person.buttons()  # the one situation of before, ticked
    await person.press("Done")
    assert "✅ Mobilised" in person.buttons()
    await person.press("Done")
    assert person.last().startswith("Where is the person you are writing about now?")
    await person.press("Abroad")
    for labels in (["No"], ["Internal passport at hand"], ["Leaving Russia"]):
        await choose_all(person, labels)
    await person.press("Skip")
    await person.press("Submit")
    details = await request_details(harness, request_code(person))
    assert details.answers["situation"] == ["serving"] and details.answers["serving"] == ["mobilised"]
    assert "status" not in details.answers
