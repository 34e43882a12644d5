"""The real bot process, end to end: people act on the Telegram model, the bot answers over HTTP.

Every scenario starts ``tropa run`` on a fresh data directory against the emulator (see conftest.py),
acts only the way people can (send, press, reply), and waits for what they would then see. Each plants
canaries in what people type; the last test proves none reached the data files or the bot's log.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from testkit.process import tropa_executable
from testkit.settings import ADMIN_ID
from testkit.telegram import Person
from tests.e2e.conftest import CanaryLedger, LiveBot, find_canaries
from tests.support.intake import (
    DANGER,
    THIS_WEEK,
    IntakeAnswers,
    answer_questions,
    confirm,
    confirmations,
    hygiene_done,
    reach_review,
    relative_not_serving_yet,
    through_consent,
    walk_to_documents,
)
from tests.support.team import accept, card, invite, prompt

pytestmark = pytest.mark.e2e

UNKNOWN = "I don't know that command. /help lists what I can do."
STALE = "That button belongs to an earlier message."
ERASED = "Everything is erased. If you need help again, send /start."


def person(live: LiveBot, user_id: int, language: str, ledger: CanaryLedger) -> Person:
    """A new Telegram user whose names are canaries (the bot must never store or log them)."""
    first_name = ledger.plant("cyrillic" if language == "ru" else "text")
    username = ledger.plant("username")
    return live.world.person(user_id, first_name=first_name, username=username, language_code=language)


async def walk_to_review(requester: Person, description: str) -> None:
    """The intake with one document and one need, up to the review of ``description``."""
    answers = IntakeAnswers(documents=["Internal passport at hand"], help=["Leaving Russia"], description=description)
    await reach_review(requester, answers)


async def team(live: LiveBot, ledger: CanaryLedger, *roles: str) -> tuple[Person, list[Person]]:
    """The admin from settings, and one new member per role in ``roles``, each joined by invite."""
    admin = person(live, ADMIN_ID, "en", ledger)
    await admin.send("/start")
    members = []
    for index, role in enumerate(roles):
        member = person(live, 2001 + index, "en", ledger)
        await accept(member, await invite(admin, role))
        members.append(member)
    return admin, members


def no_errors_logged(live: LiveBot, *expected: str) -> None:
    """The bot logged no error, apart from ``expected`` events (e.g. aiogram's failed polls under faults)."""
    errors = [event for event in live.errors() if event.get("event") not in expected]
    assert not errors, errors


# -- 1. the whole journey ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_request_from_intake_in_russian_to_close(live: LiveBot, canaries: CanaryLedger) -> None:
    _admin, (vera, coordinator) = await team(live, canaries, "volunteer", "coordinator")
    pseudonym = canaries.plant("pseudonym")
    await vera.send(f"/pseudonym {pseudonym}", until=lambda: pseudonym in vera.last())

    olga = person(live, 1001, "ru", canaries)
    description = f"{canaries.plant('cyrillic')} <b>нас</b> & {canaries.plant()}"
    await walk_to_review(olga, description)
    review = olga.last()
    assert f"{olga.t('Urgency')}: {olga.t(THIS_WEEK)}" in review and description in review

    # Change one answer from the review screen: back to the question, then straight back to review.
    await olga.press(f"✏️ {olga.t('Urgency')}", translate=False)
    assert olga.last() == olga.t("How urgent is it?")
    await olga.press(DANGER, until=lambda: olga.t("Please check your answers") in olga.last())
    assert f"{olga.t('Urgency')}: {olga.t(DANGER)}" in olga.last()
    code = await confirm(olga)
    await hygiene_done(olga)

    # Every member of the team gets a triage card; the volunteer takes the request by command.
    await vera.wait(lambda: card(vera, code))
    triage = card(vera, code)
    assert triage is not None and triage.buttons == [[vera.t("Claim")]] and description not in triage.text
    full_heading = vera.t("Request {code}").format(code=code)
    await vera.send(f"/claim {code}", until=lambda: vera.ever_received(full_heading))
    (full,) = vera.ever_received(full_heading)
    assert description in full.text and full.protected
    taken = olga.t("A volunteer has taken your request {code}.").format(code=code)
    await olga.wait(lambda: olga.ever_received(taken))
    await vera.wait(lambda: card(vera, code) is None)  # the card lost its Claim button

    question = f"{canaries.plant()} — are you safe right now?"
    await vera.send(f"/reply {code} {question}", until=lambda: olga.ever_received(question))
    (asked,) = olga.ever_received(question)
    assert asked.text == olga.t("Volunteer {pseudonym}").format(pseudonym=pseudonym) + f":\n{question}"

    answer = f"{canaries.plant('cyrillic')}, да, пока в безопасности"
    await olga.send(answer, until=lambda: vera.ever_received(answer))
    (relayed,) = vera.ever_received(answer)
    assert relayed.text == f"{code}:\n{answer}" and relayed.protected and not live.world.forwards()

    follow_up = f"{canaries.plant()} keep your phone charged"
    await vera.reply(relayed.message_id, follow_up, until=lambda: olga.ever_received(follow_up))
    note = canaries.plant()
    await vera.send(f"/note {code} {note}", until=lambda: vera.last() == vera.t("Note saved (encrypted)."))

    await vera.send(f"/close {code}", until=lambda: vera.t("Helped to leave") in vera.buttons())
    await vera.press("Helped to leave", until=lambda: vera.t("Close without a message") in vera.buttons())
    thanks = vera.t("{code} is closed. Thank you.").format(code=code)
    await vera.press("Close without a message", until=lambda: vera.last() == thanks)
    closed = olga.t("Your request {code} is closed.").format(code=code)
    await olga.wait(lambda: olga.ever_received(closed))

    # Statistics: a period choice, then a chart and the summary. What the numbers say is covered by
    # tests/test_stats.py; here it is enough that the real process draws and sends them.
    await coordinator.send("/stats", until=lambda: coordinator.t("Last 4 weeks") in coordinator.buttons())
    await coordinator.press(
        "Last 4 weeks",
        until=lambda: (
            coordinator.ever_received(coordinator.t("Statistics for the last 4 weeks"))
            and any(m.kind == "photo" for m in coordinator.visible())
        ),
    )

    assert len(confirmations(olga)) == 1
    assert len(olga.ever_received(question)) == len(olga.ever_received(follow_up)) == 1
    assert not live.world.forwards()
    no_errors_logged(live)


@pytest.mark.parametrize(
    ("backend", "postgres_settings"),
    [
        pytest.param("sqlite", {}, id="sqlite"),
        pytest.param(
            "postgres",
            # Commits take 0.1 s longer at the server: what a busy database does, made certain.
            {"commit_delay": "100000", "commit_siblings": "0"},
            id="postgres",
            marks=[pytest.mark.postgres],
        ),
    ],
)
async def test_a_quick_second_press_is_not_lost(live: LiveBot, canaries: CanaryLedger) -> None:
    """People tick a multi-select quickly: the next tap comes as soon as the first tick shows."""
    kim = person(live, 1006, "en", canaries)
    await walk_to_documents(kim)
    first = await kim.press("Internal passport at hand", wait=False)
    await kim.wait(lambda: "✅ Internal passport at hand" in kim.buttons())
    second = await kim.press("A valid foreign passport", wait=False)
    for action in (first, second):
        await live.wait_handled(action.update_id)
    await kim.wait(lambda: live.world.callback_queries[second.update["callback_query"]["id"]].answer)
    assert {"✅ Internal passport at hand", "✅ A valid foreign passport"} <= set(kim.buttons()), kim.buttons()


def ever_shown(live: LiveBot, someone: Person) -> list[str]:
    """Every text the bot sent or edited into a person's chat, in order: intake questions are edited in place."""
    return [
        str(call.args.get("text"))
        for call in live.world.calls
        if call.ok and call.method in {"sendMessage", "editMessageText"} and call.args.get("chat_id") == someone.id
    ]


# -- 1b. a mother writes, in Russian, for a son not serving yet, when nobody is on shift ---------------


async def test_a_relative_writes_in_russian_for_someone_not_serving_yet(live: LiveBot, canaries: CanaryLedger) -> None:
    # Started again with working hours that have not begun yet: the confirmation comes off shift.
    await live.process.stop()
    hour = datetime.now(ZoneInfo("Europe/Moscow")).hour
    start, end = (hour + 2) % 24, (hour + 3) % 24
    live.process.env["TROPA_WORKING_HOURS"] = f"{start}-{end} Europe/Moscow"
    await live.process.start()
    _admin, (vera,) = await team(live, canaries, "volunteer")

    mother = person(live, 1010, "ru", canaries)
    await through_consent(mother)
    safety = [text for text in ever_shown(live, mother) if text.startswith(mother.t("Before we start: your safety"))]
    assert safety and f"@{live.world.bot_username}" in safety[-1]  # the bot's own name, as Telegram says it
    description = f"{canaries.plant('cyrillic')}: сыну пришла повестка через Госуслуги"
    help_needed = ["Deferment or alternative service", "A lawyer's advice", "Support for the family"]
    await answer_questions(mother, relative_not_serving_yet(help=help_needed, description=description))
    # Every question spoke about "the person you are writing about", never to her; no question of another branch.
    asked = [text.split("\n")[0] for text in ever_shown(live, mother)]
    assert mother.t("The person you are writing about is not in the army yet. What is happening?") in asked
    assert mother.t("You are not in the army yet. What is happening?") not in asked
    assert mother.t("The person you are writing about is serving now. What kind of service?") not in asked
    review = mother.last()
    assert (
        f"{mother.t('Not in the army yet')}: {mother.t('An electronic summons or a ban on leaving Russia')}" in review
    )
    code = await confirm(mother)
    await hygiene_done(mother)

    (confirmation,) = confirmations(mother)
    said = mother.t(
        "Volunteers are not on shift now: they answer from {start} to {end} {zone}. Your request waits for them."
    ).format(start=f"{start:02d}:00", end=f"{end:02d}:00", zone="по московскому времени")
    assert said in confirmation.text and "Europe/Moscow" not in confirmation.text
    assert confirmation.buttons[0] == [mother.t("I got a summons")]
    await mother.press("I got a summons", until=lambda: mother.last().startswith(mother.t("I got a summons")))
    assert mother.t(
        "Sign nothing and decide nothing you cannot undo before a volunteer has talked it through with you."
    ) in (mother.last())

    # The team: a triage card with the coarse answers and no words of hers; the full case to the one who takes it.
    await vera.wait(lambda: card(vera, code))
    triage = card(vera, code)
    assert triage is not None and description not in triage.text
    assert "Situation: Not in the army yet: summons, medical board, deferment" in triage.text
    assert "Where now: In Russia, at home" in triage.text
    full_heading = vera.t("Request {code}").format(code=code)
    await vera.send(f"/claim {code}", until=lambda: vera.ever_received(full_heading))
    (full,) = vera.ever_received(full_heading)
    assert "Not in the army yet: An electronic summons or a ban on leaving Russia; Called to a medical board" in (
        full.text
    )
    assert "Writing about: About a relative or friend" in full.text and description in full.text
    details = live.query("SELECT urgency, language FROM requests WHERE code = ?", code)
    assert details == [("week", "ru")]
    no_errors_logged(live)


# -- 2. chat hygiene and /forget ---------------------------------------------------------------------


async def submit_then_forget(live: LiveBot, canaries: CanaryLedger) -> Person:
    """A requester submits, writes once more before anyone claimed the request, then erases everything."""
    sam = person(live, 1002, "en", canaries)
    await walk_to_review(sam, canaries.plant())
    code = await confirm(sam)
    await hygiene_done(sam)
    confirmation, key = sam.visible()  # the confirmation, and the reconnect key shown once after it
    assert confirmation.from_bot and code in confirmation.text and key.protected
    own = [m.message_id for m in sam.all_messages() if not m.from_bot]
    assert set(own) <= set(sam.deleted_ids())  # /start and the description went too

    # A message before anyone claimed the request waits, sealed, for the volunteer who will take it.
    saved = sam.t("Saved. A volunteer will see it as soon as they take your request.")
    await sam.send(canaries.plant(), until=lambda: sam.last() == saved)
    await live.wait_db(lambda: live.count("outbox", "recipient = 'assignee'") == 1)
    assert live.count("shown_messages") >= 1

    await sam.send("/forget", until=lambda: sam.t("Yes, erase everything") in sam.buttons())
    await sam.press("Yes, erase everything", until=lambda: sam.last() == sam.t(ERASED))
    return sam


async def test_the_chat_is_cleaned_and_forget_leaves_no_row(live: LiveBot, canaries: CanaryLedger) -> None:
    await submit_then_forget(live, canaries)
    await live.wait_db(lambda: live.count("requests") == 0 and live.count("outbox") == 0)
    for table in ("requests", "fsm_state", "shown_messages", "outbox"):
        assert live.count(table) == 0, table
    # Only the system key and the ephemeral one are left; the shred is noted (a moment and an HMAC, no id)
    # for the key roll to come and for restores.
    owners = sorted(owner for (owner,) in live.query("SELECT owner_id FROM data_keys"))
    assert owners[-1] == "system" and len(owners) == 2 and owners[0].startswith("ephemeral-")
    assert live.count("shred_ledger") == 1 and live.count("meta", "key = 'shred.first_at'") == 1
    no_errors_logged(live)


async def test_forget_leaves_only_its_own_goodbye_in_the_chat(live: LiveBot, canaries: CanaryLedger) -> None:
    sam = await submit_then_forget(live, canaries)
    await sam.wait(lambda: len(sam.visible()) <= 2)
    assert [m.text for m in sam.visible()] == [sam.t(ERASED)]


# -- 3. a crash in the middle of an intake -----------------------------------------------------------


def long_poll_waiting(live: LiveBot) -> bool:
    """The bot's getUpdates is waiting in the emulator right now (started, not answered)."""
    calls = live.world.calls_of("getUpdates")
    return bool(calls) and calls[-1].result is None and calls[-1].error is None


async def test_a_killed_bot_continues_the_intake_where_it_stopped(live: LiveBot, canaries: CanaryLedger) -> None:
    kim = person(live, 1003, "en", canaries)
    await walk_to_documents(kim)
    assert "Internal passport at hand" in kim.buttons()  # the documents question

    # The bot handles a press but never confirms it: every getUpdates after it fails, then SIGKILL.
    await kim.wait(lambda: long_poll_waiting(live))
    toggled = await kim.press("Internal passport at hand", wait=False)  # a toggle: twice, it would undo itself
    live.world.inject("getUpdates", "drop", times=1_000_000)
    await kim.after(toggled, until=lambda: "✅ Internal passport at hand" in kim.buttons())
    await live.wait_db(lambda: live.count("processed_updates", "update_id = ?", toggled.update_id))
    await live.process.kill()
    live.snapshot()  # the files exactly as a crash leaves them (WAL included), for the canary scan
    live.world.clear_faults()
    assert toggled.update_id in [update["update_id"] for update in live.world.pending_updates()]

    # While the bot is down the person presses the live button again; then the bot comes back.
    second = await kim.press("Military ID held by the unit", wait=False)
    await live.process.start()
    await kim.after(second, until=lambda: "✅ Military ID held by the unit" in kim.buttons())
    assert "✅ Internal passport at hand" in kim.buttons()  # the re-delivered toggle changed nothing
    assert any(event["event"] == "update.duplicate" for event in live.log_events())

    # /start resumes at the same step (a fresh copy of the question), it does not start over.
    prompt = kim.last_from_bot()
    assert prompt is not None
    await kim.send(
        "/start",
        until=lambda: (
            kim.bot_messages_after(prompt.message_id) and prompt.message_id in kim.deleted_ids()
        ),  # the old copy goes: one live question
    )
    assert {"✅ Internal passport at hand", "✅ Military ID held by the unit"} <= set(kim.buttons())

    for label in ("Done", "Leaving Russia", "Done"):
        await kim.press(label)
    await kim.send(canaries.plant(), until=lambda: "Please check your answers" in kim.last())
    assert "Documents: Internal passport at hand; Military ID held by the unit" in kim.last()
    code = await confirm(kim)
    await hygiene_done(kim)

    assert live.query("SELECT code FROM requests") == [(code,)]
    assert len(confirmations(kim)) == 1
    assert len(kim.delivered("Choose your language")) == 1  # never started over
    no_errors_logged(live, "Failed to fetch updates - %s: %s")


# -- 4. Telegram misbehaves ---------------------------------------------------------------------------


def misbehave(live: LiveBot, method: str) -> None:
    """The next calls of ``method`` fail: flood control (retry after 1 s), a server error, a dropped
    connection. Each fault fires before the call takes effect, as when Telegram refuses it."""
    live.world.inject(method, "429", times=1, retry_after=1)
    live.world.inject(method, "500", times=1)
    live.world.inject(method, "drop", times=1)


def failures(live: LiveBot, method: str) -> list[str]:
    return sorted(
        type(call.error).__name__ if call.error else "" for call in live.world.calls_of(method) if not call.ok
    )


async def test_every_message_arrives_once_through_flood_control_errors_and_drops(
    live: LiveBot, canaries: CanaryLedger
) -> None:
    _admin, (vera,) = await team(live, canaries, "volunteer")
    rita = person(live, 1004, "en", canaries)
    await walk_to_review(rita, canaries.plant())

    # Submitting sends the confirmation, cleans the chat and sends the triage cards, all by the outbox.
    misbehave(live, "sendMessage")
    misbehave(live, "getUpdates")
    code = await confirm(rita)
    await hygiene_done(rita)
    await vera.wait(lambda: card(vera, code))
    await vera.wait(lambda: not live.world.faults)  # every fault fired (polling ones included)
    assert failures(live, "sendMessage") == ["ApiError", "ApiError", "DroppedConnection"]

    # Claiming edits every card down to one line: through the same trouble on editMessageText.
    misbehave(live, "editMessageText")
    await vera.send(f"/claim {code}", until=lambda: vera.ever_received(vera.t("Request {code}").format(code=code)))
    taken = rita.t("A volunteer has taken your request {code}.").format(code=code)
    claimed = vera.t("{code} has been claimed by a volunteer.").format(code=code)
    await rita.wait(lambda: rita.ever_received(taken))
    await vera.wait(lambda: vera.ever_received(claimed))
    await vera.wait(lambda: not live.world.faults)
    assert failures(live, "editMessageText") == ["ApiError", "ApiError", "DroppedConnection"]

    # Three answers typed quickly while Telegram throttles, fails and drops: each arrives once.
    misbehave(live, "sendMessage")
    misbehave(live, "getUpdates")
    answers = [f"{canaries.plant()} answer {n}" for n in (1, 2, 3)]
    for text in answers:
        await vera.send(f"/reply {code} {text}", wait=False)
    await rita.wait(lambda: all(rita.ever_received(text) for text in answers))
    await vera.wait(lambda: not live.world.faults)

    for text in [*answers, rita.t("Your request is sent."), taken]:
        assert len(rita.delivered(text)) == 1, text
    assert len(vera.delivered(vera.t("New request {code}").format(code=code))) == 1
    assert len(vera.delivered(vera.t("Request {code}").format(code=code))) == 1
    assert len(vera.ever_received(claimed)) == 1
    no_errors_logged(live, "Failed to fetch updates - %s: %s")


# -- 4b. a volunteer works a case by buttons only ---------------------------------------------------------


async def test_a_volunteer_works_a_case_by_buttons_only(live: LiveBot, canaries: CanaryLedger) -> None:
    """Claim, Reply, Note, Transfer with a handover note; the transferee reads the conversation and closes with
    the goodbye: nothing typed but the texts themselves, every message confirmed with its case."""
    _admin, (vera, ivan) = await team(live, canaries, "volunteer", "volunteer")
    nina = person(live, 1006, "uk", canaries)
    await walk_to_review(nina, canaries.plant())
    code = await confirm(nina)
    first = f"{canaries.plant('cyrillic')} я на вокзалі"
    await nina.send(first)  # before anyone took it: it waits for whoever will

    await vera.wait(lambda: card(vera, code))
    heading = vera.t("Request {code}").format(code=code)
    triage = card(vera, code)
    assert triage is not None
    await vera.press("Claim", triage.message_id, until=lambda: vera.ever_received(heading))
    case = vera.ever_received(heading)[-1]
    assert case.protected and [vera.t(label) for label in ("Reply", "Canned")] == case.buttons[0][:2]
    await vera.wait(lambda: vera.ever_received(first))

    await vera.press("Reply", case.message_id, until=lambda: any(m.forces_reply for m in vera.visible()))
    asked = next(m for m in reversed(vera.visible()) if m.forces_reply)
    question = f"{canaries.plant()} are you safe?"
    sent = await vera.reply(asked.message_id, question, until=lambda: nina.ever_received(question))
    tick = f"→ {code} ✓"
    await vera.wait(lambda: any(m.text == tick and m.reply_to == sent.message_id for m in vera.visible()))

    await vera.press("Note", case.message_id, until=lambda: prompt(vera, "A private note on").forces_reply)
    note = canaries.plant()
    await vera.reply(
        prompt(vera, "A private note on").message_id,
        note,
        until=lambda: vera.last() == vera.t("Note saved (encrypted)."),
    )

    ivan_name = await live_pseudonym(ivan)
    await vera.press("Transfer", case.message_id, until=lambda: vera.can_press(ivan_name))
    await vera.press(ivan_name, translate=False, until=lambda: vera.can_press("Hand over without a note"))
    handover = f"{canaries.plant()} calls back after six"
    transferred = vera.t("{code} is now with {name}.").format(code=code, name=ivan_name)
    await vera.reply(prompt(vera, "A handover note on").message_id, handover, until=lambda: vera.last() == transferred)

    # The transferee: the note, the card with its buttons, the conversation so far.
    talk_heading = ivan.t("The conversation so far on {code}").format(code=code)
    await ivan.wait(lambda: ivan.ever_received(talk_heading))
    assert ivan.ever_received(handover) and ivan.ever_received(
        ivan.t("Transferred to you: request {code}").format(code=code)
    )
    (talk,) = ivan.ever_received(talk_heading)
    assert first in talk.text and question in talk.text and talk.protected
    told = nina.t("Your request is now with another volunteer, {name}.").format(
        name=nina.t("Volunteer {pseudonym}").format(pseudonym=ivan_name)
    )
    await nina.wait(lambda: nina.ever_received(told))
    # The former holder's chat holds nothing of it any more.
    await vera.wait(lambda: not [m for m in vera.visible() if question in m.text or first in m.text or note in m.text])

    card_ = ivan.ever_received(ivan.t("Transferred to you: request {code}").format(code=code))[-1]
    await ivan.press("Close", card_.message_id, until=lambda: ivan.t("Helped to leave") in ivan.buttons())
    await ivan.press("Helped to leave", until=lambda: ivan.t("Send and close") in ivan.buttons())
    await ivan.press(
        "Send and close", until=lambda: ivan.last().startswith(ivan.t("{code} is closed. Thank you.").format(code=code))
    )
    goodbye = nina.t("We are glad we could help you get out. Take care of yourself.")
    closed = nina.t("Your request {code} is closed.").format(code=code)
    await nina.wait(lambda: nina.ever_received(goodbye) and nina.ever_received(closed))
    assert nina.ever_received(goodbye)[-1].message_id < nina.ever_received(closed)[-1].message_id
    assert not live.world.forwards()
    no_errors_logged(live)


async def live_pseudonym(member: Person) -> str:
    """The pseudonym a member's welcome named (requesters see it)."""
    welcome = next(m.text for m in member.all_messages() if m.from_bot and "Requesters will see you as" in m.text)
    found = re.search(r"Requesters will see you as (.+?)\.", welcome)
    assert found is not None
    return found.group(1)


# -- 5. a stranger tries the operators' commands -------------------------------------------------------


async def test_a_stranger_gets_nothing_from_operator_commands(live: LiveBot, canaries: CanaryLedger) -> None:
    olga = person(live, 1005, "en", canaries)
    description = canaries.plant()
    await walk_to_review(olga, description)
    code = await confirm(olga)

    mallory = person(live, 3001, "en", canaries)
    commands = [
        "/queue",
        "/mine",
        f"/claim {code}",
        f"/show {code}",
        f"/release {code}",
        f"/reply {code} {canaries.plant()}",
        f"/note {code} {canaries.plant()}",
        f"/notes {code}",
        f"/close {code}",
        f"/reopen {code}",
        f"/inspect {code}",
        f"/block {code}",
        f"/transfer {code}",
        f"/flag {code}",
        f"/audit {code}",
        "/volunteers",
        "/invite volunteer",
        "/revoke",
        "/stats",
        f"/pseudonym {canaries.plant('pseudonym')}",
    ]
    for command in commands:
        sent = (await mallory.send(command)).message_id
        assert [m.text for m in mallory.bot_messages_after(sent)] == [mallory.t(UNKNOWN)], command

    # A Claim button forged onto one of the bot's messages in the stranger's chat.
    some_message = mallory.last_from_bot()
    assert some_message is not None
    forged = (await mallory.press_data(some_message.message_id, f"claim:{code}")).answer
    assert forged.text == mallory.t(STALE)
    forged_close = (await mallory.press_data(some_message.message_id, f"close:{code}:left")).answer
    assert forged_close.text == mallory.t(STALE)

    await live.wait_db(lambda: live.count("outbox", "failed_reason IS NULL") == 0)  # nothing left to send
    assert live.query("SELECT status, assignee_id FROM requests WHERE code = ?", code) == [("new", None)]
    assert olga.ever_received(olga.t("A volunteer has taken your request {code}.").format(code=code)) == []
    seen = [m.text for m in mallory.all_messages() if m.from_bot]
    assert seen == [mallory.t(UNKNOWN)] * len(commands)
    for text in [*seen, forged.text, forged_close.text]:
        for secret in (code, description, "Mobilised", "Abroad", "Internal passport", THIS_WEEK):
            assert secret not in (text or ""), (secret, text)
    no_errors_logged(live)


# -- 6. keys change while the bot runs ---------------------------------------------------------------


async def tropa_command(live: LiveBot, *args: str) -> tuple[int, str, str]:
    """``tropa`` in a second shell, on the same data and keyring as the running bot."""
    process = await asyncio.create_subprocess_exec(
        tropa_executable(),
        *args,
        env=live.process.env,
        cwd=live.process.cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return int(process.returncode or 0), out.decode(), err.decode()


async def test_keys_rotated_and_retired_from_a_second_shell_lose_nothing(live: LiveBot, canaries: CanaryLedger) -> None:
    """The operator rotates and retires keys while `tropa run` runs: the bot wraps the next request with the
    new key (never with the old one), and after a restart every request still opens."""
    _admin, (vera,) = await team(live, canaries, "volunteer")
    first, second = person(live, 1011, "en", canaries), person(live, 1012, "en", canaries)
    before, after = canaries.plant(), canaries.plant()
    await walk_to_review(first, before)
    first_code = await confirm(first)

    ((old,),) = live.query("SELECT value FROM meta WHERE key = 'kek.active'")
    status, out, err = await tropa_command(live, "keys", "rotate")
    assert status == 0 and f"Destroyed {old}" in out, (out, err)
    new = re.search(r"Active key is now ([0-9a-f]{8})", out)
    assert new is not None
    status, _, err = await tropa_command(live, "keys", "retire", old)
    assert status == 2 and "no key" in err  # rotate destroyed it already: nothing can be retired twice

    await walk_to_review(second, after)
    second_code = await confirm(second)
    wrapped_with = live.query(
        "SELECT data_keys.kek_id FROM data_keys JOIN requests ON requests.id = data_keys.owner_id WHERE code = ?",
        second_code,
    )
    assert wrapped_with == [(new.group(1),)]  # the running bot learned of the new key

    await live.process.stop()
    await live.process.start()  # it starts: the keyring holds every key that wraps data
    for code, description in ((first_code, before), (second_code, after)):
        heading = vera.t("Request {code}").format(code=code)
        await vera.send(f"/claim {code}", until=functools.partial(vera.ever_received, heading))
        (full,) = vera.ever_received(heading)
        assert description in full.text
    no_errors_logged(live)


# -- the canary scan ------------------------------------------------------------------------------------


def test_the_scanner_finds_canaries_in_every_form() -> None:
    """The scan below is only as good as its search: prove it sees each encoding it claims to."""
    latin, cyrillic = "canary-0123abcd", "Канарейка-0123abcd-щит"
    for text in (latin, cyrillic):
        for data in (
            text.encode(),
            text.upper().encode(),
            text.encode("utf-16-le"),
            b"\x00" + text.encode("utf-16-be"),
            json.dumps(text).encode(),  # \u041a\u0430... as a JSON log line writes it
            json.dumps(text.upper()).encode(),
        ):
            assert find_canaries(b"\x01junk" + data + b"junk\xff", [text]) == [text], data
    assert find_canaries("nothing here".encode("utf-16-le"), [latin, cyrillic]) == []


def test_no_canary_reached_the_data_files_or_the_log(canaries: CanaryLedger) -> None:
    """Runs last: every scenario above planted canaries; none may appear in any data file, database dump
    or captured log of any run."""
    if not canaries.scenarios:
        pytest.skip("no scenario ran in this session; the scan needs their data and logs")
    files = canaries.files()
    logs = [path for path in files if path.suffix == ".err"]
    assert logs and all(path.stat().st_size > 0 for path in logs), "the bot's log was not captured"
    assert any(path.name == "tropa.db" for path in files), "no SQLite file to scan"
    assert canaries.canaries, "no scenario planted a canary"
    leaks = canaries.scan()
    assert not leaks, leaks
