"""The questionnaire's branches (issue 18), walked by the labels a person presses: who is writing, how urgent it
is, which situations, the detail question of each, "don't know" anywhere, the fast path in danger."""

from __future__ import annotations

import re
from datetime import time

import pytest

from bot.i18n import create_i18n
from services.questionnaire import MULTI_SELECT, OPTIONS, Step
from testkit.telegram import Person
from tests.support.harness import Harness
from tests.support.inspect import request_details
from tests.support.intake import (
    AWAY,
    DANGER,
    DONT_KNOW,
    MYSELF,
    NOT_SERVING,
    RELATIVE,
    SERVING,
    THIS_WEEK,
    IntakeAnswers,
    answer_questions,
    choose_all,
    confirm,
    reach_review,
    relative_not_serving_yet,
    request_code,
    submit,
    through_consent,
)
from tests.support.team import card, team
from views.format import View
from views.intake import choice_view, description_view, erase_view, review_view, safety_view, stray_hint
from views.notices import confirmation
from views.questions import option_label
from views.reconnect import reconnect_view
from views.requester import help_text, safety_text
from views.selfhelp import selfhelp_menu, topic_text

# Each question as the person reads it on their way: to "you" when writing about themselves, about "the person
# you are writing about" otherwise. Options are the same words in both.
TO_YOU = [
    "Who are you writing about?",
    "How urgent is it?",
    "What is your situation now?",
    "You are not in the army yet. What is happening?",
    "You are serving now. What kind of service?",
    "You are already away from the unit. What is the situation?",
    "Where are you now? Only roughly: never a city, an address or a unit.",
    "Do you have a wound, an injury or an illness?",
    "What about your documents?",
    "What help is needed?",
]
ABOUT_THEM = [
    "Who are you writing about?",
    "How urgent is it?",
    "What is the situation of the person you are writing about?",
    "The person you are writing about is not in the army yet. What is happening?",
    "The person you are writing about is serving now. What kind of service?",
    "The person you are writing about is already away from the unit. What is the situation?",
    "Where is the person you are writing about now? Only roughly: never a city, an address or a unit.",
    "Does the person you are writing about have a wound, an injury or an illness?",
    "What about the documents of the person you are writing about?",
    "What help is needed?",
]
EVERY_SITUATION = [NOT_SERVING, SERVING, AWAY, "Wounded or ill", "Already abroad"]


def questions_asked(person: Person, questions: list[str]) -> list[str]:
    """Which of ``questions`` the bot put to the person, in the order it did (a question edited in place, or
    shown again with new ticks, counts once)."""
    asked: list[str] = []
    for call in person.world.calls:
        if call.method not in {"sendMessage", "editMessageText"} or not call.ok:
            continue
        first = str(call.args.get("text", "")).split("\n")[0]
        if call.args.get("chat_id") == person.id and first in questions and first not in asked[-1:]:
            asked.append(first)
    return asked


@pytest.mark.parametrize("language", ["en", "ru", "uk"])
@pytest.mark.parametrize(("who", "expected"), [(MYSELF, TO_YOU), (RELATIVE, ABOUT_THEM)])
async def test_every_question_speaks_to_the_person_or_about_them(
    harness: Harness, who: str, expected: list[str], language: str
) -> None:
    person = harness.person(1001, language_code=language)
    answers = IntakeAnswers(who=who, situation=EVERY_SITUATION)
    code = await submit(person, answers)
    translated = [person.t(question) for question in expected]
    assert questions_asked(person, translated) == translated
    details = await request_details(harness, code)
    assert details.answers["situation"] == ["not_serving", "serving", "left_unit", "wounded", "abroad"]
    assert details.answers["not_serving"] == ["paper_summons"] and details.answers["left_unit"] == ["awol"]
    assert details.answers["who"] == ("self" if who == MYSELF else "relative")


