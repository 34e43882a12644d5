"""The requester's intake, as a person walks it, in each language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.types import InlineKeyboardMarkup

from storage import clock
from tests.support.harness import Harness, harness_with, restart
from tests.support.inspect import all_row_counts, count_rows, counter_values, request_details, request_field
from tests.support.intake import (
    DONT_KNOW,
    MYSELF,
    RELATIVE,
    SERVING,
    THIS_WEEK,
    IntakeAnswers,
    choose_language,
    reach_review,
    request_code,
    submit,
    through_consent,
)


@pytest.mark.parametrize("language", ["ru", "uk", "en"])
async def test_full_journey(harness: Harness, language: str) -> None:
    person = harness.person(1001, language_code=language)
    code = await submit(person)

    details = await request_details(harness, code)
    assert details.answers == {
        "who": "self",
        "urgency": "week",
        "situation": ["serving"],
        "serving": ["mobilised"],
        "location": "abroad",
        "health": ["none"],
        "documents": ["passport", "military_id_held"],
        "help": ["leave", "legal"],
        "description": "I was told we leave for the front next week.",
    }
    assert details.record.language == language and details.record.urgency == "week"
    # Chat hygiene: the confirmation and the reconnect key shown after it are all that is left, in the
    # person's language.
    confirmation, key = person.visible()
    assert confirmation.from_bot and code in confirmation.text
    assert person.t("Your request is sent.") in confirmation.text
    assert key.protected and person.t("Write it down somewhere safe, not in this phone's notes.") in key.text
    assert await count_rows(harness, "fsm_state") == 0


async def test_language_is_preselected_from_telegram(harness: Harness) -> None:
    person = harness.person(1001, language_code="uk")
    await person.send("/start")
    assert "• Українська" in person.buttons()


async def test_skipping_the_description(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person, IntakeAnswers(description=None))
    assert (await request_details(harness, code)).answers["description"] is None


async def test_edit_from_review_returns_to_review(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    await person.press("✏️ Urgency", translate=False)
    assert person.last() == "How urgent is it?"
    await person.press("There is time to prepare")
    assert person.last().startswith("Please check your answers")
    assert "Urgency: There is time to prepare" in person.last()

    await person.press("✏️ Help needed", translate=False)
    await person.press("Money for the journey")  # a multi-select: toggles, then Done goes back to review
    await person.press("Done")
    assert "Help needed: Leaving Russia; A lawyer's advice; Money for the journey" in person.last()

    await person.press("✏️ Description", translate=False)
    await person.send("Changed my mind about the wording.")
    assert "Description: Changed my mind about the wording." in person.last()

    await person.press("Submit")
    details = await request_details(harness, request_code(person))
    assert details.record.urgency == "planning"
    assert details.answers["help"] == ["leave", "legal", "money"]
    assert details.answers["description"] == "Changed my mind about the wording."


async def test_back_on_every_step(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    expected_before = [
        "In a few words, what is happening?",
        "What help is needed?",
        "What about your documents?",
        "Do you have a wound, an injury or an illness?",
        "Where are you now?",
        "You are serving now. What kind of service?",  # the one detail question of the situation chosen
        "What is your situation now?",
        "How urgent is it?",
        "Who are you writing about?",
        "What we keep, who can see it, and for how long",
        "Before we start: your safety",
        "Выберите язык",
    ]
    for prompt in expected_before:
        await person.press("« Back")
        assert person.last().startswith(prompt), (prompt, person.last())
    assert "« Back" not in person.buttons()  # the first step has nowhere to go back to
    # Going forward again keeps every earlier answer: the documents chosen before are still ticked.
    await choose_language(person)
    for label in ("I understand, continue", "I agree", MYSELF, THIS_WEEK, "Done", "Done", "Abroad", "Done"):
        await person.press(label)
    assert "✅ Internal passport at hand" in person.buttons()
    assert "✅ Military ID held by the unit" in person.buttons()


SCREEN_BEHIND = "That screen was out of date. Here is your question now."


async def test_buttons_of_an_old_question_on_the_live_message_change_no_answer(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    old_prompt = person.last_from_bot()
    assert old_prompt is not None
    await person.press(MYSELF)
    # The prompt was edited into the next question; a forged press of the old "who" option changes no answer.
    answer = (await person.press_data(old_prompt.message_id, "opt:who:relative")).answer
    assert answer.text == SCREEN_BEHIND
    assert person.last().startswith("How urgent is it?")
    await person.press(THIS_WEEK)
    assert person.last().startswith("What is your situation now?")


async def test_an_earlier_screen_sent_again_onto_the_live_question_is_brought_back(harness: Harness) -> None:
    """A process that dies after sending an edit and before removing its outbox row has the edit sent again
    (decision 0006), possibly over a newer screen. Its buttons must lead back to the current question, not
    answer "earlier message" for ever (seen in the 500-person load test: 16 people stuck)."""
    person = harness.person(1001)
    await through_consent(person)
    await person.press(MYSELF)
    for presses in ([THIS_WEEK], ["Not in the army yet: summons, medical board, deferment", "Done"]):
        before = person.last_from_bot()
        assert before is not None
        stored = harness.world.stored_chat(person.id).find(before.message_id)
        assert stored is not None
        screen = dict(stored.data)  # the question the first press answers, as it looked then
        for label in presses:
            await person.press(label)
        current = person.last()
        # The edit that showed ``screen`` goes out once more, over the newer one.
        await harness.bot.edit_message_text(
            chat_id=person.id,
            message_id=before.message_id,
            text=screen["text"],
            reply_markup=InlineKeyboardMarkup.model_validate(screen["reply_markup"]),
        )
        assert person.last() == screen["text"]
        pressed = next(b for b in person.buttons() if "✅" not in b and "Back" not in b and "Done" not in b)
        answer = (await person.press(pressed, translate=False)).answer
        assert answer.text == SCREEN_BEHIND
        assert person.last() == current
    await person.press("A summons on paper")
    await person.press("Done")
    assert person.last().startswith("Where are you now?")


async def test_bad_inputs_get_a_reply_and_keep_the_state(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)

    await person.send("/claim R-ABCDEF")
    assert "I don't know that command. /help lists what I can do." in person.texts()
    assert person.last() == "Who are you writing about?"

    await person.send("/help")
    assert person.last() == "Who are you writing about?"

    await person.press(MYSELF)
    await person.press("There is time to prepare")
    await person.press("Done")  # nothing chosen yet
    assert person.last().startswith("What is your situation now?")
    await person.press(DONT_KNOW)
    await person.press("Done")
    await person.press("Abroad")
    await person.press("A wound or injury")
    await person.press("Done")
    await person.press("Internal passport at hand")
    await person.press("Done")
    await person.press("Psychological support")
    await person.press("Done")

    await person.send_photo(caption="my unit")
    assert any("here I take only a text message" in t for t in person.texts())

    await person.send("x" * 2001)
    assert any("That is 2001 characters" in t for t in person.texts())
    assert person.last().startswith("In a few words")

    hostile = "<b>not bold</b> & <script> 5 < 6 " + "🙂" * 10
    await person.send(hostile)
    assert person.last().startswith("Please check your answers")
    assert hostile in person.last()

    message_id = person.visible()[-2].message_id
    await person.edit(message_id, "an edited description")
    assert any("I don't read edited messages" in t for t in person.texts())

    await person.press("Submit")
    details = await request_details(harness, request_code(person))
    assert details.answers["description"] == hostile.strip()
    assert details.answers["situation"] == ["unknown"] and details.answers["health"] == ["wound"]


async def test_flooding_is_answered_once(harness: Harness) -> None:
    person = harness.person(1001)
    for _ in range(80):
        await person.send("hello?", wait=False)
    await harness.settle()
    slow_down = "You are sending messages very fast. Please wait a minute, then go on."
    assert person.texts().count(slow_down) == 1
    clock.travel(timedelta(minutes=2))


async def test_restart_in_the_middle_resumes_at_the_same_step(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.press(RELATIVE)
    await person.press(THIS_WEEK)
    await person.press(SERVING)
    await person.press("Done")
    await person.press("Conscript service")
    await person.press("Done")
    assert person.last().startswith("Where is the person you are writing about now?")

    resumed = await restart(harness)
    try:
        await person.press("In Russia, at home")  # the same live question, in a new process
        assert person.last().startswith("Does the person you are writing about have a wound")
        await person.send("/start")  # /start in the middle resumes, it does not start over
        assert person.last().startswith("Does the person you are writing about have a wound")
        for label in ("No", "Done", "Internal passport at hand", "Done", "A lawyer's advice", "Done", "Skip"):
            await person.press(label)
        await person.press("Submit")
        details = await request_details(resumed, request_code(person))
        assert details.answers["who"] == "relative" and details.answers["serving"] == ["conscript"]
        assert details.answers["location"] == "ru_home"
    finally:
        harness.app = resumed.app  # let the fixture close the live one
        harness.runtime = resumed.runtime


async def test_a_redelivered_update_changes_nothing_twice(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    update = (await person.press("Submit")).update
    before = await all_row_counts(harness)
    calls_before = len(harness.world.calls)
    await harness.client.deliver_again(update)
    await harness.settle()
    assert await all_row_counts(harness) == before
    assert await count_rows(harness, "requests") == 1
    assert [c.method for c in harness.world.calls[calls_before:]] == []


async def test_second_start_shows_the_open_request(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person)
    await person.send("/start")
    assert code in person.last() and "is waiting for a volunteer" in person.last()
    assert await count_rows(harness, "requests") == 1


async def test_chat_hygiene_deletes_exactly_the_tracked_messages(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    intake_ids = {m.message_id for m in person.visible()}
    await person.press("Submit")
    deleted = set(person.deleted_ids())
    assert intake_ids <= deleted
    newest = sorted(m.message_id for m in person.all_messages())[-2:]
    assert [m.message_id for m in person.visible()] == newest  # the confirmation and the reconnect key


async def test_chat_hygiene_can_be_turned_off(tmp_path: object) -> None:
    from pathlib import Path

    async with harness_with(Path(str(tmp_path)) / "d", chat_hygiene=False) as h:
        person = h.person(1001)
        await reach_review(person)
        deleted_during_intake = person.deleted_ids()  # superseded questions only
        await person.press("Submit")
        assert person.deleted_ids() == deleted_during_intake
        assert len(person.visible()) == 5  # /start, the description, the review, the confirmation, the key
        review = [m for m in person.visible() if m.text.startswith("Please check")]
        assert review and review[0].buttons == []  # no live Submit button left behind


async def test_forget_leaves_no_row_for_the_requester(harness: Harness) -> None:
    person = harness.person(1001)
    await submit(person)
    before = await counter_values(harness)
    await person.send("/forget")
    await person.press("Yes, erase everything")
    counts = await all_row_counts(harness)
    assert counts["requests"] == 0 and counts["fsm_state"] == 0 and counts["shown_messages"] == 0
    assert counts["outbox"] == 0 and counts["notes"] == 0
    assert counts["data_keys"] == 2  # only the system key and the ephemeral key remain
    after = await counter_values(harness)
    # The request's contributions to the statistics are taken back (a gauge back at zero leaves no row); only the
    # all-time count of erasures grows.
    assert {key: count for key, count in before.items() if key[0] == "total"} == {
        ("total", "backlog", "week"): 1,
        ("total", "backlog_language", "en"): 1,
    }
    assert after == {("total", "withdrawn", "all"): 1}
    assert await count_rows(harness, "audit_events") == 0
    assert [m.text for m in person.visible()] == ["Everything is erased. If you need help again, send /start."]


async def test_forget_can_be_called_off(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person)
    await person.send("/forget")
    await person.press("No, keep it")
    assert await request_field(harness, code, "status") == "new"


async def test_wipe_in_the_middle_deletes_the_chat_and_keeps_the_answers(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.press(MYSELF)
    await person.send("/wipe")
    assert person.visible() == []
    await person.send("/start")
    assert person.last().startswith("How urgent is it?")


async def test_wipe_after_submit_deletes_the_confirmation(harness: Harness) -> None:
    person = harness.person(1001)
    code = await submit(person)
    await person.send("/wipe")
    assert person.visible() == []
    assert await request_field(harness, code, "status") == "new"


async def test_language_switch_mid_flow_rerenders_the_step(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.send("/language")
    await person.press("Українська")
    person.language = "uk"
    assert person.last() == person.t("Who are you writing about?")
    await person.press(RELATIVE)
    await person.press(THIS_WEEK)
    assert person.last().startswith(person.t("What is the situation of the person you are writing about?"))


async def test_cancel_asks_first_and_decline_erases_the_answers(harness: Harness) -> None:
    person = harness.person(1001)
    await reach_review(person)
    await person.press("Cancel")
    assert person.last() == "Erase all your answers? Nothing will be sent."
    await person.press("No, back")  # a slip costs nothing: the review again, every answer kept
    assert person.last().startswith("Please check your answers") and "Where now: Abroad" in person.last()
    await person.press("Cancel")
    await person.press("Yes, erase")
    assert person.last().startswith("Cancelled.")
    assert await count_rows(harness, "fsm_state") == 0
    await person.send("/start")
    await choose_language(person)
    await person.press("I understand, continue")
    await person.press("I do not agree")
    assert person.last().startswith("Understood. Nothing was stored.")
    assert await count_rows(harness, "fsm_state") == 0 and await count_rows(harness, "requests") == 0


async def test_status_without_and_with_a_request(harness: Harness) -> None:
    person = harness.person(1001)
    await person.send("/status")
    assert person.last() == "You have no request. Send /start to ask for help."
    code = await submit(person)
    await person.send("/status")
    assert code in person.last()


async def test_abandoned_intakes_are_erased(harness: Harness) -> None:
    person = harness.person(1001)
    await through_consent(person)
    await person.press(MYSELF)
    assert await count_rows(harness, "fsm_state") == 1
    assert person.visible()
    clock.travel(timedelta(hours=39))
    await harness.run_jobs()
    assert await count_rows(harness, "fsm_state") == 1  # not yet
    clock.travel(timedelta(hours=1, minutes=10))  # 40 hours untouched (TROPA_ABANDONED_HOURS), and a tick
    results = await harness.run_jobs()
    assert results["abandoned_intakes"] == 1
    assert await count_rows(harness, "fsm_state") == 0
    # Still under Telegram's 48 hours: every question and every answer left the person's phone.
    assert person.visible() == []


async def test_commands_are_registered_in_each_language(harness: Harness) -> None:
    from bot.app import register_commands

    await register_commands(harness.bot, harness.app.i18n)
    for language in ("ru", "uk", "en"):
        calls = [c for c in harness.world.calls_of("setMyCommands") if c.args.get("language_code") == language]
        assert calls, language
        names = [command["command"] for command in calls[-1].args["commands"]]
        assert names == ["start", "status", "wipe", "forget", "cancel", "language", "help", "safety", "selfhelp"]


async def test_submit_survives_a_callback_that_was_already_answered(harness: Harness) -> None:
    """A replica answered the press and died before committing; the re-delivered press must still submit."""
    person = harness.person(1001)
    await reach_review(person)
    update = (await person.press("Submit", wait=False)).update
    harness.world.take_updates()
    await harness.bot.answer_callback_query(update["callback_query"]["id"])  # the dead replica's answer
    await harness.client.deliver_again(update)
    await harness.settle()
    assert await count_rows(harness, "requests") == 1
    assert any("Your request is sent." in text for text in person.texts())