async def test_not_serving_yet(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person, relative_not_serving_yet())
    assert questions_asked(person, ABOUT_THEM) == [q for q in ABOUT_THEM if "serving now" not in q and "away" not in q]
    details = await request_details(harness, code)
    assert details.answers == {
        "who": "relative",
        "urgency": "week",
        "situation": ["not_serving"],
        "not_serving": ["e_summons", "medical_board"],
        "location": "ru_home",
        "health": ["unknown"],
        "documents": ["passport", "no_foreign_passport"],
        "help": ["legal", "deferment"],
        "description": "I was told we leave for the front next week.",
    }


async def test_serving(harness: Harness) -> None:
    person = harness.person(1001)
    answers = IntakeAnswers(
        situation=[SERVING],
        serving=["Pressed to sign a contract, or already forced", "Conscript service"],
        location="In Russia: in a unit, at a training ground or in hospital",
        documents=["Passport taken by the unit", "Military ID held by the unit"],
        help=["Getting documents back", "Leaving the combat zone safely with partners' help"],
    )
    code = await submit(person, answers)
    details = await request_details(harness, code)
    assert details.answers["serving"] == ["conscript", "forced_contract"]  # in the questionnaire's order
    assert details.answers["location"] == "ru_unit"
    assert details.answers["help"] == ["documents_back", "partner_exit"]
    assert "not_serving" not in details.answers and "left_unit" not in details.answers


async def test_already_away_from_the_unit(harness: Harness) -> None:
    person = harness.person(1001)
    answers = IntakeAnswers(
        situation=[AWAY],
        left_unit=["Did not come back from leave or hospital", "A criminal case or a suspended sentence"],
        location="In Crimea, Donbas or another area Russia controls",
        help=["Defence in a criminal case", "A safe place to stay"],
    )
    code = await submit(person, answers)
    details = await request_details(harness, code)
    assert details.answers["situation"] == ["left_unit"]
    assert details.answers["left_unit"] == ["not_returned", "sentenced"]
    assert details.answers["location"] == "controlled" and details.answers["help"] == ["criminal_case", "shelter"]


async def test_overlapping_situations_ask_each_detail_question_in_turn(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.press(MYSELF)
    await person.press(THIS_WEEK)
    await choose_all(person, [SERVING, "Wounded or ill", AWAY])
    assert person.last().startswith("You are serving now. What kind of service?")
    await choose_all(person, ["Mobilised", "Refused to fight, in words or in writing"])
    assert person.last().startswith("You are already away from the unit. What is the situation?")
    await choose_all(person, ["Left the unit", "Being searched for"])
    assert person.last().startswith("Where are you now?")
    await person.press("At the front")
    # Health says why it is asked: a medical discharge is the legal way out.
    assert "can be grounds for a medical discharge: the legal way out" in person.last()
    await choose_all(person, ["A wound or injury", "A serious or long-term illness"])
    for labels in (["Internal passport at hand"], ["A discharge or exemption on health grounds"]):
        await choose_all(person, labels)
    await person.press("Skip")
    review = person.last()
    assert "Situation: Serving now; Already away from the unit; Wounded or ill" in review  # in the form's order
    assert "Service: Mobilised; Refused to fight, in words or in writing" in review
    assert "Away from the unit: Left the unit; Being searched for" in review
    assert "Health: A wound or injury; A serious or long-term illness" in review
    await confirm(person)


async def test_danger_goes_straight_to_a_short_description(harness: Harness) -> None:
    h = harness
    _, vera = await team(h, 2001)
    person = h.person(1001)
    await through_consent(person)
    taps_before = len(h.world.callback_queries)
    await person.press(MYSELF)
    await person.press(DANGER)
    assert person.last().startswith("Danger within 48 hours: write in a few words what is happening")
    await person.press("Skip")
    review = person.last()
    assert review.startswith("Please check your answers")
    # Only what was answered: nothing was guessed for the questions not asked.
    assert "Writing about: I am writing about myself" in review and "Urgency: Danger within the next 48 hours" in review
    assert "Situation" not in review and "Where now" not in review and "Description: not given" in review
    assert "➕ Add more details" in person.buttons()
    code = await confirm(person)
    # From /start: language, safety, consent, who, urgency, skip, submit.
    assert len(h.world.callback_queries) - taps_before + 3 == 7
    details = await request_details(h, code)
    assert details.answers == {"who": "self", "urgency": "48h", "description": None}
    assert details.record.urgency == "48h"
    triage = card(vera, code)
    assert triage is not None
    lines = triage.text.split("\n")
    assert lines[1] == "Urgency: Danger within the next 48 hours"  # first, before anything else
    assert lines[2:4] == ["Situation: not asked", "Where now: not asked"]


async def test_more_details_after_danger_come_back_to_the_review(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person, IntakeAnswers(who=RELATIVE, urgency=DANGER, description="They are taking him today."))
    await person.press("➕ Add more details")
    assert person.last().startswith("What is the situation of the person you are writing about?")
    await person.press("« Back")  # changed their mind: the review, as it was
    assert person.last().startswith("Please check your answers")
    await person.press("➕ Add more details")
    await answer_questions_after_urgency(person)
    review = person.last()
    assert review.startswith("Please check your answers")
    assert "Description: They are taking him today." in review and "Where now: Abroad" in review
    assert "➕ Add more details" not in person.buttons()
    await person.press("Submit")
    details = await request_details(harness, request_code(person))
    assert details.answers["situation"] == ["serving"] and details.answers["urgency"] == "48h"
    assert details.answers["description"] == "They are taking him today."


async def answer_questions_after_urgency(person: Person) -> None:
    answers = IntakeAnswers()
    await choose_all(person, answers.situation)
    await choose_all(person, answers.serving)
    await person.press(answers.location)
    for labels in (answers.health, answers.documents, answers.help):
        await choose_all(person, labels)


async def test_back_respects_the_screens_actually_shown(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.press(MYSELF)
    await person.press(DANGER)
    await person.press("« Back")  # the fast path's description came right after urgency
    assert person.last() == "How urgent is it?"
    await person.press(THIS_WEEK)
    await choose_all(person, [NOT_SERVING])
    await choose_all(person, ["Has or needs a deferment"])
    assert person.last().startswith("Where are you now?")
    await person.press("« Back")  # from the place: the one detail question asked
    assert person.last().startswith("You are not in the army yet. What is happening?")
    await person.press("« Back")
    assert person.last().startswith("What is your situation now?")


async def test_dont_know_everywhere(harness: Harness) -> None:
    person = harness.person(1001)
    answers = IntakeAnswers(
        who="Prefer not to say",
        urgency=DONT_KNOW,
        situation=[NOT_SERVING, SERVING, AWAY],
        not_serving=[DONT_KNOW],
        serving=[DONT_KNOW],
        left_unit=[DONT_KNOW],
        location=DONT_KNOW,
        health=[DONT_KNOW],
        documents=[DONT_KNOW],
        help=["Not sure, I need advice"],
        description=None,
    )
    await reach_review(person, answers)
    # "Prefer not to say" who it is about: the questions speak about "the person".
    assert "Situation: Not in the army yet: summons, medical board, deferment" in person.last()
    await person.press("✏️ Situation", translate=False)
    for label in answers.situation:
        assert f"✅ {label}" in person.buttons()
    await person.press(DONT_KNOW)  # stands alone: every other choice is cleared
    assert [b for b in person.buttons() if b.startswith("✅")] == [f"✅ {DONT_KNOW}"]
    await person.press("Wounded or ill")  # and choosing another clears it
    assert [b for b in person.buttons() if b.startswith("✅")] == ["✅ Wounded or ill"]
    await person.press(DONT_KNOW)
    await person.press("Done")
    await person.press("Submit")
    details = await request_details(harness, request_code(person))
    assert details.answers == {
        "who": "unknown",
        "urgency": "unknown",
        "situation": ["unknown"],
        "location": "unknown",
        "health": ["unknown"],
        "documents": ["unknown"],
        "help": ["unknown"],
        "description": None,
    }  # the detail questions of situations no longer chosen are dropped
    assert details.record.urgency == "unknown"


async def test_no_is_exclusive_in_health(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    await person.press("✏️ Health", translate=False)
    await person.press("A wound or injury")
    assert "✅ No" not in person.buttons() and "✅ A wound or injury" in person.buttons()
    await person.press("No")
    assert [b for b in person.buttons() if b.startswith("✅")] == ["✅ No"]


async def test_changing_the_situation_from_the_review_asks_new_details_and_drops_old_ones(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    await person.press("✏️ Situation", translate=False)
    await person.press(SERVING)  # no longer serving
    await person.press(AWAY)
    await person.press("Done")
    assert person.last().startswith("You are already away from the unit. What is the situation?")
    await choose_all(person, ["Left the unit"])
    review = person.last()
    assert review.startswith("Please check your answers")
    assert "Away from the unit: Left the unit" in review and "Service:" not in review
    assert "✏️ Service" not in person.buttons() and "✏️ Away from the unit" in person.buttons()
    await person.press("Submit")
    details = await request_details(harness, request_code(person))
    assert details.answers["situation"] == ["left_unit"] and "serving" not in details.answers


async def test_taps_on_the_longest_path(harness: Harness) -> None:
    """Every screen once, one option on each multi-select: the most screens a person can be shown."""
    h = harness
    person = h.person(1001)
    await through_consent(person)
    taps_before = len(h.world.callback_queries)
    await answer_questions(person, IntakeAnswers(situation=[NOT_SERVING, SERVING, AWAY], description=None))
    await confirm(person)
    # language, safety, consent; who, urgency; situation (3 + Done); three detail questions (1 + Done each);
    # place; health, documents, help (1 + Done each; the defaults choose 1, 2 and 2); skip; submit.
    assert len(h.world.callback_queries) - taps_before + 3 == 3 + 2 + 4 + 6 + 1 + 2 + 3 + 3 + 1 + 1


# Words that put a person at risk if a checkpoint reads their phone, or that drive relatives off.
RISKY_WORDS = re.compile(r"\b(дезертир|плен|полон|оккупир|окупов|укрыт|схованк)", re.IGNORECASE)
RISKY_TERMS = re.compile(r"\b(СОЧ|СЗЧ)\b")


def requester_screens() -> list[str]:
    """Every text and button a requester can be shown in the intake, after it, and in the self-help notes."""
    every_option = {
        step.value: list(options) if step in MULTI_SELECT else options[0] for step, options in OPTIONS.items()
    }
    views: list[View] = [safety_view("tropa_bot"), reconnect_view(), erase_view(), selfhelp_menu()]
    for who in ("self", "relative"):
        views += [choice_view(step, {"who": who}) for step in OPTIONS]
    views += [description_view({"urgency": "48h"}), description_view({}), review_view(every_option)]
    views += [stray_hint(kind, at_description=False, can_keep=True) for kind in ("text", "voice", "photo")]
    views.append(stray_hint("photo", at_description=True, can_keep=False))
    texts = [view.text.render()[0] for view in views]
    texts += [button.text for view in views if view.markup for row in view.markup.inline_keyboard for button in row]
    texts += [note.render()[0] for topic in ("summons", "wounded", "away", "partners") if (note := topic_text(topic))]
    texts += [help_text().render()[0], safety_text("tropa_bot").render()[0]]
    for on_shift in (True, False):
        texts.append(
            confirmation("R-7KQ3XM", start=time(10), end=time(22), zone="Moscow", on_shift=on_shift).render()[0]
        )
    return texts


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_requester_screens_avoid_words_risky_on_an_inspected_phone(language: str) -> None:
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale(language):
        texts = requester_screens()
        team = option_label(Step.HELP, "partner_exit", for_team=True)
    assert len(texts) > 150
    risky = [text for text in texts if RISKY_WORDS.search(text) or RISKY_TERMS.search(text)]
    assert risky == []
    assert RISKY_WORDS.search(team)  # the team's own screens may say it plainly
